# The textbook's TCPClient.py (Kurose & Ross, section 2.7.2), as printed, except that the
# server's name and port come from the command line. It sends the sentence with no newline and
# prints what one recv(1024) returns.
import sys
from socket import *

serverName = sys.argv[1]
serverPort = int(sys.argv[2])
clientSocket = socket(AF_INET6 if ':' in serverName else AF_INET, SOCK_STREAM)
clientSocket.connect((serverName, serverPort))
sentence = input('Input lowercase sentence:')
clientSocket.send(sentence.encode())
modifiedSentence = clientSocket.recv(1024)
print('From Server: ', modifiedSentence.decode())
clientSocket.close()
