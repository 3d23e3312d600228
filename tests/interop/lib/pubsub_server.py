#!/usr/bin/python3
"""A python3-websockets "pub/sub" server for tests/interop/client_test.py (the reconnect test).

    /usr/bin/python3 lib/pubsub_server.py PORT LOGFILE

A client that sends `subscribe:NAME` gets `published:NAME:<n>` (n = 0, 1, 2, ...) every 100 ms
until it goes away. Each subscription is appended to LOGFILE as a line `NAME` (flushed at once),
so the test can see what every server instance was asked. Prints `listening PORT` on stdout
when ready. Stops on SIGTERM; the test also SIGKILLs it to cut connections without a close.
"""
import asyncio
import signal
import sys

import websockets


async def main(port, log_path):
    log = open(log_path, "a", buffering=1)

    async def handler(ws, path=None):
        publishers = []
        try:
            async for msg in ws:
                if isinstance(msg, str) and msg.startswith("subscribe:"):
                    name = msg[len("subscribe:"):]
                    log.write(name + "\n")
                    log.flush()

                    async def publish(name=name):
                        n = 0
                        while True:
                            await ws.send(f"published:{name}:{n}")
                            n += 1
                            await asyncio.sleep(0.1)

                    publishers.append(asyncio.ensure_future(publish()))
        except websockets.ConnectionClosed:
            pass
        finally:
            for p in publishers:
                p.cancel()

    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with websockets.serve(handler, "127.0.0.1", port, compression=None, ping_interval=None):
        print(f"listening {port}", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
