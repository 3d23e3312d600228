#!/usr/bin/python3
"""Interop: Debian's python3-websockets (10.4) client against the switchboard daemon.

Every test talks to a real daemon (tests/support/sbtest.py starts it on a free loopback port) over
a real socket, through /echo, which must echo each message with its opcode.

Run all:   /usr/bin/python3 tests/interop/python_websockets_test.py
Run one:   /usr/bin/python3 tests/interop/python_websockets_test.py CloseTest.test_close_3000
Binary:    SWITCHBOARD_BIN=/path/to/switchboard (default build/bin/switchboard)
"""
import asyncio
import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import sbtest  # noqa: E402

import websockets  # noqa: E402
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK  # noqa: E402
from websockets.frames import Opcode  # noqa: E402

TEST_TIMEOUT = 30.0  # seconds, per test
RECV_TIMEOUT = 10.0  # seconds to wait for one echoed message
FILE_BUDGET = 240.0  # seconds: past this, remaining tests fail at once (CTest kills at 300)
STARTED = time.monotonic()
SIZES = (0, 1, 125, 126, 65535, 65536, 1 << 20)


def make_text(n, seed=0):
    """A str whose UTF-8 encoding is exactly n bytes, mixing 1- to 4-byte characters."""
    cycle = ("a", "\u00e9", "\u20ac", "\U0001F600", "Z", "0", " ")
    out, total, i = [], 0, seed
    while total < n:
        c = cycle[i % len(cycle)]
        b = len(c.encode("utf-8"))
        if total + b > n:
            c, b = "x", 1
        out.append(c)
        total += b
        i += 1
    s = "".join(out)
    assert len(s.encode("utf-8")) == n
    return s


def make_bytes(n, seed=0):
    return random.Random(seed * 1000003 + n).randbytes(n)


def describe(value):
    """Short description of a message for failure output."""
    if isinstance(value, (bytes, bytearray)):
        return f"binary {len(value)} bytes"
    if isinstance(value, str):
        return f"text {len(value.encode('utf-8'))} bytes"
    return repr(value)


class DaemonTestCase(unittest.TestCase):
    """One daemon per class; a test during which the daemon dies fails, and the next test gets a
    fresh daemon."""

    compression = None  # connect() default here: no permessage-deflate offer
    daemon = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = sbtest.Daemon().start()

    @classmethod
    def tearDownClass(cls):
        if cls.daemon is not None:
            cls.daemon.stop()

    def setUp(self):
        if self.daemon.proc.poll() is not None:
            type(self).daemon = sbtest.Daemon().start()

    def tearDown(self):
        code = self.daemon.proc.poll()
        if code is not None:
            self.fail(f"the daemon exited with code {code} during this test")

    def connect(self, path="/echo", **kw):
        kw.setdefault("compression", self.compression)
        kw.setdefault("max_size", 4 << 20)
        kw.setdefault("ping_interval", None)  # no keepalive pings of the library's own
        kw.setdefault("open_timeout", 10)
        kw.setdefault("close_timeout", 5)
        return websockets.connect(self.daemon.url(path), **kw)

    def run_async(self, coro):
        if time.monotonic() - STARTED > FILE_BUDGET:
            coro.close()
            self.fail(f"not run: earlier tests used up this file's {FILE_BUDGET:.0f} s budget")
        return asyncio.run(asyncio.wait_for(coro, TEST_TIMEOUT))

    async def recv(self, ws, what="echo"):
        try:
            return await asyncio.wait_for(ws.recv(), RECV_TIMEOUT)
        except asyncio.TimeoutError:
            self.fail(f"{what}: nothing received within {RECV_TIMEOUT:.0f} s")
        except ConnectionClosed as exc:
            self.fail(f"{what}: the connection closed instead of an answer: {exc}")

    def assert_message(self, got, expected, what):
        self.assertIs(type(got), type(expected),
                      f"{what}: sent {describe(expected)}, got back {describe(got)} (opcode changed)")
        if got != expected:
            detail = ""
            if len(got) == len(expected):
                first = next(i for i in range(len(got)) if got[i] != expected[i])
                unit = "character" if isinstance(got, str) else "byte"
                detail = f", first difference at {unit} {first}"
            self.fail(f"{what}: sent {describe(expected)}, got back {describe(got)} with different "
                      f"content{detail}")


