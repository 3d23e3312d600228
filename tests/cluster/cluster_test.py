"""Three switchboard daemons and one redis-server on loopback behave as one server (issue 6).

Every test starts a real redis-server (tests/support/redis.py) and real daemons with
--cluster redis://..., and talks to them with python3-websockets over real sockets:
  - a publish on node 1 reaches subscribers on nodes 2 and 3 at every QoS level, in order and
    with the same sequence numbers;
  - a level-2 history written through node 1 is recovered on node 2 ("since");
  - broadcast and presence span nodes; kill -9 of node 3 makes its members leave on the others
    within the configured bound;
  - Redis killed and restarted in the middle of a QoS 1 publish stream loses no acknowledged
    message (the test counts them);
  - 300 clients sent through the balancer spread within 10% over the three nodes, and a
    broadcast sent to the balancer's /broadcast reaches every node's /broadcast clients.
"""
import asyncio
import json
import os
import signal
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import websockets  # noqa: E402

import dtest  # noqa: E402
import sbtest  # noqa: E402
from redis import RedisServer  # noqa: E402

DEAD_AFTER_MS = 3000  # the nodes' bound for a silent node (the default is 10 s)


def req(method, params=None, id=None, qos=None):
    m = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        m["params"] = params
    if qos is not None:
        m["qos"] = qos
    if id is not None:
        m["id"] = id
    return json.dumps(m)


def presence_msg(method, **sections):
    m = {"jsonrpc": "2.0", "method": "sgc@presence@" + method}
    m.update(sections)
    return json.dumps(m)


