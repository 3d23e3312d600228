"""permessage-deflate (RFC 7692) on the daemon (issue 3, server side): negotiation with real
peers (python3-websockets with and without context takeover, node ws), and on a raw socket the
wire rules: RSV1 on compressed replies, small replies left uncompressed, a deflate bomb closed
with 1009 before it is inflated in full, a corrupt stream and bad UTF-8 after inflating closed
with 1007, RSV1 without the extension closed with 1002, and no extension unless enabled.
"""
import asyncio
import base64
import hashlib
import os
import socket
import struct
import shutil
import subprocess
import tempfile
import time
import zlib

import dtest
import sbtest
import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OFFER = "permessage-deflate; client_max_window_bits"


def deflate_raw(data):
    """RFC 7692 7.2.1: raw deflate, sync flush, trailing 00 00 ff ff removed."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflate_raw(data):
    return zlib.decompressobj(-15).decompress(data + b"\x00\x00\xff\xff")


class RawDeflateClient:
    """Handshake with an extension offer; frames with RSV1 under our control."""

    def __init__(self, port, offer=OFFER, path="/echo"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               + (f"Sec-WebSocket-Extensions: {offer}\r\n" if offer else "") + "\r\n")
        self.sock.sendall(req.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError("no handshake response")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.head = head.decode("latin-1")

    def extension(self):
        for line in self.head.split("\r\n"):
            if line.lower().startswith("sec-websocket-extensions:"):
                return line.split(":", 1)[1].strip()
        return None

    def send(self, opcode, payload, rsv1=False):
        n = len(payload)
        b0 = 0x80 | (0x40 if rsv1 else 0) | opcode
        hdr = struct.pack("!BB", b0, 0x80 | n) if n < 126 else (
            struct.pack("!BBH", b0, 0x80 | 126, n) if n < 65536 else
            struct.pack("!BBQ", b0, 0x80 | 127, n))
        key = os.urandom(4)
        self.sock.sendall(hdr + key + dtest.mask(payload, key))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """(rsv1, opcode, payload) of the next frame."""
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        return bool(b0 & 0x40), b0 & 0x0F, self._read(n)

    def expect_close(self, code):
        rsv1, op, payload = self.recv()
        assert op == dtest.OP_CLOSE, f"expected a close frame, got opcode {op}"
        got = struct.unpack("!H", payload[:2])[0]
        assert got == code, f"expected close {code}, got {got}"


class DeflateTest(dtest.BoundedTestCase):
    def test_python_websockets_with_and_without_context_takeover(self):
        async def run(url, takeover, window):
            ext = [ClientPerMessageDeflateFactory(client_no_context_takeover=not takeover,
                                                  server_no_context_takeover=not takeover,
                                                  client_max_window_bits=window)]
            async with websockets.connect(url, extensions=ext, max_size=None) as ws:
                self.assertEqual([type(e).__name__ for e in ws.extensions], ["PerMessageDeflate"])
                for p in ["hi", "json " * 3000, "é" * 100000, os.urandom(200000), b"", "x" * 40]:
                    await ws.send(p)
                    self.assertEqual(await ws.recv(), p)
                sent = [f'{{"seq":{i},"room":"lobby","text":"hello"}}' for i in range(300)]
                for p in sent:
                    await ws.send(p)
                self.assertEqual([await ws.recv() for _ in sent], sent)

        with sbtest.Daemon(["--permessage-deflate"]) as d:
            for takeover, window in ((True, True), (False, True), (True, 10)):
                asyncio.run(run(d.url("/echo"), takeover, window))

    def test_node_ws_negotiates_and_echoes(self):
        script = """
