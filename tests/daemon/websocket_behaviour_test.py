#!/usr/bin/python3
"""WebSocket behaviour of the switchboard daemon over time and under load: heartbeats, the idle
timeout, SIGTERM shutdown, the slow-consumer policies (measured), the slow-consumer close code and
the message size limit.

Run all:   /usr/bin/python3 tests/daemon/websocket_behaviour_test.py
Run one:   /usr/bin/python3 tests/daemon/websocket_behaviour_test.py SlowConsumerTest
Binary:    SWITCHBOARD_BIN=/path/to/switchboard (default build/bin/switchboard)
"""
import asyncio
import signal
import socket
import struct
import threading
import time

import dtest
from dtest import RawWS, WSClosed, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_CONT

import websockets  # python3-websockets 10.4 (Debian)

Daemon = dtest.sbtest.Daemon


# --------------------------------------------------------------------------- heartbeat

class HeartbeatTest(dtest.BoundedTestCase):
    ARGS = ["--heartbeat-interval-ms", "500", "--heartbeat-timeout-ms", "1000"]

    def test_answering_client_kept_and_pinged(self):
        with Daemon(self.ARGS) as d, RawWS(d.port, "/echo") as ws:
            t0 = time.monotonic()
            pings = []
            while time.monotonic() - t0 < 3.0:
                try:
                    fin, op, payload = ws.recv_frame(deadline=t0 + 3.0)
                except socket.timeout:
                    break
                except WSClosed as e:
                    self.fail(f"connection ended after {time.monotonic() - t0:.2f} s "
                              f"although every ping was answered: {e}")
                self.assertNotEqual(op, OP_CLOSE, f"close frame after {time.monotonic() - t0:.2f} s")
                if op == OP_PING:
                    pings.append(time.monotonic() - t0)
                    ws.send(OP_PONG, payload)
            gaps = [b - a for a, b in zip(pings, pings[1:])]
            print(f"\n    pings at {[round(p, 2) for p in pings]}", end=" ")
            self.assertGreaterEqual(len(pings), 4, f"only {len(pings)} pings in 3 s: {pings}")
            self.assertLessEqual(len(pings), 8, f"{len(pings)} pings in 3 s: {pings}")
            self.assertLess(pings[0], 1.0, "first ping late")
            for g in gaps:
                self.assertGreater(g, 0.3, f"pings too close: {pings}")
                self.assertLess(g, 1.0, f"pings too far apart: {pings}")
            # still open and serving
            ws.send_text("still here")
            self.assertEqual(ws.recv_message(timeout=3), (OP_TEXT, b"still here"))

    def test_silent_client_disconnected(self):
        with Daemon(self.ARGS) as d, RawWS(d.port, "/echo") as ws:
            t0 = time.monotonic()
            deadline = t0 + 0.5 + 1.0 + 1.0  # interval + timeout + 1 s
            pings = 0
            ended = None
            while True:
                try:
                    fin, op, payload = ws.recv_frame(deadline=deadline)
                except socket.timeout:
                    break
                except WSClosed:
                    ended = time.monotonic() - t0
                    break
                if op == OP_PING:
                    pings += 1  # never answered
            self.assertIsNotNone(ended, "a client that never answers pings was still connected "
                                        f"{deadline - t0:.1f} s after connecting")
            print(f"\n    disconnected after {ended:.2f} s, {pings} ping(s) seen", end=" ")
            self.assertGreaterEqual(pings, 1, "disconnected without ever being pinged")
            self.assertGreater(ended, 1.0, "disconnected before the pong timeout could pass")
            doc = dtest.wait_until(lambda: (lambda s: s if s["websockets_open"] == 0 else None)(
                dtest.status_json(d.port)), 2.0)
            self.assertIsNotNone(doc, "websockets_open did not return to 0")


# --------------------------------------------------------------------------- idle timeout

