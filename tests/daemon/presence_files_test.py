"""The Presence and Files protocols in the daemon (issue 5): /ws/presence answers
presence.esegece.com with the session message and members, /ws/files answers files.esegece.com
with subscriptions and transfers into --files-dir, the daemon serves /presence.js, /files.js and
the /presence page (its meta tags naming the routes), --presence-path / --files-path '' turn them
off, a raw Files frame whose header length lies closes the connection with 1007, a `../` name is
refused with sgc@file_sent_error "File Rejected.", and the default receive directory is private.
The protocols are tested in depth by tests/unit/protocols/{presence,files}/ and the browser
clients by tests/interop/{presence_js,files_js,presence}_test.js.
"""
import asyncio
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
import uuid

import websockets

import dtest
import sbtest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def presence_msg(method, **sections):
    m = {"jsonrpc": "2.0", "method": "sgc@presence@" + method}
    m.update(sections)
    return json.dumps(m)


def files_frame(fields, payload=b""):
    """A Files frame (4.1) from the 12 fields, in order."""
    header = "|".join(str(f) for f in fields).encode()
    return b"%010d" % len(header) + header + payload


def parse_frame(data):
    n = int(data[:10])
    fields = data[10:10 + n].decode().split("|")
    assert len(fields) == 12, fields
    return fields, data[10 + n:]


