# The textbook's UDPServer.py (Kurose & Ross, section 2.7.1), as printed, except that it binds
# the loopback address on a port the system picks and prints that port, so tests can find it.
from socket import *

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', 0))
serverPort = serverSocket.getsockname()[1]
print("The server is ready to receive on port", serverPort, flush=True)
while True:
    message, clientAddress = serverSocket.recvfrom(2048)
    modifiedMessage = message.decode().upper()
    serverSocket.sendto(modifiedMessage.encode(), clientAddress)
