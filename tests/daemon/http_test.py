#!/usr/bin/python3
"""HTTP side of the switchboard daemon: static files (types, HEAD, index.html, 404, traversal,
symlinks, ranges, a 20 MiB body), keep-alive and pipelining, the request limits (405, 413, 431,
400, slow heads, 408) and the built-in pages (/, /status.json, /metrics).

Run all:   /usr/bin/python3 tests/daemon/http_test.py
Run one:   /usr/bin/python3 tests/daemon/http_test.py StaticFilesTest.test_range_first_ten
Binary:    SWITCHBOARD_BIN=/path/to/switchboard (default build/bin/switchboard)
"""
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time

import dtest
from dtest import http, raw_exchange, read_response, request_bytes, Reader, connect

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


def make_tree():
    """tmp/{secret.txt, outside/inner.txt, www/...}; returns (tmp, www, files, secret)."""
    tmp = tempfile.mkdtemp(prefix="sb-http-")
    www = os.path.join(tmp, "www")
    os.makedirs(os.path.join(www, "sub"))
    os.makedirs(os.path.join(tmp, "outside"))
    secret = ("TOP-SECRET-" + os.urandom(8).hex()).encode()
    with open(os.path.join(tmp, "secret.txt"), "wb") as f:
        f.write(secret + b"\n")
    with open(os.path.join(tmp, "outside", "inner.txt"), "wb") as f:
        f.write(secret + b" inner\n")
    files = {
        "page.html": b"<!doctype html><title>page</title><p>hello page</p>\n",
        "app.js": b"console.log('switchboard test');\n",
        "style.css": b"body { color: #123456; }\n",
        "data.json": b'{"answer": 42}\n',
        "img.png": PNG,
        "blob.xyz": bytes(range(256)),
        "noext": b"no extension here\n",
        "sub/index.html": b"<html><body>sub index</body></html>\n",
        "sub/other.txt": b"other text\n",
        "range.txt": bytes((i * 7 + 3) % 256 for i in range(100)),
        "mid.bin": os.urandom(1 << 20),
        "empty.txt": b"",
        "with space.txt": b"spaced out\n",
    }
    for name, data in files.items():
        with open(os.path.join(www, name), "wb") as f:
            f.write(data)
    big = os.path.join(www, "big.bin")
    h = hashlib.sha256()
    with open(big, "wb") as f:
        for _ in range(20):
            chunk = os.urandom(1 << 20)
            h.update(chunk)
            f.write(chunk)
    files["big.bin"] = h.hexdigest()  # (the digest, not the bytes)
    os.symlink(os.path.join(tmp, "secret.txt"), os.path.join(www, "link.txt"))
    os.symlink("../secret.txt", os.path.join(www, "rellink.txt"))
    os.symlink(os.path.join(tmp, "outside"), os.path.join(www, "outdir"))
    os.symlink("page.html", os.path.join(www, "inlink.html"))  # inside -> inside: allowed
    return tmp, www, files, secret


