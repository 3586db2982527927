"""Writes COUNT QUIC Initial packets, as a client's first flight, each for a connection of its
own (a new connection ID), ALPN `upcase`, made by aioquic without any network:

    quic_initials.py COUNT FILE

FILE holds each datagram after its length (two bytes, big-endian), for a test to forge from
addresses of its choosing.
"""

import sys
import time

from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection


def main(count, path):
    with open(path, "wb") as out:
        for _ in range(count):
            config = QuicConfiguration(is_client=True, alpn_protocols=["upcase"],
                                       server_name="localhost")
            connection = QuicConnection(configuration=config)
            now = time.time()
            connection.connect(("127.0.0.1", 4433), now=now)
            data, _addr = connection.datagrams_to_send(now=now)[0]
            out.write(len(data).to_bytes(2, "big") + data)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
