"""An independent QUIC client of the textbook's protocol, on aioquic: one connection, one
bidirectional stream per message, all at once; each stream's request ends with its FIN.

    quic_client.py HOST PORT CAFILE COUNT [ALPN]

prints one JSON object: the ALPN agreed and the replies in the order of the messages
(`stream N straße`, N from 0). Exits 1, saying why on stderr, when the connection fails.
"""

import asyncio
import json
import sys

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, StreamDataReceived


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.replies = {}
        self.waiting = {}

    def quic_event_received(self, event):
        if isinstance(event, StreamDataReceived):
            self.replies.setdefault(event.stream_id, bytearray()).extend(event.data)
            if event.end_stream:
                self.waiting.pop(event.stream_id).set_result(bytes(self.replies[event.stream_id]))
        elif isinstance(event, ConnectionTerminated):
            for waiter in self.waiting.values():
                waiter.set_exception(ConnectionError(event.reason_phrase))

    async def exchange(self, message):
        stream = self._quic.get_next_available_stream_id()
        self.waiting[stream] = asyncio.get_running_loop().create_future()
        self._quic.send_stream_data(stream, message, end_stream=True)
        self.transmit()
        return await self.waiting[stream]


async def main(host, port, cafile, count, alpn):
    config = QuicConfiguration(is_client=True, alpn_protocols=[alpn], server_name="localhost")
    config.load_verify_locations(cafile)
    async with connect(host, port, configuration=config, create_protocol=Client,
                       wait_connected=True) as client:
        messages = [f"stream {i} straße".encode() for i in range(count)]
        replies = await asyncio.wait_for(
            asyncio.gather(*(client.exchange(m) for m in messages)), 30)
        print(json.dumps({"alpn": client._quic.tls.alpn_negotiated,
                          "replies": [r.decode() for r in replies]}))


if __name__ == "__main__":
    alpn = sys.argv[5] if len(sys.argv) > 5 else "upcase"
    try:
        asyncio.run(asyncio.wait_for(
            main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), alpn), 40))
    except Exception as error:  # noqa: BLE001 (any failure is the test's to report)
        sys.exit(f"quic_client.py: {type(error).__name__}: {error}")