class StaticFilesTest(dtest.BoundedTestCase):
    daemon = None

    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.www, cls.files, cls.secret = make_tree()
        cls.daemon = dtest.sbtest.Daemon(["--document-root", cls.www, "--threads", "2"]).start()
        cls.port = cls.daemon.port

    @classmethod
    def tearDownClass(cls):
        if cls.daemon:
            cls.daemon.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.assertIsNone(self.daemon.proc.poll(), "the daemon died during an earlier test")

    def get(self, target, headers=(), method="GET"):
        return http(self.port, method, target, headers)

    def assert_refused(self, target, secret=None):
        r = self.get(target)
        self.assertIn(r.status, (403, 404), f"GET {target}: expected 403/404, got {r.status} "
                                            f"with body {r.body[:80]!r}")
        self.assertNotIn(secret or self.secret, r.body, f"GET {target} leaked the file")
        self.assertNotIn(b"root:x:0:0", r.body, f"GET {target} leaked /etc/passwd")
        return r

    # --- types and bodies -------------------------------------------------------------------

    def check_type(self, name, expected_types):
        r = self.get("/" + name)
        self.assertEqual(r.status, 200, name)
        self.assertEqual(r.body, self.files[name], name)
        ctype = r.header("Content-Type", "")
        media = ctype.split(";")[0].strip().lower()
        self.assertIn(media, expected_types, f"{name}: Content-Type {ctype!r}")
        self.assertEqual(int(r.header("Content-Length")), len(self.files[name]))

    def test_type_html(self):
        self.check_type("page.html", ("text/html",))

    def test_type_js(self):
        self.check_type("app.js", ("text/javascript", "application/javascript"))

    def test_type_css(self):
        self.check_type("style.css", ("text/css",))

    def test_type_json(self):
        self.check_type("data.json", ("application/json",))

    def test_type_png(self):
        self.check_type("img.png", ("image/png",))

    def test_type_unknown_extension(self):
        self.check_type("blob.xyz", ("application/octet-stream",))

    def test_type_no_extension(self):
        self.check_type("noext", ("application/octet-stream",))

    def test_empty_file(self):
        r = self.get("/empty.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), "0")
        self.assertEqual(r.body, b"")

    def test_query_string_ignored(self):
        r = self.get("/page.html?v=123&x=y")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.files["page.html"])

    def test_head(self):
        # HEAD then GET on one connection: had HEAD carried a body, the GET would misparse.
        with connect(self.port) as s:
            s.sendall(request_bytes("HEAD", "/page.html"))
            rd = Reader(s)
            deadline = time.monotonic() + 10
            h = read_response(rd, deadline, head_request=True)
            self.assertEqual(h.status, 200)
            self.assertEqual(int(h.header("Content-Length")), len(self.files["page.html"]))
            self.assertTrue(h.header("Content-Type", "").startswith("text/html"))
            s.sendall(request_bytes("GET", "/style.css"))
            g = read_response(rd, deadline)
            self.assertEqual(g.status, 200, "response after HEAD is garbled (HEAD sent a body?)")
            self.assertEqual(g.body, self.files["style.css"])
            # and nothing else is pending on the socket
            s.settimeout(0.3)
            try:
                extra = s.recv(100)
            except socket.timeout:
                extra = b""
            self.assertEqual(extra + bytes(rd.buf), b"")

    def test_head_big_file_sends_no_body(self):
        with connect(self.port) as s:
            s.sendall(request_bytes("HEAD", "/big.bin", close=True))
            data = Reader(s).read_to_eof(time.monotonic() + 10)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:100])
        self.assertIn(b"Content-Length: %d" % (20 << 20), head)
        self.assertEqual(body, b"", f"HEAD sent {len(body)} body bytes")

    def test_directory_index(self):
        for target in ("/sub/", "/sub"):
            r = self.get(target)
            self.assertEqual(r.status, 200, target)
            self.assertEqual(r.body, self.files["sub/index.html"], target)
            self.assertTrue(r.header("Content-Type", "").startswith("text/html"), target)

    def test_file_in_subdirectory(self):
        r = self.get("/sub/other.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.files["sub/other.txt"])

    def test_missing_is_404(self):
        for target in ("/nope.html", "/sub/nope", "/nodir/file.txt"):
            r = self.get(target)
            self.assertEqual(r.status, 404, target)

    def test_symlink_inside_root_served(self):
        r = self.get("/inlink.html")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.files["page.html"])

    def test_percent_encoded_names(self):
        for target in ("/with%20space.txt", "/page%2Ehtml", "/sub%2Fother.txt"):
            r = self.get(target)
            self.assertEqual(r.status, 200, target)
        self.assertEqual(self.get("/with%20space.txt").body, self.files["with space.txt"])

    def test_http10_closes(self):
        data = raw_exchange(self.port, b"GET /page.html HTTP/1.0\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:100])
        self.assertTrue(data.endswith(self.files["page.html"]), "no EOF after the HTTP/1.0 body")

    def test_get_websocket_path_without_upgrade_426(self):
        r = self.get("/echo")
        self.assertEqual(r.status, 426)

    def test_head_status_json(self):
        with connect(self.port) as s:
            s.sendall(request_bytes("HEAD", "/status.json") + request_bytes("GET", "/style.css"))
            rd = Reader(s)
            deadline = time.monotonic() + 5
            h = read_response(rd, deadline, head_request=True)
            self.assertEqual(h.status, 200)
            self.assertGreater(int(h.header("Content-Length")), 0)
            g = read_response(rd, deadline)
            self.assertEqual((g.status, g.body), (200, self.files["style.css"]),
                             "HEAD /status.json sent a body")

    # --- traversal --------------------------------------------------------------------------

    def test_traversal_dotdot(self):
        self.assert_refused("/../etc/passwd")
        self.assert_refused("/../secret.txt")
        self.assert_refused("/sub/../../secret.txt")
        self.assert_refused("/./../secret.txt")

    def test_traversal_encoded_dots(self):
        self.assert_refused("/%2e%2e/%2e%2e/etc/passwd")
        self.assert_refused("/%2e%2e/secret.txt")
        self.assert_refused("/%2E%2E/secret.txt")
        self.assert_refused("/sub/%2e%2e/%2e%2e/secret.txt")

    def test_traversal_encoded_slash(self):
        self.assert_refused("/a/..%2f..%2fetc/passwd")
        self.assert_refused("/sub/..%2f..%2fsecret.txt")
        self.assert_refused("/%2e%2e%2fsecret.txt")
        self.assert_refused("/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd")

    def test_encoded_nul_refused(self):
        self.assert_refused("/page.html%00.png")
        self.assert_refused("/%00")
        self.assert_refused("/../secret.txt%00")

    def test_backslash_refused(self):
        self.assert_refused("/..%5csecret.txt")
        self.assert_refused("/sub%5c..%5c..%5csecret.txt")
        # a literal backslash in the request target
        for target in ("/..\\secret.txt", "/sub\\..\\..\\secret.txt", "/..\\..\\etc\\passwd"):
            data = raw_exchange(self.port, request_bytes("GET", target, close=True))
            m = re.match(rb"HTTP/1\.1 (\d+)", data)
            self.assertIsNotNone(m, f"no HTTP response to {target!r}: {data[:100]!r}")
            self.assertIn(int(m.group(1)), (403, 404), f"{target!r}: {data[:100]!r}")
            self.assertNotIn(self.secret, data)
            self.assertNotIn(b"root:x:0:0", data)

    def test_symlink_outside_root_forbidden(self):
        for target in ("/link.txt", "/rellink.txt", "/outdir/inner.txt", "/outdir/"):
            r = self.get(target)
            self.assertEqual(r.status, 403, f"{target}: expected 403, got {r.status}")
            self.assertNotIn(self.secret, r.body, target)

    # --- ranges -----------------------------------------------------------------------------

    def test_accept_ranges_advertised(self):
        r = self.get("/range.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Accept-Ranges"), "bytes")

    def check_partial(self, spec, first, last):
        data = self.files["range.txt"]
        r = self.get("/range.txt", [("Range", spec)])
        self.assertEqual(r.status, 206, spec)
        self.assertEqual(r.header("Content-Range"), f"bytes {first}-{last}/{len(data)}", spec)
        self.assertEqual(int(r.header("Content-Length")), last - first + 1, spec)
        self.assertEqual(r.body, data[first:last + 1], spec)

    def test_range_first_ten(self):
        self.check_partial("bytes=0-9", 0, 9)

    def test_range_suffix(self):
        self.check_partial("bytes=-5", 95, 99)

    def test_range_open_ended(self):
        self.check_partial("bytes=10-", 10, 99)

    def test_range_last_clamped(self):
        self.check_partial("bytes=90-1000", 90, 99)

    def test_range_beyond_end_416(self):
        for spec in ("bytes=100-", "bytes=500-600"):
            r = self.get("/range.txt", [("Range", spec)])
            self.assertEqual(r.status, 416, spec)
            self.assertEqual(r.header("Content-Range"), "bytes */100", spec)
            self.assertNotEqual(r.body, self.files["range.txt"])

    def test_multiple_ranges_whole_file(self):
        r = self.get("/range.txt", [("Range", "bytes=0-1,5-6")])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.files["range.txt"])
        self.assertIsNone(r.header("Content-Range"))

    def test_range_on_big_file(self):
        r = self.get("/big.bin", [("Range", "bytes=10485760-10485775")])
        self.assertEqual(r.status, 206)
        self.assertEqual(r.header("Content-Range"), f"bytes 10485760-10485775/{20 << 20}")
        with open(os.path.join(self.www, "big.bin"), "rb") as f:
            f.seek(10485760)
            self.assertEqual(r.body, f.read(16))

    # --- large body, keep-alive, pipelining -------------------------------------------------

    def test_large_file_intact(self):
        t0 = time.monotonic()
        with connect(self.port) as s:
            s.sendall(request_bytes("GET", "/big.bin"))
            h = hashlib.sha256()
            rd = Reader(s)
            r = read_response(rd, time.monotonic() + 25, sha=h)
            self.assertEqual(r.status, 200)
            self.assertEqual(int(r.header("Content-Length")), 20 << 20)
            self.assertEqual(h.hexdigest(), self.files["big.bin"], "20 MiB body corrupted")
            # the connection is still usable afterwards
            s.sendall(request_bytes("GET", "/data.json"))
            r2 = read_response(rd, time.monotonic() + 5)
            self.assertEqual(r2.body, self.files["data.json"])
        print(f"\n    20 MiB in {time.monotonic() - t0:.2f} s", end=" ")

    def test_keep_alive_sequential(self):
        with connect(self.port) as s:
            rd = Reader(s)
            deadline = time.monotonic() + 10
            for name in ("page.html", "app.js", "sub/other.txt", "img.png"):
                s.sendall(request_bytes("GET", "/" + name))
                r = read_response(rd, deadline)
                self.assertEqual(r.status, 200, name)
                self.assertEqual(r.body, self.files[name], name)
                self.assertNotEqual((r.header("Connection") or "").lower(), "close", name)
            s.sendall(request_bytes("GET", "/nope"))  # a 404 keeps the connection too
            self.assertEqual(read_response(rd, deadline).status, 404)
            s.sendall(request_bytes("GET", "/status.json"))
            r = read_response(rd, deadline)
            self.assertEqual(r.status, 200)
            json.loads(r.body)

    def test_pipelined(self):
        plan = [("GET", "/page.html", 200, self.files["page.html"]),
                ("GET", "/mid.bin", 200, self.files["mid.bin"]),
                ("HEAD", "/data.json", 200, b""),
                ("GET", "/missing.txt", 404, None),
                ("GET", "/range.txt", 200, self.files["range.txt"]),
                ("GET", "/style.css", 200, self.files["style.css"])]
        blob = b"".join(request_bytes(m, t) for m, t, _, _ in plan)
        with connect(self.port) as s:
            s.sendall(blob)  # all requests in one send
            rd = Reader(s)
            deadline = time.monotonic() + 15
            for method, target, status, body in plan:
                r = read_response(rd, deadline, head_request=method == "HEAD")
                self.assertEqual(r.status, status, f"{method} {target}")
                if body is not None:
                    self.assertEqual(r.body, body, f"{method} {target}")

    def test_connection_close_honoured(self):
        with connect(self.port) as s:
            s.sendall(request_bytes("GET", "/page.html", close=True))
            data = Reader(s).read_to_eof(time.monotonic() + 5)
        self.assertTrue(data.startswith(b"HTTP/1.1 200"))
        self.assertTrue(data.endswith(self.files["page.html"]))

    # --- methods and malformed requests -----------------------------------------------------

    def test_post_static_405(self):
        for method in ("POST", "PUT", "DELETE"):
            r = http(self.port, method, "/page.html", body=b"x=1")
            self.assertEqual(r.status, 405, method)
            allow = r.header("Allow") or ""
            self.assertIn("GET", allow, f"{method}: Allow header {allow!r}")
            self.assertIn("HEAD", allow, f"{method}: Allow header {allow!r}")

    def test_header_over_limit_431(self):
        req = request_bytes("GET", "/page.html", [("X-Fill", "a" * 9000)])
        data = raw_exchange(self.port, req)
        self.assertTrue(data.startswith(b"HTTP/1.1 431"), data[:100])

    def test_many_headers_over_limit_431(self):
        req = request_bytes("GET", "/page.html", [(f"X-H{i}", "b" * 100) for i in range(100)])
        data = raw_exchange(self.port, req)
        self.assertTrue(data.startswith(b"HTTP/1.1 431"), data[:100])

    def test_long_target_plus_headers_over_limit_431(self):
        # the limit is on the whole head: a 6 KB request line plus 6 KB of fields is 12 KB
        req = request_bytes("GET", "/page.html?" + "q" * 6000, [("X-Fill", "a" * 6000)])
        data = raw_exchange(self.port, req)
        self.assertTrue(data.startswith(b"HTTP/1.1 431"),
                        f"{len(req)}-byte request head (limit 8192) answered {data[:12]!r}")

    def test_header_under_limit_ok(self):
        r = self.get("/page.html", [("X-Fill", "a" * 7000)])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.files["page.html"])

    def test_malformed_request_line_400(self):
        for line in (b"GARBAGE\r\n\r\n", b"GET /page.html HTTP/1.1 extra\r\n\r\n",
                     b"GET /page.html HTTX/1.1\r\nHost: a\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\r\n\r\n"):
            data = raw_exchange(self.port, line)
            self.assertTrue(data.startswith(b"HTTP/1.1 400"), f"{line!r} -> {data[:100]!r}")

    def test_slow_head_within_limit(self):
        req = request_bytes("GET", "/page.html")
        pieces = [req[i:i + 8] for i in range(0, len(req), 8)]
        gap = 4.0 / len(pieces)  # the whole head over ~4 s (limit: 10 s)
        with connect(self.port) as s:
            for p in pieces:
                s.sendall(p)
                time.sleep(gap)
            r = read_response(Reader(s), time.monotonic() + 5)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.files["page.html"])

    # --- built-in pages ---------------------------------------------------------------------

    def test_status_json(self):
        r = self.get("/status.json")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type", "").startswith("application/json"))
        doc = json.loads(r.body)
        for key in ("connections_open", "websockets_open", "messages_in_total",
                    "messages_out_total", "slow_consumer_closes_total", "dropped_messages_total",
                    "connections_accepted_total", "http_requests_total", "bytes_in_total",
                    "bytes_out_total", "protocol_errors_total"):
            self.assertIn(key, doc, f"/status.json lacks {key}: {sorted(doc)}")
            self.assertIsInstance(doc[key], int, key)
            self.assertGreaterEqual(doc[key], 0, key)
        self.assertGreaterEqual(doc["connections_open"], 1)  # this very request
        self.assertGreaterEqual(doc["http_requests_total"], 1)

    def test_status_json_counts_websockets(self):
        with dtest.RawWS(self.port, "/echo") as ws:
            ws.send_text("count me")
            self.assertEqual(ws.recv_message(), (dtest.OP_TEXT, b"count me"))
            doc = dtest.status_json(self.port)
            self.assertGreaterEqual(doc["websockets_open"], 1)
            self.assertGreaterEqual(doc["messages_in_total"], 1)

    def test_metrics(self):
        r = self.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type", "").startswith("text/plain"))
        text = r.body.decode()
        self.assertIn("# TYPE switchboard_connections_open gauge", text)
        values = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)", line)
            self.assertIsNotNone(m, f"bad exposition line {line!r}")
            values[m.group(1)] = float(m.group(2))
        for name in ("switchboard_connections_open", "switchboard_messages_in_total",
                     "switchboard_slow_consumer_closes_total",
                     "switchboard_dropped_messages_total"):
            self.assertIn(name, values)
        self.assertGreaterEqual(values["switchboard_connections_open"], 1)

    def test_status_page(self):
        r = self.get("/")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type", "").startswith("text/html"))
        self.assertIn(b"Switchboard", r.body)
        self.assertIn(b"<html", r.body.lower())