const WebSocket = require(process.argv[1]);
const ws = new WebSocket(process.argv[2], { perMessageDeflate: true });
const big = 'z'.repeat(200000);
ws.on('open', () => ws.send(big));
ws.on('message', (d) => { if (d.toString() !== big) process.exit(3); ws.close(1000); });
ws.on('close', (c) => { console.log(ws.extensions, c); process.exit(c === 1000 ? 0 : 4); });
ws.on('error', (e) => { console.error(e); process.exit(5); });
"""
        ws_module = os.path.join(ROOT, "tests", "interop", "node_modules", "ws")
        if not os.path.isdir(ws_module):
            self.fail("npm package ws missing: run scripts/setup.sh")
        with sbtest.Daemon(["--permessage-deflate"]) as d:
            p = subprocess.run(["node", "-e", script, ws_module, d.url("/echo")],
                               capture_output=True, text=True, timeout=20)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("permessage-deflate", p.stdout)

    def test_replies_are_compressed_from_the_minimum_size(self):
        with sbtest.Daemon(["--permessage-deflate"]) as d:
            c = RawDeflateClient(d.port)
            self.assertTrue(c.extension().startswith("permessage-deflate"))
            text = b'{"hello":"world","n":12345678901234567890}' * 20
            c.send(dtest.OP_TEXT, deflate_raw(text), rsv1=True)
            rsv1, op, payload = c.recv()
            self.assertTrue(rsv1)
            self.assertEqual(op, dtest.OP_TEXT)
            self.assertEqual(inflate_raw(payload), text)
            self.assertLess(len(payload), len(text) // 4)
            c.send(dtest.OP_TEXT, b"tiny")  # uncompressed in, and too small to compress out
            self.assertEqual(c.recv(), (False, dtest.OP_TEXT, b"tiny"))

    def test_bomb_closes_with_1009_quickly(self):
        with sbtest.Daemon(["--permessage-deflate", "--max-message-size", "100000"]) as d:
            c = RawDeflateClient(d.port)
            bomb = deflate_raw(b"\0" * (64 << 20))  # 64 MiB of zeros in about 64 KiB
            t0 = time.monotonic()
            c.send(dtest.OP_BINARY, bomb, rsv1=True)
            c.expect_close(1009)
            self.assertLess(time.monotonic() - t0, 2.0)
            status = dtest.status_json(d.port)
            self.assertLess(status["resident_bytes"], 64 << 20)  # never inflated in full

    def test_corrupt_stream_closes_with_1007(self):
        with sbtest.Daemon(["--permessage-deflate"]) as d:
            c = RawDeflateClient(d.port)
            c.send(dtest.OP_TEXT, b"\xff\xff\xff\xff not deflate", rsv1=True)
            c.expect_close(1007)

    def test_invalid_utf8_after_inflating_closes_with_1007(self):
        with sbtest.Daemon(["--permessage-deflate"]) as d:
            c = RawDeflateClient(d.port)
            c.send(dtest.OP_TEXT, deflate_raw(b"valid start \xc3\x28 invalid"), rsv1=True)
            c.expect_close(1007)

    def test_rsv1_without_the_extension_closes_with_1002(self):
        with sbtest.Daemon(["--permessage-deflate"]) as d:
            c = RawDeflateClient(d.port, offer=None)
            self.assertIsNone(c.extension())
            c.send(dtest.OP_TEXT, deflate_raw(b"hello"), rsv1=True)
            c.expect_close(1002)

    def test_broadcast_is_compressed_once_for_connections_without_context(self):
        # Connections that agreed server_no_context_takeover share one compressed frame; one
        # whose compressor keeps its context gets the broadcast uncompressed (also legal).
        message = ('{"room":"lobby","text":"' + "the same words again " * 60 + '"}').encode()
        with sbtest.Daemon(["--permessage-deflate"]) as d:
            fresh = [RawDeflateClient(d.port, OFFER + "; server_no_context_takeover", "/broadcast")
                     for _ in range(3)]
            keeps = RawDeflateClient(d.port, OFFER, "/broadcast")
            for c in fresh:
                self.assertIn("server_no_context_takeover", c.extension())
            plain = RawDeflateClient(d.port, None, "/broadcast")
            plain.send(dtest.OP_TEXT, message)
            frames = [c.recv() for c in fresh]
            for rsv1, op, payload in frames:
                self.assertTrue(rsv1, "a broadcast to a no-context connection is compressed")
                self.assertEqual(op, dtest.OP_TEXT)
                self.assertEqual(inflate_raw(payload), message)
                self.assertLess(len(payload), len(message) // 4)
            self.assertEqual(len({p for _, _, p in frames}), 1, "the same compressed bytes")
            rsv1, op, payload = keeps.recv()
            self.assertFalse(rsv1)
            self.assertEqual(payload, message)
            self.assertEqual(plain.recv(), (False, dtest.OP_TEXT, message))
            # A second broadcast is compressed afresh (no context carried between messages).
            second = message.replace(b"lobby", b"hall!")
            plain.send(dtest.OP_TEXT, second)
            for c in fresh:
                rsv1, op, payload = c.recv()
                self.assertTrue(rsv1)
                self.assertEqual(inflate_raw(payload), second)

    def test_no_context_takeover_from_the_flag_and_the_config_file(self):
        async def echo(url):
            ext = [ClientPerMessageDeflateFactory(client_max_window_bits=True)]
            async with websockets.connect(url, extensions=ext) as ws:
                for p in ["json " * 500, "json " * 500, "x" * 40]:
                    await ws.send(p)
                    self.assertEqual(await ws.recv(), p)

        with sbtest.Daemon(["--permessage-deflate", "--deflate-no-context-takeover"]) as d:
            ext = RawDeflateClient(d.port).extension()
            self.assertIn("server_no_context_takeover", ext)
            self.assertIn("client_no_context_takeover", ext)
            asyncio.run(echo(d.url("/echo")))
        tmp = tempfile.mkdtemp()
        try:
            path = os.path.join(tmp, "sb.toml")
            with open(path, "w") as f:
                f.write("[server]\npermessage_deflate = true\n[deflate]\n"
                        "server_no_context_takeover = true\nserver_max_window_bits = 10\n"
                        "compression_level = 1\nmin_size = 0\n")
            with sbtest.Daemon(["--config", path]) as d:
                ext = RawDeflateClient(d.port).extension()
                self.assertIn("server_no_context_takeover", ext)
                self.assertIn("server_max_window_bits=10", ext)
                asyncio.run(echo(d.url("/echo")))
            with open(path, "w") as f:
                f.write("[deflate]\nmem_level = 12\n")
            proc = subprocess.run([sbtest.daemon_path(), "--config", path], capture_output=True,
                                  timeout=10)
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn(b"mem_level", proc.stderr)
        finally:
            shutil.rmtree(tmp)

    def test_not_negotiated_unless_enabled(self):
        with sbtest.Daemon([]) as d:
            c = RawDeflateClient(d.port)
            self.assertIsNone(c.extension())
            c.send(dtest.OP_TEXT, b"plain")
            self.assertEqual(c.recv(), (False, dtest.OP_TEXT, b"plain"))


if __name__ == "__main__":
    dtest.main()
