"""The default sgc protocol in the daemon (issue 4, first steps): /sgc answers the subprotocol
esegece.com with the session message, pub/sub with wildcards and queues, QoS 2, transactions
and JSON-RPC errors, spoken by a real python3-websockets client; --sgc-path moves or turns it
off. The protocol itself is tested in depth by tests/unit/protocols/sgc/.
"""
import asyncio
import json
import socket

import websockets

import dtest
import sbtest


def req(method, params=None, id=None, qos=None):
    m = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        m["params"] = params
    if qos is not None:
        m["qos"] = qos
    if id is not None:
        m["id"] = id
    return json.dumps(m)


async def connect(url):
    ws = await websockets.connect(url, subprotocols=["esegece.com"])
    session = json.loads(await ws.recv())
    return ws, session


async def recv(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


class SgcTest(dtest.BoundedTestCase):
    def test_session_pubsub_wildcards_and_queues(self):
        async def run(url):
            a, session = await connect(url)
            self.assertEqual(a.subprotocol, "esegece.com")
            self.assertEqual(session["result"]["method"], "sgc@session")
            self.assertEqual(session["id"], session["result"]["message"])
            b, _ = await connect(url)
            # A retained history (queue level 2) before anyone subscribes.
            for i in range(3):
                await b.send(req("sgc@publish", {"channel": "news.eu", "message": f"old {i}",
                                                 "queue": "queueLevel2"}))
            await a.send(req("sgc@subscribe", {"channel": "news.*"}, id="s1"))
            self.assertEqual(await recv(a), {"jsonrpc": "2.0", "id": "s1",
                                             "result": {"method": "sgc@acknowledgment"}})
            confirmed = await recv(a)
            self.assertEqual(confirmed["result"]["method"], "sgc@subscribe")
            # A channel that appears after the pattern subscription still matches it. The
            # pattern also matched news.eu, whose history is replayed (its own actor sends it,
            # so it may come before or after the new event).
            await b.send(req("sgc@publish", {"channel": "news.us", "message": {"price": 1.25}}))
            events = [(await recv(a))["result"] for _ in range(4)]
            us = [e for e in events if e["channel"] == "news.us"]
            self.assertEqual([e["message"] for e in us], [{"price": 1.25}])
            eu = [e["message"] for e in events if e["channel"] == "news.eu"]
            self.assertEqual(eu, ["old 0", "old 1", "old 2"])
            # A late subscriber by name gets the history first, with sequence numbers.
            c, _ = await connect(url)
            await c.send(req("sgc@subscribe", {"channel": "news.eu"}))
            self.assertEqual((await recv(c))["result"]["method"], "sgc@subscribe")
            replay = [await recv(c) for _ in range(3)]
            self.assertEqual([e["result"]["message"] for e in replay], ["old 0", "old 1", "old 2"])
            self.assertEqual([e["result"]["sequence"] for e in replay], [1, 2, 3])
            for ws in (a, b, c):
                await ws.close()

        with sbtest.Daemon([]) as d:
            asyncio.run(run(d.url("/sgc")))

    def test_qos2_transactions_and_errors(self):
        async def run(url):
            a, _ = await connect(url)
            b, _ = await connect(url)
            await b.send(req("sgc@subscribe", {"channel": "orders"}))
            await recv(b)
            # QoS 2: stored and answered with PUBREC, delivered once on PUBREL.
            publish = req("sgc@publish", {"channel": "orders", "message": "once",
                                          "qos": "qosLevel2"}, id="q1", qos="qosLevel2")
            await a.send(publish)
            self.assertEqual((await recv(a))["result"]["method"], "sgc@pubrec")
            pubrel = req("sgc@pubrel", {"qos": "qosLevel2"}, id="q1", qos="qosLevel2")
            await a.send(pubrel)
            self.assertEqual((await recv(a))["result"]["method"], "sgc@acknowledgment")
            self.assertEqual((await recv(b))["result"]["message"], "once")
            await a.send(publish)  # the client never saw the ACK and sends both again
            self.assertEqual((await recv(a))["result"]["method"], "sgc@pubrec")
            await a.send(pubrel)
            self.assertEqual((await recv(a))["result"]["method"], "sgc@acknowledgment")
            # A transaction: stored until commit, then delivered in order.
            await a.send(req("sgc@transaction", {"channel": "orders"}))
            for m in ("t1", "t2"):
                await a.send(req("sgc@publish", {"channel": "orders", "message": m}))
            await a.send(req("sgc@commit", {"channel": "orders"}))
            got = [(await recv(b))["result"]["message"] for _ in range(2)]
            self.assertEqual(got, ["t1", "t2"], "nothing duplicated by the QoS 2 retry either")
            # Errors are answered and the connection stays open.
            await a.send("{not json")
            self.assertEqual((await recv(a))["error"]["code"], -32700)
            await a.send(req("no.such.method", {}, id=42))
            self.assertEqual((await recv(a))["result"]["method"], "sgc@acknowledgment")
            err = await recv(a)
            self.assertEqual((err["error"]["code"], err["id"]), (-32601, 42))
            await a.send(req("sgc@subscribe", {"channel": 5}, id="bad"))
            self.assertEqual((await recv(a))["error"]["code"], -32602)
            await a.send(req("sgc@session"))
            self.assertEqual((await recv(a))["result"]["method"], "sgc@session")
            await a.close()
            await b.close()

        with sbtest.Daemon([]) as d:
            asyncio.run(run(d.url("/sgc")))

    def test_server_sent_events(self):
        def open_stream(port, channel, last_id=None):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            extra = f"Last-Event-ID: {last_id}\r\n" if last_id is not None else ""
            s.sendall(f"GET /sse/{channel} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
                      f"{extra}\r\n".encode())
            return s

        def read_events(s, count, head=False):
            """The response head (with head=True) and the next `count` events."""
            data = b""
            while True:
                body = data
                if head:
                    body = data.partition(b"\r\n\r\n")[2] if b"\r\n\r\n" in data else b""
                if count and body.count(b"\n\n") >= count:
                    break
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            top = data.partition(b"\r\n\r\n")[0] if head else b""
            events = [e for e in body.decode().split("\n\n") if e]
            return top.decode(), events

        async def publish(url, channel, messages, queue="queueLevel2"):
            ws, _ = await connect(url)
            for m in messages:
                await ws.send(req("sgc@publish", {"channel": channel, "message": m,
                                                  "queue": queue}))
            await ws.close()

        with sbtest.Daemon([]) as d:
            asyncio.run(publish(d.url("/sgc"), "ticks", ["t1", {"p": 2}]))
            s = open_stream(d.port, "ticks")
            head, events = read_events(s, 2, head=True)  # the retained history first
            self.assertIn("200 OK", head)
            self.assertIn("Content-Type: text/event-stream", head)
            self.assertEqual(events, ['id: 1\ndata: "t1"', 'id: 2\ndata: {"p": 2}'])
            asyncio.run(publish(d.url("/sgc"), "ticks", ["t3"]))
            _, live = read_events(s, 1)
            self.assertEqual(live, ['id: 3\ndata: "t3"'])
            s.close()
            # An EventSource reconnecting with Last-Event-ID gets only what it missed.
            s = open_stream(d.port, "ticks", last_id=2)
            _, resumed = read_events(s, 1, head=True)
            self.assertEqual(resumed, ['id: 3\ndata: "t3"'])
            s.close()
            # History that no longer reaches back (level 1 keeps only the last) is said so.
            asyncio.run(publish(d.url("/sgc"), "last", ["a", "b", "c"], queue="queueLevel1"))
            s = open_stream(d.port, "last", last_id=1)
            _, told = read_events(s, 2, head=True)
            self.assertEqual(told, ["event: recovery\ndata: false", 'id: 3\ndata: "c"'])
            s.close()
            # Patterns and lists are not streams.
            self.assertEqual(dtest.http(d.port, "GET", "/sse/news*").status, 404)
            self.assertEqual(dtest.http(d.port, "GET", "/sse/").status, 404)

    def test_path_flag(self):
        async def proto(url):
            async with websockets.connect(url, subprotocols=["esegece.com"]) as ws:
                return ws.subprotocol

        with sbtest.Daemon(["--sgc-path", "/rpc"]) as d:
            self.assertEqual(asyncio.run(proto(d.url("/rpc"))), "esegece.com")
        with sbtest.Daemon(["--sgc-path", ""]) as d:
            # Off: /sgc is an ordinary hub path, which picks no subprotocol.
            self.assertIsNone(asyncio.run(proto(d.url("/sgc"))))


if __name__ == "__main__":
    dtest.main()