class LimitsTest(dtest.BoundedTestCase):
    """--max-body-size, and a short handshake timeout from a config file."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sb-http-limits-")
        www = os.path.join(cls.tmp, "www")
        os.makedirs(www)
        with open(os.path.join(www, "page.html"), "wb") as f:
            f.write(b"<p>limits</p>\n")
        cfg = os.path.join(cls.tmp, "sb.toml")
        with open(cfg, "w") as f:
            f.write("[timeouts]\nhandshake_timeout_ms = 1000\nkeep_alive_timeout_ms = 1000\n")
        cls.daemon = dtest.sbtest.Daemon(["--document-root", www, "--max-body-size", "1024",
                                          "--config", cfg]).start()
        cls.port = cls.daemon.port

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_body_over_limit_413(self):
        data = raw_exchange(self.port, request_bytes("POST", "/page.html", body=b"z" * 2048))
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:100])

    def test_declared_length_over_limit_413(self):
        # Content-Length alone (no body sent) is enough to refuse
        data = raw_exchange(self.port, b"POST /page.html HTTP/1.1\r\nHost: a\r\n"
                                       b"Content-Length: 100000000\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:100])

    def test_body_within_limit_not_413(self):
        r = http(self.port, "POST", "/page.html", body=b"z" * 1000)
        self.assertEqual(r.status, 405)

    def test_incomplete_head_408(self):
        with connect(self.port) as s:
            t0 = time.monotonic()
            s.sendall(b"GET /page.html HTTP/1.1\r\nHost: a\r\n")  # never finished
            data = Reader(s).read_to_eof(time.monotonic() + 5)
            waited = time.monotonic() - t0
        self.assertTrue(data.startswith(b"HTTP/1.1 408"), data[:100])
        self.assertLess(waited, 2.5)
        self.assertGreater(waited, 0.7)

    def test_idle_keep_alive_closed(self):
        with connect(self.port) as s:
            s.sendall(request_bytes("GET", "/page.html"))
            rd = Reader(s)
            r = read_response(rd, time.monotonic() + 5)
            self.assertEqual(r.status, 200)
            t0 = time.monotonic()
            rest = rd.read_to_eof(time.monotonic() + 5)
            waited = time.monotonic() - t0
        self.assertEqual(rest, b"")
        self.assertLess(waited, 2.5, "idle keep-alive connection not closed")
        self.assertGreater(waited, 0.7)


class FilesUnderBackpressureLimitTest(dtest.BoundedTestCase):
    """A file bigger than --max-backpressure, fetched by a client that reads as fast as it can:
    the body is paced by the socket, so the slow-consumer limit must not end the response. One
    io thread, so that every connection shares the worker's buffers."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sb-http-bp-")
        cls.www = os.path.join(cls.tmp, "www")
        os.makedirs(cls.www)
        cls.body = os.urandom(1 << 20)
        with open(os.path.join(cls.www, "mid.bin"), "wb") as f:
            f.write(cls.body)
        with open(os.path.join(cls.www, "small.txt"), "wb") as f:
            f.write(b"small and private to this client\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def fetch_mid(self, backpressure):
        with dtest.sbtest.Daemon(["--document-root", self.www, "--threads", "1",
                                  "--max-backpressure", str(backpressure)]) as d:
            with connect(d.port) as s:
                s.sendall(request_bytes("GET", "/mid.bin", close=True))
                data = Reader(s).read_to_eof(time.monotonic() + 10)
            # (read the counter tolerantly: this response may carry someone else's bytes)
            status = raw_exchange(d.port, request_bytes("GET", "/status.json", close=True))
            m = re.search(rb'"slow_consumer_closes_total":(\d+)', status)
            closes = int(m.group(1)) if m else None
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"),
                        f"--max-backpressure {backpressure}: GET of a 1 MiB file by a fast reader "
                        f"got {len(data)} bytes ({data[:40]!r}); slow_consumer_closes_total="
                        f"{closes}")
        self.assertEqual(body, self.body)
        self.assertEqual(closes, 0)

    def test_file_with_backpressure_256k(self):
        self.fetch_mid(262144)

    def test_file_with_backpressure_64k(self):
        self.fetch_mid(65536)

    def test_no_bytes_from_another_connection(self):
        # Whatever happens to one response, the next client on the worker gets only its own.
        with dtest.sbtest.Daemon(["--document-root", self.www, "--threads", "1",
                                  "--max-backpressure", "131072"]) as d:
            with connect(d.port) as s:
                s.sendall(request_bytes("GET", "/mid.bin", close=True))
                Reader(s).read_to_eof(time.monotonic() + 10)
            with connect(d.port) as s:
                s.sendall(request_bytes("GET", "/small.txt", close=True))
                data = Reader(s).read_to_eof(time.monotonic() + 10)
        leaked = data.find(b"HTTP/1.1")
        self.assertEqual(leaked, 0, f"second client got {leaked} bytes before its response; they "
                                    f"are mid.bin at offset {self.body.find(data[:max(leaked, 1)])}"
                                    " (the first client's file)")
        self.assertTrue(data.endswith(b"small and private to this client\n"))


