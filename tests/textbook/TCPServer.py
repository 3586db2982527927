# The textbook's TCPServer.py (Kurose & Ross, section 2.7.2), as printed, except that it binds
# the loopback address on a port the system picks and prints that port, so tests can find it.
# One recv(1024), one send, close: one connection at a time.
from socket import *

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', 0))
serverSocket.listen(1)
serverPort = serverSocket.getsockname()[1]
print('The server is ready to receive on port', serverPort, flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()
    sentence = connectionSocket.recv(1024).decode()
    capitalizedSentence = sentence.upper()
    connectionSocket.send(capitalizedSentence.encode())
    connectionSocket.close()