async def recv_json(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def recv_frame(ws):
    data = await asyncio.wait_for(ws.recv(), 5)
    assert isinstance(data, bytes), f"expected a binary frame, got {data!r}"
    return parse_frame(data)


def file_header(name, size, qos="qosLevel1", file_id=None, text=""):
    return [str(uuid.uuid4()), file_id or str(uuid.uuid4()), name, size, 0, 0, "", "stmNone", qos,
            "sgc@file", text, ""]


class PresenceFilesTest(dtest.BoundedTestCase):
    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="sb-files-test-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        super().tearDown()

    def test_presence_session_members_and_leave(self):
        async def run(url):
            a = await websockets.connect(url, subprotocols=["presence.esegece.com"])
            self.assertEqual(a.subprotocol, "presence.esegece.com")
            session = await recv_json(a)
            self.assertEqual(session["method"], "sgc@presence@session")
            sa = session["message"]["text"]
            await a.send(presence_msg("member@new", member={"id": sa, "name": "Ann", "info": ""}))
            self.assertEqual((await recv_json(a))["member"], {"id": sa, "name": "Ann", "info": ""})
            b = await websockets.connect(url, subprotocols=["presence.esegece.com"])
            sb = (await recv_json(b))["message"]["text"]
            await b.send(presence_msg("member@new", member={"id": sb, "name": "Bob", "info": ""}))
            self.assertEqual((await recv_json(a))["member"]["name"], "Bob")
            await recv_json(b)
            # Ann's join is confirmed before Bob sends his: the two connections may be served by
            # different io threads, so a join sent first on one is not ordered before the other's.
            await a.send(presence_msg("channel@member@new", member={"id": sa},
                                      channel={"name": "r"}))
            self.assertEqual((await recv_json(a))["member"]["name"], "Ann")
            await b.send(presence_msg("channel@member@new", member={"id": sb},
                                      channel={"name": "r"}))
            joined = await recv_json(a)
            self.assertEqual((joined["method"], joined["member"]["name"], joined["channel"]),
                             ("sgc@presence@channel@member@new", "Bob", {"name": "r"}))
            await b.send(presence_msg("get@members", member={"id": sb}, channel={"name": "r"}))
            reply = None
            while reply is None or reply["method"] != "sgc@presence@send@members":
                reply = await recv_json(b)
            self.assertEqual(sorted(m["name"] for m in reply["members"]), ["Ann", "Bob"])
            # Bob's connection closes: Ann sees him leave the channel and the presence (two
            # actors send these, the channel's and the lobby's, so either may come first).
            await b.close()
            got = sorted([(m["method"], m["member"]["id"], m.get("channel"))
                          for m in [await recv_json(a), await recv_json(a)]])
            self.assertEqual(got, [("sgc@presence@channel@member@remove", sb, {"name": "r"}),
                                   ("sgc@presence@member@remove", sb, None)])
            await a.close()

        with sbtest.Daemon(["--files-dir", self.dir]) as d:
            asyncio.run(run(d.url("/ws/presence")))

    def test_files_transfer_subscribe_and_refusals(self):
        async def run(url):
            ws = await websockets.connect(url, subprotocols=["files.esegece.com"], max_size=None)
            self.assertEqual(ws.subprotocol, "files.esegece.com")
            # Subscriptions are default-protocol text frames (4.1).
            await ws.send(json.dumps({"jsonrpc": "2.0", "method": "sgc@subscribe",
                                      "params": {"channel": "c1"}, "id": "s1"}))
            confirmed = await recv_json(ws)
            self.assertEqual((confirmed["result"]["method"], confirmed["result"]["channel"]),
                             ("sgc@subscribe", "c1"))
            # QoS 1: header and one chunk, each acked with the same Id, then file_received.
            body = os.urandom(5000)
            header = file_header("hello.bin", len(body),
                                 text="sha256:" + hashlib.sha256(body).hexdigest())
            await ws.send(files_frame(header))
            ack, _ = await recv_frame(ws)
            self.assertEqual((ack[0], ack[9]), (header[0], "sgc@acknowledgment"))
            chunk = [str(uuid.uuid4()), header[1], "hello.bin", len(body), len(body), 0, "",
                     "stmLast", "qosLevel1", "sgc@file", "", ""]
            await ws.send(files_frame(chunk, body))
            ack, _ = await recv_frame(ws)
            self.assertEqual((ack[0], ack[9]), (chunk[0], "sgc@acknowledgment"))
            done, _ = await recv_frame(ws)
            self.assertEqual((done[1], done[9]), (header[1], "sgc@file_received"))
            with open(os.path.join(self.dir, "hello.bin"), "rb") as f:
                self.assertEqual(f.read(), body)
            # A `../` name (and an absolute one) is refused politely; the connection stays.
            for name in ("../escape.txt", "/etc/passwd"):
                bad = file_header(name, 3)
                await ws.send(files_frame(bad))
                err, _ = await recv_frame(ws)
                self.assertEqual((err[1], err[9], err[10]),
                                 (bad[1], "sgc@file_sent_error", "File Rejected."))
            self.assertFalse(os.path.exists(os.path.join(os.path.dirname(self.dir), "escape.txt")))
            self.assertEqual(sorted(os.listdir(self.dir)), ["hello.bin"])
            # A header length that lies: closed with 1007.
            await ws.send(b"0000009999" + b"x|y")
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed as e:
                self.assertEqual(e.rcvd.code if e.rcvd else None, 1007)

        with sbtest.Daemon(["--files-dir", self.dir]) as d:
            asyncio.run(run(d.url("/ws/files")))

    def test_web_assets_and_routes(self):
        with sbtest.Daemon(["--files-dir", self.dir]) as d:
            for path, file, ctype in (
                    ("/presence.js", "protocols/presence/presence.js", "application/javascript"),
                    ("/files.js", "protocols/files/files.js", "application/javascript"),
                    ("/presence", "protocols/presence/presence.html", "text/html")):
                r = dtest.http(d.port, "GET", path)
                self.assertEqual(r.status, 200, path)
                self.assertTrue(r.header("Content-Type").startswith(ctype), r.header("Content-Type"))
                with open(os.path.join(ROOT, file), "rb") as f:
                    self.assertEqual(r.body, f.read(), f"GET {path} differs from {file}")

    def test_paths_moved_and_turned_off(self):
        with sbtest.Daemon(["--files-dir", self.dir, "--presence-path", "", "--files-path",
                            "/x/files"]) as d:
            self.assertEqual(dtest.http(d.port, "GET", "/presence").status, 404)
            self.assertEqual(dtest.http(d.port, "GET", "/presence.js").status, 200)

            async def run():
                # Other paths go to the hub's catch-all route ("/*"): no presence subprotocol
                # and no session message.
                off = await websockets.connect(d.url("/ws/presence"),
                                               subprotocols=["presence.esegece.com"])
                self.assertIsNone(off.subprotocol)
                with self.assertRaises(asyncio.TimeoutError):
                    await asyncio.wait_for(off.recv(), 0.5)
                await off.close()
                ws = await websockets.connect(d.url("/x/files"), subprotocols=["files.esegece.com"])
                self.assertEqual(ws.subprotocol, "files.esegece.com")
                await ws.close()
            asyncio.run(run())
        with sbtest.Daemon(["--files-dir", self.dir, "--files-path", ""]) as d:
            page = dtest.http(d.port, "GET", "/presence").body.decode()
            self.assertIn('<meta name="files-path" content="">', page)
            self.assertIn('<meta name="presence-path" content="/ws/presence">', page)

            async def run_off():
                off = await websockets.connect(d.url("/ws/files"), subprotocols=["files.esegece.com"])
                self.assertIsNone(off.subprotocol)
                await off.close()
            asyncio.run(run_off())

    def test_default_files_dir_is_private(self):
        tmp = tempfile.mkdtemp(prefix="sb-tmpdir-")
        try:
            env = dict(os.environ, TMPDIR=tmp)
            default = os.path.join(tmp, f"switchboard-files-{os.getuid()}")
            with sbtest.Daemon([], env=env):
                st = os.lstat(default)
                self.assertTrue(stat.S_ISDIR(st.st_mode))
                self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)
            # A symlink planted at the default path is refused (exit 1, naming --files-dir).
            os.rmdir(default)
            os.symlink(self.dir, default)
            p = subprocess.run([sbtest.daemon_path(), "--listen", "127.0.0.1:0"], env=env,
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(b"--files-dir", p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_bad_flags(self):
        for args in (["--presence-path", "nope"], ["--files-path", "x"], ["--files-max-size", "-1"],
                     ["--files-dir", ""], ["--presence-path", "/sgc"]):
            p = subprocess.run([sbtest.daemon_path()] + args, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=10)
            self.assertEqual(p.returncode, 2, f"{args}: {p.stderr!r}")


if __name__ == "__main__":
    dtest.main()
