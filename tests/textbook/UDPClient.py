# The textbook's UDPClient.py (Kurose & Ross, section 2.7.1), as printed, except that the
# server's name and port come from the command line so that tests can point it at a server.
import sys
from socket import *

serverName = sys.argv[1]
serverPort = int(sys.argv[2])
clientSocket = socket(AF_INET6 if ':' in serverName else AF_INET, SOCK_DGRAM)
message = input('Input lowercase sentence:')
clientSocket.sendto(message.encode(), (serverName, serverPort))
modifiedMessage, serverAddress = clientSocket.recvfrom(2048)
print(modifiedMessage.decode())
clientSocket.close()