class PipelinedFloodTest(dtest.BoundedTestCase):
    """Default limits. One client pipelines thousands of requests and never reads its responses
    (it may well be closed as a slow consumer); the next client on the same io thread must get
    its own response and nothing else."""

    def test_flood_does_not_reach_next_client(self):
        tmp = tempfile.mkdtemp(prefix="sb-http-flood-")
        try:
            page = b"<p>the victim's own page</p>\n"
            with open(os.path.join(tmp, "page.html"), "wb") as f:
                f.write(page)
            with dtest.sbtest.Daemon(["--document-root", tmp, "--threads", "1"]) as d:
                flood = connect(d.port, rcvbuf=4096, mss=536)
                req = b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"
                flood.settimeout(3)
                try:
                    flood.sendall(req * (200000 // len(req)))
                except OSError:
                    pass  # closed by the server: fine
                time.sleep(0.5)
                with connect(d.port) as s:
                    s.sendall(request_bytes("GET", "/page.html", close=True))
                    data = Reader(s).read_to_eof(time.monotonic() + 10)
                flood.close()
                self.assertIsNone(d.proc.poll(), "daemon died")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200") and b"text/html" in head,
                        f"the second client's response starts with someone else's bytes: "
                        f"{data[:120]!r} ({len(data)} bytes in all)")
        self.assertEqual(body, page)


if __name__ == "__main__":
    dtest.main()