def _echo_test(kind, size):
    def test(self):
        payload = make_text(size) if kind == "text" else make_bytes(size)

        async def body():
            async with self.connect() as ws:
                await ws.send(payload)
                got = await self.recv(ws, f"{kind} echo of {size} bytes")
                self.assert_message(got, payload, f"{kind} echo of {size} bytes")
                # A second message on the same connection: the codec state is reset properly.
                await ws.send(payload)
                self.assert_message(await self.recv(ws, f"second {kind} echo of {size} bytes"), payload,
                                    f"second {kind} echo of {size} bytes")

        self.run_async(body())

    test.__doc__ = f"{kind} message of {size} bytes echoes back unchanged, as {kind}"
    return test


class EchoTest(DaemonTestCase):
    """Text and binary echo over a connection that offers no extension (exact frame sizes hit
    the 7-bit, 16-bit and 64-bit payload length encodings)."""


class EchoDeflateOfferedTest(DaemonTestCase):
    """The same echo with websockets' default offer of permessage-deflate (the daemon may accept
    or decline it; either way every message must echo unchanged)."""

    compression = "deflate"

    def test_handshake_extension_is_valid(self):
        async def body():
            async with self.connect() as ws:
                ext = ws.response_headers.get("Sec-WebSocket-Extensions")
                names = [e.name for e in ws.extensions]
                if ext is not None:
                    self.assertEqual(names, ["permessage-deflate"],
                                     f"server answered Sec-WebSocket-Extensions: {ext!r}")
                await ws.send("ok?")
                self.assertEqual(await self.recv(ws), "ok?")

        self.run_async(body())


for _size in SIZES:
    for _kind in ("text", "binary"):
        for _cls in (EchoTest, EchoDeflateOfferedTest):
            setattr(_cls, f"test_{_kind}_echo_{_size}", _echo_test(_kind, _size))
del _size, _kind, _cls  # a TestCase class left in a module global would be loaded twice


class FragmentationTest(DaemonTestCase):
    def test_fragmented_text(self):
        """A text message sent as fragments (async iterator) comes back as one text message."""
        pieces = ["Hel", "lo, ", "w\u00f6rld ", "\u20ac\U0001F600", "", make_text(70000, 3), "!"]

        async def fragments():
            for p in pieces:
                yield p

        async def body():
            async with self.connect() as ws:
                await ws.send(fragments())
                self.assert_message(await self.recv(ws), "".join(pieces), "fragmented text")

        self.run_async(body())

    def test_fragmented_binary(self):
        """A binary message sent as fragments (async iterator) comes back as one binary message."""
        pieces = [make_bytes(n, i) for i, n in enumerate((1, 0, 125, 126, 65536, 3))]

        async def fragments():
            for p in pieces:
                yield p

        async def body():
            async with self.connect() as ws:
                await ws.send(fragments())
                self.assert_message(await self.recv(ws), b"".join(pieces), "fragmented binary")

        self.run_async(body())

    def test_fragmented_text_with_utf8_split_across_frames(self):
        """A 2-byte and a 4-byte character split between frames is still valid text (RFC 6455
        checks UTF-8 over the whole message)."""
        async def body():
            async with self.connect() as ws:
                await ws.write_frame(False, Opcode.TEXT, "caf".encode() + b"\xc3")
                await ws.write_frame(False, Opcode.CONT, b"\xa9 \xf0\x9f")
                await ws.write_frame(True, Opcode.CONT, b"\x98\x80 end")
                self.assert_message(await self.recv(ws), "caf\u00e9 \U0001F600 end",
                                    "text split inside characters")

        self.run_async(body())

    def test_ping_between_fragments(self):
        """A ping between two fragments of a message is answered, and the message still echoes."""
        waiters = []

        async def body():
            async with self.connect() as ws:
                async def fragments():
                    yield "first half, "
                    waiters.append(await ws.ping(b"mid-message"))
                    yield "second half"

                await ws.send(fragments())
                await asyncio.wait_for(waiters[0], 10)
                self.assert_message(await self.recv(ws), "first half, second half",
                                    "message with a ping between fragments")

        self.run_async(body())

    def test_messages_after_fragmented_message(self):
        """Fragmented and whole messages alternate on one connection, each echoed as itself."""
        async def body():
            async with self.connect() as ws:
                for i in range(5):
                    async def fragments(i=i):
                        yield f"frag{i}-a "
                        yield f"frag{i}-b"
                    await ws.send(fragments())
                    await ws.send(make_bytes(10, i))
                    self.assert_message(await self.recv(ws), f"frag{i}-a frag{i}-b", f"round {i} fragmented")
                    self.assert_message(await self.recv(ws), make_bytes(10, i), f"round {i} whole")

        self.run_async(body())


