"""Limits (issue 3): --max-connections answers 503 when the daemon is full and admits again once
a slot frees; --max-connections-per-ip caps one source address without affecting others
(sources spread over 127.0.0.x); refusals are counted in /status.json. --throttle holds each
direction of a connection to a byte rate (checked against an unthrottled run of the same
transfer; the bounds are loose: this proves the limit acts, the benchmarks measure speed).
Out of file descriptors (a low RLIMIT_NOFILE), the daemon backs off without spinning and serves
again once descriptors free up.
"""
import asyncio
import os
import socket
import time

import websockets

import dtest
import sbtest


def open_ws(port, source="127.0.0.1"):
    """A WebSocket on /echo from `source`; returns (socket, response head)."""
    s = socket.socket()
    s.settimeout(5)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head


class LimitsTest(dtest.BoundedTestCase):
    def test_max_connections_answers_503_then_admits_again(self):
        with sbtest.Daemon(["--max-connections", "3"]) as d:
            time.sleep(0.2)  # sbtest's readiness probe holds a slot until its socket closes
            held = []
            for _ in range(3):
                s, head = open_ws(d.port)
                self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
                held.append(s)
            s, head = open_ws(d.port)
            self.assertTrue(head.startswith(b"HTTP/1.1 503"), head)
            self.assertIn(b"server full", s.recv(4096) if b"server full" not in head else head)
            s.close()
            held.pop().close()
            ok = dtest.wait_until(lambda: open_ws(d.port)[1].startswith(b"HTTP/1.1 101"), 5)
            self.assertTrue(ok, "a freed slot was not reused")
            for s in held:
                s.close()

            def refused_total():
                # The daemon frees the slots as it reads the closes: until then /status.json
                # itself may be answered 503.
                try:
                    return dtest.status_json(d.port)["connections_refused_total"]
                except AssertionError:
                    return None

            self.assertTrue(dtest.wait_until(lambda: refused_total() is not None, 5))
            self.assertGreaterEqual(refused_total(), 1)

    def test_per_ip_cap_leaves_other_addresses_alone(self):
        with sbtest.Daemon(["--max-connections-per-ip", "2"]) as d:
            a1, h1 = open_ws(d.port, "127.0.0.2")
            a2, h2 = open_ws(d.port, "127.0.0.2")
            a3, h3 = open_ws(d.port, "127.0.0.2")
            b1, hb = open_ws(d.port, "127.0.0.3")
            self.assertTrue(h1.startswith(b"HTTP/1.1 101") and h2.startswith(b"HTTP/1.1 101"))
            self.assertTrue(h3.startswith(b"HTTP/1.1 503"), h3)
            self.assertTrue(hb.startswith(b"HTTP/1.1 101"), hb)
            for s in (a1, a2, a3, b1):
                s.close()

    def test_throttle_limits_both_directions(self):
        payload = os.urandom(400_000)

        async def echo_time(url):
            async with websockets.connect(url, max_size=None) as ws:
                t0 = time.monotonic()
                await ws.send(payload)
                self.assertEqual(await ws.recv(), payload)
                return time.monotonic() - t0

        with sbtest.Daemon([]) as d:
            free = asyncio.run(echo_time(d.url("/echo")))
        with sbtest.Daemon(["--throttle", "200000"]) as d:
            throttled = asyncio.run(echo_time(d.url("/echo")))
        print(f"400 kB echo: {free * 1000:.0f} ms unthrottled, {throttled * 1000:.0f} ms at 200 kB/s")
        # One second is banked per direction: about 1 s up and 1 s down beyond it.
        self.assertGreater(throttled, 1.2)
        self.assertLess(throttled, 8.0)
        self.assertLess(free, throttled / 3)


    def test_out_of_descriptors_backs_off_then_accepts_again(self):
        """accept4 failing with EMFILE: the listener is set aside (not reported ready again and
        again, which would spin the io thread) and retried after a short pause; once
        descriptors free up, new connections are served."""
        import resource
        limit = 64

        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        d = sbtest.Daemon(["--threads", "1"], preexec=low_limit).start()
        try:
            held = []
            # Fill the daemon's descriptor table: upgrades succeed until it is full, then
            # connections wait in the listen queue (the kernel completes their handshake).
            for _ in range(limit + 8):
                s = socket.socket()
                s.settimeout(5)
                s.connect(("127.0.0.1", d.port))
                held.append(s)
            time.sleep(0.5)  # the daemon meets EMFILE and backs off
            # While it cannot accept, the io thread must not spin on the ready listener.
            ticks = os.sysconf("SC_CLK_TCK")

            def cpu_seconds():
                with open(f"/proc/{d.proc.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / ticks

            before = cpu_seconds()
            time.sleep(1.0)
            self.assertLess(cpu_seconds() - before, 0.5, "the io thread spins at EMFILE")
            for s in held:
                s.close()
            # Descriptors are free again: a new connection is accepted and echoed.
            def echoes():
                try:
                    s, head = open_ws(d.port)
                except OSError:
                    return False
                with s:
                    if not head.startswith(b"HTTP/1.1 101"):
                        return False
                    s.sendall(bytes([0x81, 0x82, 1, 2, 3, 4]) + bytes([ord("h") ^ 1, ord("i") ^ 2]))
                    return s.recv(16) == b"\x81\x02hi"
            self.assertTrue(dtest.wait_until(echoes, 10), "no echo after descriptors freed up")
            self.assertIsNone(d.proc.poll(), "the daemon exited")
        finally:
            d.stop()


if __name__ == "__main__":
    dtest.main()