async def recv(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def sgc_connect(url):
    ws = await websockets.connect(url, subprotocols=["esegece.com"], max_queue=None)
    session = await recv(ws)
    assert session["result"]["method"] == "sgc@session", session
    return ws


async def subscribe(ws, channel, **extra):
    """Subscribes and returns what came before the confirmation's end (the ACK is skipped)."""
    await ws.send(req("sgc@subscribe", dict(channel=channel, **extra), id="sub-" + channel))
    while True:
        m = await recv(ws)
        if m.get("result", {}).get("method") == "sgc@subscribe":
            return m


def http_json(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return json.loads(r.read())


class Cluster:
    """A redis-server and `n` daemons on it; node i is self.nodes[i] (0-based)."""

    def __init__(self, n=3, append_only=False, extra=()):
        self.n = n
        self.redis = RedisServer(append_only=append_only)
        self.extra = list(extra)
        self.nodes = []

    def __enter__(self):
        self.redis.__enter__()
        try:
            for i in range(self.n):
                self.nodes.append(self.start_node(f"node{i + 1}"))
            self.wait_for_nodes(self.n)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def start_node(self, node_id, role_args=()):
        d = sbtest.Daemon(["--cluster", self.redis.url, "--node-id", node_id,
                           "--cluster-dead-after", str(DEAD_AFTER_MS)] + list(role_args)
                          + self.extra)
        return d.start()

    def wait_for_nodes(self, count, timeout=10, daemons=None):
        """Until every daemon's /cluster.json lists `count` live nodes of role node."""
        deadline = time.monotonic() + timeout
        while True:
            seen = [len([x for x in http_json(d.port, "/cluster.json")["nodes"]
                         if x.get("role", "node") == "node"])
                    for d in (daemons or self.nodes) if d.proc.poll() is None]
            if all(s == count for s in seen):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"nodes see {seen} live nodes, want {count}")
            time.sleep(0.1)

    def url(self, i, path="/sgc"):
        return self.nodes[i].url(path)

    def __exit__(self, *exc):
        for d in self.nodes:
            try:
                d.stop()
            except Exception:
                pass
        self.redis.__exit__(None, None, None)


class ClusterTest(dtest.BoundedTestCase):
    timeout = 60

    def test_publish_spans_nodes_at_every_qos_in_order(self):
        async def run(c):
            subs = [await sgc_connect(c.url(i)) for i in (1, 2)]
            for ws in subs:
                await subscribe(ws, "orders")
            pub = await sgc_connect(c.url(0))
            sent = []
            for i in range(30):  # QoS 0, 1 and 2 interleaved, one publisher
                qos = ("qosLevel0", "qosLevel1", "qosLevel2")[i % 3]
                body = {"channel": "orders", "message": f"m{i}"}
                if qos == "qosLevel0":
                    await pub.send(req("sgc@publish", body))
                elif qos == "qosLevel1":
                    await pub.send(req("sgc@publish", body, id=f"p{i}", qos=qos))
                    ack = await recv(pub)
                    self.assertEqual((ack["id"], ack["result"]["method"]),
                                     (f"p{i}", "sgc@acknowledgment"))
                else:
                    await pub.send(req("sgc@publish", body, id=f"p{i}", qos=qos))
                    self.assertEqual((await recv(pub))["result"]["method"], "sgc@pubrec")
                    await pub.send(req("sgc@pubrel", {"qos": qos}, id=f"p{i}", qos=qos))
                    self.assertEqual((await recv(pub))["result"]["method"], "sgc@acknowledgment")
                sent.append(f"m{i}")
            for ws in subs:
                events = [(await recv(ws))["result"] for _ in sent]
                self.assertEqual([e["message"] for e in events], sent)
                self.assertEqual([e["sequence"] for e in events], list(range(1, 31)))
            for ws in subs + [pub]:
                await ws.close()

        with Cluster() as c:
            asyncio.run(run(c))

    def test_history_written_on_node_1_is_recovered_on_node_2(self):
        async def run(c):
            pub = await sgc_connect(c.url(0))
            for i in range(1, 6):
                await pub.send(req("sgc@publish", {"channel": "log", "message": f"h{i}",
                                                   "queue": "queueLevel2"}, id=f"h{i}",
                                   qos="qosLevel1"))
                self.assertEqual((await recv(pub))["result"]["method"], "sgc@acknowledgment")
            # A client that saw up to 2 on node 1 reconnects to node 2 and asks for the rest.
            late = await sgc_connect(c.url(1))
            confirmed = await subscribe(late, "log", since=2)
            self.assertTrue(confirmed["result"].get("recovered"), confirmed)
            got = [(await recv(late))["result"] for _ in range(3)]
            self.assertEqual([(e["message"], e["sequence"]) for e in got],
                             [("h3", 3), ("h4", 4), ("h5", 5)])
            # A new subscriber on node 3 gets the whole retained queue.
            fresh = await sgc_connect(c.url(2))
            await subscribe(fresh, "log")
            got = [(await recv(fresh))["result"]["message"] for _ in range(5)]
            self.assertEqual(got, ["h1", "h2", "h3", "h4", "h5"])
            for ws in (pub, late, fresh):
                await ws.close()

        with Cluster() as c:
            asyncio.run(run(c))

    def test_broadcast_spans_nodes(self):
        async def run(c):
            listeners = [await sgc_connect(c.url(i)) for i in range(3)]
            await listeners[0].send(req("sgc@broadcast", {"message": "to everyone"}))
            for ws in listeners:
                m = await recv(ws)
                self.assertEqual(m["params"]["message"] if "params" in m else
                                 m["result"]["message"], "to everyone")
            for ws in listeners:
                await ws.close()

        with Cluster() as c:
            asyncio.run(run(c))

    def test_presence_spans_nodes_and_a_killed_node_leaves(self):
        async def join(url, name, channel):
            ws = await websockets.connect(url, subprotocols=["presence.esegece.com"])
            sid = (await recv(ws))["message"]["text"]
            await ws.send(presence_msg("member@new", member={"id": sid, "name": name, "info": ""}))
            while (await recv(ws))["method"] != "sgc@presence@member@new":
                pass
            await ws.send(presence_msg("channel@member@new", member={"id": sid},
                                       channel={"name": channel}))
            return ws, sid

        async def run(c):
            ann, ann_id = await join(c.url(1, "/ws/presence"), "Ann", "room")  # node 2
            bob, bob_id = await join(c.url(2, "/ws/presence"), "Bob", "room")  # node 3
            # Node 2's member sees node 3's member join the room and in the member list.
            while True:
                m = await recv(ann)
                if (m["method"] == "sgc@presence@channel@member@new"
                        and m["member"]["id"] == bob_id):
                    break
            await ann.send(presence_msg("get@members", member={"id": ann_id},
                                        channel={"name": "room"}))
            while True:
                m = await recv(ann)
                if m["method"] == "sgc@presence@send@members":
                    break
            self.assertEqual(sorted(x["name"] for x in m["members"]), ["Ann", "Bob"])
            # Node 3 dies without a word: Ann sees Bob leave the room and the presence.
            c.nodes[2].proc.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            left = set()
            while len(left) < 2:
                m = await recv(ann, timeout=DEAD_AFTER_MS / 1000 + 5)
                if m.get("member", {}).get("id") == bob_id and m["method"] in (
                        "sgc@presence@channel@member@remove", "sgc@presence@member@remove"):
                    left.add(m["method"])
            elapsed = time.monotonic() - killed
            self.assertLess(elapsed, DEAD_AFTER_MS / 1000 + 1.5,
                            f"leave events after {elapsed:.1f} s")
            await ann.close()

        with Cluster() as c:
            asyncio.run(run(c))

    def test_redis_outage_loses_no_acknowledged_qos1_message(self):
        total = 300

        async def run(c):
            sub = await sgc_connect(c.url(1))
            await subscribe(sub, "stream")
            pub = await sgc_connect(c.url(0))
            received = set()
            acked = set()

            async def read_sub():
                while len(received) < len(acked) or len(acked) < total:
                    m = await recv(sub, timeout=20)
                    received.add(m["result"]["message"])

            async def read_acks():
                while len(acked) < total:
                    m = await recv(pub, timeout=20)
                    if m.get("result", {}).get("method") == "sgc@acknowledgment":
                        acked.add(m["id"])

            async def publish():
                for i in range(total):
                    await pub.send(req("sgc@publish", {"channel": "stream", "message": f"s{i}"},
                                       id=f"s{i}", qos="qosLevel1"))
                    await asyncio.sleep(0.005)
                    if i == 100:
                        c.redis.kill()
                    if i == 200:
                        c.redis.restart()

            await asyncio.gather(publish(), read_acks(), read_sub())
            self.assertEqual(len(acked), total)
            self.assertFalse(acked - received, "acknowledged but never delivered on node 2")
            for ws in (sub, pub):
                await ws.close()

        with Cluster(n=2, append_only=True) as c:
            asyncio.run(run(c))

    def test_balancer_spreads_300_clients_within_10_percent(self):
        async def run(c, balancer):
            clients = []
            for _ in range(300):
                clients.append(await websockets.connect(balancer.url("/echo")))
            counts = [http_json(d.port, "/status.json")["websockets_open"] for d in c.nodes]
            self.assertEqual(sum(counts), 300, counts)
            for n in counts:
                self.assertLessEqual(abs(n - 100), 10, counts)
            for ws in clients:
                await ws.close()

        with Cluster() as c:
            balancer = c.start_node("lb", ["--role", "balancer"])
            try:
                c.wait_for_nodes(3, daemons=[balancer])
                asyncio.run(run(c, balancer))
            finally:
                balancer.stop()

    def test_broadcast_sent_to_the_balancer_reaches_every_node(self):
        async def run(c, balancer):
            listeners = [await websockets.connect(d.url("/broadcast")) for d in c.nodes]
            # Every node's hub bridge subscribed before its node joined: the wait_for_nodes()
            # before run() covers it.
            sender = await websockets.connect(balancer.url("/broadcast"))
            await sender.send("to every node")
            for ws in listeners:
                self.assertEqual(await asyncio.wait_for(ws.recv(), 10), "to every node")
            for ws in listeners + [sender]:
                await ws.close()

        with Cluster() as c:
            balancer = c.start_node("lb", ["--role", "balancer"])
            try:
                c.wait_for_nodes(3, daemons=[balancer])
                asyncio.run(run(c, balancer))
            finally:
                balancer.stop()


if __name__ == "__main__":
    dtest.main()