class PingTest(DaemonTestCase):
    def _ping(self, payload):
        async def body():
            async with self.connect() as ws:
                waiter = await ws.ping(payload)
                try:
                    # websockets resolves the waiter only for a pong carrying the ping's payload.
                    await asyncio.wait_for(waiter, 10)
                except asyncio.TimeoutError:
                    self.fail(f"no pong with the payload of ping {payload!r} within 10 s")
                await ws.send("after ping")
                self.assertEqual(await self.recv(ws), "after ping")

        self.run_async(body())

    def test_ping_empty(self):
        self._ping(b"")

    def test_ping_payload(self):
        self._ping(b"hello switchboard")

    def test_ping_125_bytes(self):
        self._ping(make_bytes(125, 7))

    def test_ping_random_default(self):
        self._ping(None)  # the library picks 4 random bytes

    def test_many_pings(self):
        """Ten pings in a row each get their pong."""
        async def body():
            async with self.connect() as ws:
                waiters = [await ws.ping(f"ping {i}".encode()) for i in range(10)]
                await asyncio.wait_for(asyncio.gather(*waiters), 10)

        self.run_async(body())


class CloseTest(DaemonTestCase):
    def _close(self, code, reason):
        async def body():
            async with self.connect() as ws:
                await ws.send("before close")
                self.assertEqual(await self.recv(ws), "before close")
                started = time.monotonic()
                await ws.close(code=code, reason=reason)
                elapsed = time.monotonic() - started
                self.assertIsNotNone(ws.close_rcvd,
                                     f"closed with {code}: the server sent no close frame within "
                                     f"{ws.close_timeout} s (close_code {ws.close_code})")
                self.assertEqual(ws.close_code, code,
                                 f"closed with {code} {reason!r}: server's close frame had code "
                                 f"{ws.close_code} reason {ws.close_reason!r}")
                self.assertLess(elapsed, 4.0, "closing handshake was slow")
                with self.assertRaises(ConnectionClosed) as cm:
                    await asyncio.wait_for(ws.recv(), RECV_TIMEOUT)
                exc = cm.exception
                self.assertEqual(exc.sent.code, code)
                self.assertEqual(exc.rcvd.code, code)
                self.assertFalse(exc.rcvd_then_sent, "the client closed first")
                if code in (1000, 1001):
                    self.assertIsInstance(exc, ConnectionClosedOK)

        self.run_async(body())

    def test_close_1000(self):
        self._close(1000, "normal closure")

    def test_close_3000(self):
        self._close(3000, "registered app code")

    def test_close_4999(self):
        self._close(4999, "private code \u00e9")

    def test_close_no_status(self):
        """A close frame with no status code: the peer must not answer with one on the wire
        (1005 is never sent), so websockets reports 1005."""
        async def body():
            async with self.connect() as ws:
                await ws.write_close_frame(websockets.frames.Close(1005, ""), b"")
                await asyncio.wait_for(ws.wait_closed(), 10)
                self.assertIsNotNone(ws.close_rcvd, "the server sent no close frame")
                self.assertIn(ws.close_code, (1000, 1005),
                              f"answer to an empty close frame had code {ws.close_code}")

        self.run_async(body())