class IdleTimeoutTest(dtest.BoundedTestCase):
    ARGS = ["--idle-timeout-ms", "1000"]

    def test_silent_client_closed_1001(self):
        with Daemon(self.ARGS) as d, RawWS(d.port, "/echo") as ws:
            t0 = time.monotonic()
            code, reason, _ = ws.expect_close(timeout=4.0)
            waited = time.monotonic() - t0
            print(f"\n    close {code} {reason!r} after {waited:.2f} s", end=" ")
            self.assertEqual(code, 1001)
            self.assertLessEqual(waited, 2.0, f"idle close came after {waited:.2f} s")
            self.assertGreaterEqual(waited, 0.75, f"idle close came early ({waited:.2f} s)")
            ws.send_close(1001)
            ws.wait_eof(timeout=4.0)

    def test_active_client_not_closed(self):
        with Daemon(self.ARGS) as d, RawWS(d.port, "/echo") as ws:
            t0 = time.monotonic()
            i = 0
            while time.monotonic() - t0 < 3.2:
                msg = f"tick {i}".encode()
                ws.send_text(msg)
                try:
                    op, payload = ws.recv_message(timeout=2.0)
                except WSClosed as e:
                    self.fail(f"active client lost its connection after "
                              f"{time.monotonic() - t0:.2f} s: {e}")
                self.assertEqual(payload, msg)
                i += 1
                time.sleep(0.3)
            self.assertGreaterEqual(i, 8)


# --------------------------------------------------------------------------- shutdown

class ShutdownTest(dtest.BoundedTestCase):
    def test_sigterm_closes_clients_1001_and_exits_0(self):
        d = Daemon([])
        d.start()
        try:
            async def scenario():
                clients = [await websockets.connect(d.url(p), close_timeout=5)
                           for p in ("/echo", "/echo", "/broadcast")]
                for i, c in enumerate(clients):
                    await c.send(f"hello {i}")
                    self.assertEqual(await asyncio.wait_for(c.recv(), 5), f"hello {i}")
                t0 = time.monotonic()
                d.proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(asyncio.gather(*(c.wait_closed() for c in clients)), 5)
                return [(c.close_code, c.close_reason) for c in clients], time.monotonic() - t0

            closes, closed_after = asyncio.run(scenario())
            t0 = time.monotonic()
            try:
                rc = d.proc.wait(timeout=3.0)
            except Exception:
                self.fail("daemon still running 3 s after SIGTERM (after its clients closed)")
            exited_after = closed_after + time.monotonic() - t0
            print(f"\n    closes {closes}; clients closed after {closed_after:.2f} s, "
                  f"exit {rc} after ~{exited_after:.2f} s", end=" ")
            for code, reason in closes:
                self.assertEqual(code, 1001, f"close codes: {closes}")
            self.assertEqual(rc, 0)
            self.assertLess(exited_after, 3.0)
        finally:
            if d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait()

    def test_sigterm_with_unresponsive_client_exits_in_time(self):
        # a raw client that never answers the close handshake: the daemon still exits, 0, < 3 s
        d = Daemon([])
        d.start()
        try:
            ws = RawWS(d.port, "/echo")
            ws.send_text("hi")
            self.assertEqual(ws.recv_message(), (OP_TEXT, b"hi"))
            t0 = time.monotonic()
            d.proc.send_signal(signal.SIGTERM)
            code, _, _ = ws.expect_close(timeout=3)
            self.assertEqual(code, 1001)
            try:
                rc = d.proc.wait(timeout=3.0)
            except Exception:
                self.fail("daemon still running 3 s after SIGTERM")
            print(f"\n    exit {rc} after {time.monotonic() - t0:.2f} s", end=" ")
            self.assertEqual(rc, 0)
            ws.close()
        finally:
            if d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait()

    def test_sigint_exits_0(self):
        d = Daemon([])
        d.start()
        try:
            with RawWS(d.port, "/echo") as ws:
                d.proc.send_signal(signal.SIGINT)
                code, _, _ = ws.expect_close(timeout=3)
                self.assertEqual(code, 1001)
                ws.send_close(1001)
                self.assertEqual(d.proc.wait(timeout=3.0), 0)
        finally:
            if d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait()


# --------------------------------------------------------------------------- max message size

