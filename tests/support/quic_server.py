"""An independent QUIC server of the textbook's protocol, on aioquic: each stream's bytes
answered upper-cased as they come, its FIN answered with the server's own. ALPN `upcase`.

    quic_server.py PORT CERT KEY

prints `ready` once it listens on 127.0.0.1:PORT (UDP).
"""

import asyncio
import sys

from aioquic.asyncio import serve
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import StreamDataReceived


class Upper(QuicConnectionProtocol):
    def quic_event_received(self, event):
        if isinstance(event, StreamDataReceived):
            self._quic.send_stream_data(event.stream_id, event.data.upper(),
                                        end_stream=event.end_stream)
            self.transmit()


async def main(port, cert, key):
    config = QuicConfiguration(is_client=False, alpn_protocols=["upcase"])
    config.load_cert_chain(cert, key)
    await serve("127.0.0.1", port, configuration=config, create_protocol=Upper)
    print("ready", flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