class ServerCloseTest(DaemonTestCase):
    def test_server_close_on_shutdown(self):
        """SIGTERM to the daemon: an open client sees a close frame with 1001 (going away), and
        the daemon exits."""
        async def body():
            with sbtest.Daemon() as d:
                ws = await websockets.connect(d.url("/echo"), compression=None, ping_interval=None,
                                              open_timeout=10, close_timeout=5)
                try:
                    await ws.send("hello")
                    self.assertEqual(await self.recv(ws), "hello")
                    d.proc.terminate()
                    with self.assertRaises(ConnectionClosed) as cm:
                        await asyncio.wait_for(ws.recv(), 10)
                    exc = cm.exception
                    self.assertIsNotNone(exc.rcvd, f"no close frame from the server on shutdown ({exc})")
                    self.assertEqual(exc.rcvd.code, 1001, f"server's close on shutdown: {exc}")
                    self.assertTrue(exc.rcvd_then_sent, "the server closed first")
                    self.assertIsInstance(exc, ConnectionClosedOK)
                finally:
                    await ws.close()
                loop = asyncio.get_running_loop()
                code = await loop.run_in_executor(None, lambda: d.proc.wait(10))
                self.assertIsNotNone(code)

        self.run_async(body())

    def test_server_close_on_invalid_utf8(self):
        """Invalid UTF-8 in a text message: the server closes with 1007."""
        async def body():
            async with self.connect() as ws:
                await ws.write_frame(True, Opcode.TEXT, b"bad \xff\xfe text")
                with self.assertRaises(ConnectionClosed) as cm:
                    await asyncio.wait_for(ws.recv(), 10)
                exc = cm.exception
                self.assertIsNotNone(exc.rcvd, f"no close frame after invalid UTF-8 ({exc})")
                self.assertEqual(exc.rcvd.code, 1007, f"close after invalid UTF-8: {exc}")

        self.run_async(body())


class ManyMessagesTest(DaemonTestCase):
    def test_1000_sequential_round_trips(self):
        """1,000 send/receive round trips, each answer checked before the next send."""
        async def body():
            async with self.connect() as ws:
                for i in range(1000):
                    msg = f"message {i}" if i % 2 == 0 else f"binary {i}".encode()
                    await ws.send(msg)
                    self.assert_message(await self.recv(ws), msg, f"round trip {i}")

        self.run_async(body())

    def test_1000_pipelined_in_order(self):
        """1,000 messages sent without waiting come back complete and in order."""
        msgs = [f"msg {i} " + "x" * (i % 300) if i % 3 else make_bytes(i % 500, i) for i in range(1000)]

        async def body():
            async with self.connect() as ws:
                async def sender():
                    for m in msgs:
                        await ws.send(m)

                async def receiver():
                    for i, m in enumerate(msgs):
                        self.assert_message(await self.recv(ws), m, f"pipelined message {i}")

                await asyncio.gather(sender(), receiver())

        self.run_async(body())

    def test_concurrent_clients(self):
        """Ten clients, 100 messages each at once: each gets exactly its own messages, in order."""
        async def client(n):
            async with self.connect() as ws:
                msgs = [f"client {n} message {i}" for i in range(100)]
                for m in msgs:
                    await ws.send(m)
                for i, m in enumerate(msgs):
                    self.assert_message(await self.recv(ws), m, f"client {n} message {i}")

        async def body():
            await asyncio.gather(*(client(n) for n in range(10)))

        self.run_async(body())


class CountingResult(unittest.TextTestResult):
    """Counts passes, so the last line can say "N passed, N failed"."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


if __name__ == "__main__":
    runner = unittest.TextTestRunner(verbosity=2, resultclass=CountingResult)
    r = unittest.main(exit=False, testRunner=runner).result
    # A failed setUpClass (e.g. the daemon did not start) is one error for its whole class.
    failed = len(r.failures) + len(r.errors) + len(r.unexpectedSuccesses)
    sys.stderr.flush()
    print(f"{r.passed} passed, {failed} failed", flush=True)
    sys.exit(0 if failed == 0 and r.passed > 0 else 1)