class MaxMessageSizeTest(dtest.BoundedTestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(["--max-message-size", "1000"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def test_at_limit_echoed(self):
        with RawWS(self.daemon.port) as ws:
            ws.send(OP_BINARY, b"\xab" * 1000)
            self.assertEqual(ws.recv_message(), (OP_BINARY, b"\xab" * 1000))
            ws.send_text("x" * 1000)
            self.assertEqual(ws.recv_message(), (OP_TEXT, b"x" * 1000))

    def test_over_limit_closed_1009(self):
        with RawWS(self.daemon.port) as ws:
            ws.send_text("y" * 1001)
            code, _, _ = ws.expect_close()
            self.assertEqual(code, 1009)
            ws.send_close(1009)
            ws.wait_eof(timeout=5)

    def test_over_limit_fragmented_closed_1009(self):
        with RawWS(self.daemon.port) as ws:
            ws.send(OP_BINARY, b"a" * 600, fin=False)
            ws.send(OP_CONT, b"b" * 401, fin=True)
            code, _, _ = ws.expect_close()
            self.assertEqual(code, 1009)


# --------------------------------------------------------------------------- slow consumer

N_MESSAGES = 3000
MSG_SIZE = 1024
N_READERS = 5
BATCH = 10          # messages per send() of the publisher
BATCH_PAUSE = 0.002  # seconds between batches: ~5000 messages/s at most
# The stalled client: a 4 KiB receive buffer and a 536-byte MSS, both set before connect. The MSS
# matters on loopback: with the default 64 KiB MSS the server's kernel autotunes that socket's
# send buffer to ~4 MB (net.ipv4.tcp_wmem max) and swallows ~2.7 MB of the 3 MB published before
# the daemon's own queue (max_backpressure) sees anything; with 536 the kernel holds ~100 KB and
# the policy under test decides after a few hundred messages.
STALL_SOCKET = {"rcvbuf": 4096, "mss": 536}
FILLER = bytes((i * 31 + 7) % 251 for i in range(MSG_SIZE - 16))


def make_message(seq):
    return struct.pack("!Id", seq, time.monotonic()) + FILLER + struct.pack("!I", seq)


class FrameStream:
    """Fast parser of the server's unmasked frames from a raw socket."""

    def __init__(self, sock, leftover=b""):
        self.sock = sock
        self.buf = bytearray(leftover)
        self.eof = None  # None, "eof" or "reset"

    def frames(self, deadline):
        """Yields (opcode, payload, recv_time) until EOF; raises socket.timeout at deadline."""
        pos = 0
        t = time.monotonic()
        while True:
            buf = self.buf
            while True:
                avail = len(buf) - pos
                if avail < 2:
                    break
                b1 = buf[pos + 1] & 0x7F
                if b1 == 126:
                    if avail < 4:
                        break
                    hl, n = 4, (buf[pos + 2] << 8) | buf[pos + 3]
                elif b1 == 127:
                    if avail < 10:
                        break
                    hl, n = 10, int.from_bytes(buf[pos + 2:pos + 10], "big")
                else:
                    hl, n = 2, b1
                if avail < hl + n:
                    break
                op = buf[pos] & 0x0F
                payload = bytes(buf[pos + hl:pos + hl + n])
                pos += hl + n
                yield op, payload, t
            del buf[:pos]
            pos = 0
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("deadline")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 18)
            except ConnectionResetError:
                self.eof = "reset"
                return
            t = time.monotonic()
            if not data:
                self.eof = "eof"
                return
            buf += data


class BroadcastReader(threading.Thread):
    """Reads /broadcast continuously; checks order and integrity; records latencies."""

    def __init__(self, ws, name, expected, deadline):
        super().__init__(daemon=True, name=name)
        self.stream = FrameStream(ws.sock, bytes(ws.reader.buf))
        self.expected = expected
        self.deadline = deadline
        self.count = 0
        self.latencies = []
        self.problem = None
        self.close_code = None

    def run(self):
        try:
            for op, payload, t in self.stream.frames(self.deadline):
                if op == OP_CLOSE:
                    self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                    self.problem = f"close frame {self.close_code} after {self.count} messages"
                    return
                if op != OP_BINARY:
                    continue
                seq, sent = struct.unpack("!Id", payload[:12])
                if len(payload) != MSG_SIZE or payload[-4:] != struct.pack("!I", seq) \
                        or payload[12:-4] != FILLER:
                    self.problem = f"message {seq} corrupted ({len(payload)} bytes)"
                    return
                if seq != self.count:
                    self.problem = f"expected message {self.count}, got {seq}"
                    return
                self.latencies.append(t - sent)
                self.count += 1
                if self.count == self.expected:
                    return
            self.problem = f"stream ended ({self.stream.eof}) after {self.count} messages"
        except socket.timeout:
            self.problem = f"timed out after {self.count} messages"
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.problem = f"{type(e).__name__}: {e}"


def percentile(values, p):
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def publish(ws, n, first=0):
    t0 = time.monotonic()
    for start in range(first, first + n, BATCH):
        blob = b"".join(dtest.client_frame(OP_BINARY, make_message(seq))
                        for seq in range(start, min(start + BATCH, first + n)))
        ws.sock.sendall(blob)
        time.sleep(BATCH_PAUSE)
    return time.monotonic() - t0


def broadcast_scenario(test, args, stalled=False, after_publish=None):
    """5 readers + publisher (+ a stalled client) on /broadcast; 3,000 messages of 1 KiB.
    Returns a dict of measurements; asserts every reader got everything in order."""
    result = {}
    with Daemon(["--max-backpressure", "262144", "--threads", "2"] + args) as d:
        stall = RawWS(d.port, "/broadcast", **STALL_SOCKET) if stalled else None
        if stall is not None:
            got = stall.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            test.assertLessEqual(got, 16384, f"SO_RCVBUF not reduced ({got})")
        clients = [RawWS(d.port, "/broadcast") for _ in range(N_READERS)]
        pub = RawWS(d.port, "/broadcast")
        deadline = time.monotonic() + 20
        readers = [BroadcastReader(c, f"reader{i}", N_MESSAGES, deadline)
                   for i, c in enumerate(clients)]
        # the publisher is a /broadcast client too: it gets its own messages back
        self_reader = BroadcastReader(pub, "publisher", N_MESSAGES, deadline)
        for r in readers + [self_reader]:
            r.start()
        result["publish_seconds"] = publish(pub, N_MESSAGES)
        for r in readers + [self_reader]:
            r.join(max(0.1, deadline - time.monotonic()))
        for r in readers + [self_reader]:
            test.assertFalse(r.is_alive(), f"{r.name} still reading at the deadline "
                                           f"({r.count} messages)")
            test.assertIsNone(r.problem, f"{r.name}: {r.problem}")
            test.assertEqual(r.count, N_MESSAGES, r.name)
        lat = [x for r in readers for x in r.latencies]
        result["p50_ms"] = percentile(lat, 50) * 1000
        result["p99_ms"] = percentile(lat, 99) * 1000
        result["max_ms"] = max(lat) * 1000
        result["reader_p99_ms"] = [round(percentile(r.latencies, 99) * 1000, 1) for r in readers]
        result["status"] = dtest.status_json(d.port)
        if after_publish is not None:
            after_publish(d, stall, pub, result)
        for c in clients + [pub] + ([stall] if stall else []):
            c.close()
    return result


def drain_stalled(stall, timeout=10.0):
    """Reads everything the stalled client was sent. Returns (seqs, end) where end is
    ("close", code) or ("eof"/"reset", None)."""
    stream = FrameStream(stall.sock, bytes(stall.reader.buf))
    seqs = []
    for op, payload, _ in stream.frames(time.monotonic() + timeout):
        if op == OP_CLOSE:
            return seqs, ("close", struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None)
        if op == OP_BINARY:
            seqs.append(struct.unpack("!I", payload[:4])[0])
    return seqs, (stream.eof, None)


def fmt(r):
    return (f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms, "
            f"per-reader p99 {r['reader_p99_ms']}, published in {r['publish_seconds']:.2f} s")


class SlowConsumerTest(dtest.BoundedTestCase):
    P99_BOUND_MS = 500.0

    def test_close_policy_readers_unaffected(self):
        def check_stalled(d, stall, pub, result):
            st = dtest.wait_until(
                lambda: (lambda s: s if s["slow_consumer_closes_total"] >= 1 else None)(
                    dtest.status_json(d.port)), 5.0)
            result["status"] = st or dtest.status_json(d.port)
            result["stalled"] = drain_stalled(stall)

        # Paired runs: control (no stalled client), then the same with it. Latency on a shared
        # 2-core machine is noisy, so a pair that misses the relative bound is measured once more;
        # a stalled client that really delays the readers misses it both times. Everything else
        # is asserted on every run.
        for attempt in (1, 2):
            control = broadcast_scenario(self, [], stalled=False)
            stalled = broadcast_scenario(self, [], stalled=True, after_publish=check_stalled)
            seqs, end = stalled["stalled"]
            st = stalled["status"]
            print(f"\n    [{attempt}] control (no stalled client): {fmt(control)}"
                  f"\n    [{attempt}] with stalled client:         {fmt(stalled)}"
                  f"\n    [{attempt}] stalled client got {len(seqs)} messages then {end}; "
                  f"slow_consumer_closes_total={st['slow_consumer_closes_total']}, "
                  f"dropped_messages_total={st['dropped_messages_total']}", end=" ")
            self.assertGreaterEqual(st["slow_consumer_closes_total"], 1,
                                    "the stalled client was never closed by the policy")
            self.assertLess(len(seqs), N_MESSAGES, "the stalled client got everything?")
            self.assertEqual(seqs, list(range(len(seqs))),
                             "the stalled client's messages are not an in-order prefix")
            self.assertTrue(end == ("close", 1008) or end[0] in ("eof", "reset"),
                            f"stalled stream ended with {end}, expected close 1008 or EOF")
            self.assertLess(control["p99_ms"], self.P99_BOUND_MS)
            self.assertLess(stalled["p99_ms"], self.P99_BOUND_MS)
            if stalled["p99_ms"] <= 3 * control["p99_ms"] + 50:
                break
        self.assertLessEqual(stalled["p99_ms"], 3 * control["p99_ms"] + 50,
                             "readers delayed by the stalled client (twice)")

    def test_drop_policy_keeps_stalled_client(self):
        def check_stalled(d, stall, pub, result):
            st = dtest.status_json(d.port)
            result["status"] = st
            self.assertEqual(st["websockets_open"], N_READERS + 2,
                             "the stalled client was disconnected under the drop policy")
            self.assertGreater(st["dropped_messages_total"], 0)
            self.assertEqual(st["slow_consumer_closes_total"], 0)
            # still stalled: more messages are dropped, the connection stays
            publish(pub, 100, first=5000)
            grown = dtest.wait_until(
                lambda: (lambda s: s if s["dropped_messages_total"] > st["dropped_messages_total"]
                         else None)(dtest.status_json(d.port)), 3.0)
            self.assertIsNotNone(grown, "dropped_messages_total did not grow")
            self.assertEqual(grown["websockets_open"], N_READERS + 2)
            result["status"] = grown
            # drain what the server queued for it; the connection must still be open
            stream = FrameStream(stall.sock, bytes(stall.reader.buf))
            seqs = []
            try:
                for op, payload, _ in stream.frames(time.monotonic() + 1.5):
                    self.assertNotEqual(op, OP_CLOSE, "close frame under the drop policy")
                    if op == OP_BINARY:
                        seqs.append(struct.unpack("!I", payload[:4])[0])
            except socket.timeout:
                pass  # drained: nothing more is coming
            self.assertIsNone(stream.eof, f"stalled client's stream ended ({stream.eof})")
            result["stalled_seqs"] = seqs
            # it still works: a ping gets a pong, and a new broadcast reaches it
            stall.send(OP_PING, b"alive?")
            publish(pub, 1, first=9999)
            got_pong = got_new = False
            for op, payload, _ in stream.frames(time.monotonic() + 5):
                if op == OP_PONG and payload == b"alive?":
                    got_pong = True
                if op == OP_BINARY and struct.unpack("!I", payload[:4])[0] == 9999:
                    got_new = True
                if got_pong and got_new:
                    break
            self.assertTrue(got_pong, "no pong from the stalled client's connection")
            self.assertTrue(got_new, "new broadcast did not reach the drained client")

        r = broadcast_scenario(self, ["--slow-consumer", "drop"], stalled=True,
                               after_publish=check_stalled)
        seqs = r["stalled_seqs"]
        st = r["status"]
        print(f"\n    drop policy: {fmt(r)}\n    stalled client got {len(seqs)} of {N_MESSAGES}; "
              f"dropped_messages_total={st['dropped_messages_total']}", end=" ")
        self.assertLess(len(seqs), N_MESSAGES)
        self.assertEqual(seqs, sorted(set(seqs)), "stalled client's messages out of order")
        self.assertEqual(seqs[:10], list(range(10)), "the first messages should have fitted")
        self.assertGreaterEqual(len(seqs) + st["dropped_messages_total"], N_MESSAGES)
        self.assertLess(r["p99_ms"], self.P99_BOUND_MS)

    def close_code_case(self, args, expected):
        with Daemon(["--max-backpressure", "262144"] + args) as d:
            stall = RawWS(d.port, "/broadcast", **STALL_SOCKET)
            pub = RawWS(d.port, "/broadcast")
            echo = BroadcastReader(pub, "publisher", 1 << 30, time.monotonic() + 20)
            echo.start()
            closed = False
            for first in range(0, 20000, 200):
                publish(pub, 200, first=first)
                if dtest.status_json(d.port)["slow_consumer_closes_total"] >= 1:
                    closed = True
                    break
            self.assertTrue(closed, "the stalled client was never closed by the policy")
            seqs, end = drain_stalled(stall)  # at once, within the 3 s close timeout
            print(f"\n    stalled client got {len(seqs)} messages then {end}", end=" ")
            self.assertEqual(end, ("close", expected))
            self.assertEqual(seqs, list(range(len(seqs))))
            stall.close()
            pub.close()

    def test_close_code_default_1008(self):
        self.close_code_case([], 1008)

    def test_close_code_1013(self):
        self.close_code_case(["--slow-consumer-code", "1013"], 1013)


if __name__ == "__main__":
    dtest.main()
