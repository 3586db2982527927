"""A QUIC client that stops in the middle of its handshake: it answers the server's Retry,
takes the server's first flight, and sends nothing more (no Finished), holding the
handshake open as a slow or hostile client would.

    quic_stall.py HOST PORT

prints `stalled` once the server's flight has come, then waits to be killed.
"""

import socket
import ssl
import sys
import time

from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection


def main(host, port):
    config = QuicConfiguration(is_client=True, alpn_protocols=["upcase"],
                               server_name="localhost", verify_mode=ssl.CERT_NONE)
    connection = QuicConnection(configuration=config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(10)

    def send():
        for data, addr in connection.datagrams_to_send(now=time.time()):
            sock.sendto(data, addr)

    connection.connect((host, port), now=time.time())
    send()
    # The server's Retry: answered, with its token.
    data, addr = sock.recvfrom(65536)
    connection.receive_datagram(data, addr, now=time.time())
    send()
    # The server's first flight: taken, and not answered.
    data, addr = sock.recvfrom(65536)
    connection.receive_datagram(data, addr, now=time.time())
    print("stalled", flush=True)
    time.sleep(60)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
