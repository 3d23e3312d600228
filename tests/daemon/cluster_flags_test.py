"""The daemon's cluster flags and pages (issue 6): --cluster, --role, --advertise, --node-id,
--cluster-dead-after and --lb-mode; /cluster, /cluster.json and the switchboard_cluster_* lines
of /metrics; a balancer in front of two nodes on a real redis-server: GET /lb/node picks the
least loaded, upgrades are redirected with 307 (path and query kept) or proxied, a drained node
leaves at once and a killed one within the bound.
"""
import json
import os
import subprocess
import sys
import time

import dtest
import sbtest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import redis  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
NODE_MODULES = os.path.join(ROOT, "tests", "interop", "node_modules")

# sgc.js in node (npm `ws` from tests/interop): connects as told, prints where its session
# opened and which node the balancer named.
SGC_JS_CLIENT = r"""
const sgcws = require(process.argv[1]);
const options = JSON.parse(process.argv[3]);
options.WebSocket = require('ws');
options.reconnect = false;
const c = new sgcws(process.argv[2], options);
c.on('error', () => {});
c.on('sgcsession', () => {
  console.log(JSON.stringify({target: c.target, node: c.node}));
  c.close();
  process.exit(0);
});
setTimeout(() => { console.log('{"timeout":true}'); process.exit(1); }, 8000);
"""

UPGRADE = ("Upgrade: websocket", "Connection: Upgrade",
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13")


def cluster_json(port):
    r = dtest.http(port, "GET", "/cluster.json")
    assert r.status == 200, r
    return json.loads(r.body)


def metrics(port):
    r = dtest.http(port, "GET", "/metrics")
    assert r.status == 200, r
    return r.body.decode()


def upgrade(port, target):
    """A WebSocket upgrade request; the HTTP response it gets."""
    with dtest.connect(port) as s:
        s.sendall(dtest.request_bytes("GET", target, [tuple(h.split(": ", 1)) for h in UPGRADE]))
        return dtest.read_response(dtest.Reader(s), time.monotonic() + 5)


def live_ids(port):
    return sorted(n["id"] for n in cluster_json(port)["nodes"])


class FlagsTest(dtest.BoundedTestCase):
    def refused(self, *args):
        p = subprocess.run([sbtest.daemon_path(), *args], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 2, p)
        return p.stderr.decode()

    def test_bad_cluster_flags_are_refused_with_a_reason(self):
        self.assertIn("--role balancer needs --cluster", self.refused("--role", "balancer"))
        self.assertIn("redis://", self.refused("--cluster", "http://127.0.0.1:6379"))
        self.assertIn("--role takes node or balancer", self.refused("--role", "leader"))
        self.assertIn("--lb-mode takes redirect or proxy", self.refused("--lb-mode", "dns"))
        self.assertIn("--advertise", self.refused("--advertise", "127.0.0.1:8081"))
        self.assertIn("--node-id", self.refused("--node-id", "a b"))
        self.assertIn("at least 1000", self.refused("--cluster-dead-after", "10"))

    def test_a_single_node_shows_itself_on_the_local_broker(self):
        with sbtest.Daemon(["--node-id", "solo"]) as d:
            c = cluster_json(d.port)
            self.assertEqual(c["self"], "solo")
            self.assertEqual(len(c["nodes"]), 1)
            n = c["nodes"][0]
            self.assertEqual((n["id"], n["role"], n["self"], n["draining"]),
                             ("solo", "node", True, False))
            self.assertEqual(n["url"], f"ws://127.0.0.1:{d.port}")
            self.assertEqual(c["link"]["endpoint"], "local")
            self.assertTrue(c["link"]["connected"])
            page = dtest.http(d.port, "GET", "/cluster")
            self.assertEqual(page.status, 200)
            self.assertIn(b"/cluster.json", page.body)
            m = metrics(d.port)
            self.assertIn("switchboard_cluster_nodes_live 1\n", m)
            self.assertIn("switchboard_cluster_link_up 1\n", m)
            self.assertIn('switchboard_cluster_node_load{node="solo",role="node",draining="false"}', m)
            self.assertNotIn("switchboard_balancer_", m)
            # The load is this node's open WebSockets, read at each heartbeat.
            with dtest.RawWS(d.port, "/echo"), dtest.RawWS(d.port, "/echo"):
                self.assertTrue(dtest.wait_until(
                    lambda: cluster_json(d.port)["nodes"][0]["load"] == 2, 4))


class BalancerTest(dtest.BoundedTestCase):
    timeout = 60

    def test_balancer_redirects_to_the_least_loaded_and_follows_drain_and_kill(self):
        with redis.RedisServer() as r:
            common = ["--cluster", r.url, "--cluster-dead-after", "2000"]
            n1 = sbtest.Daemon(common + ["--node-id", "n1"]).start()
            n2 = sbtest.Daemon(common + ["--node-id", "n2"]).start()
            lb = sbtest.Daemon(common + ["--role", "balancer", "--node-id", "lb"]).start()
            try:
                self.assertTrue(dtest.wait_until(
                    lambda: live_ids(lb.port) == ["lb", "n1", "n2"], 5), live_ids(lb.port))
                c = cluster_json(lb.port)
                self.assertEqual({n["id"]: n["role"] for n in c["nodes"]},
                                 {"lb": "balancer", "n1": "node", "n2": "node"})
                self.assertTrue(c["link"]["connected"])
                self.assertTrue(c["link"]["endpoint"].startswith("redis://127.0.0.1:"))
                # Two clients on n1: once the heartbeats carry it, n2 is the least loaded.
                with dtest.RawWS(n1.port, "/echo"), dtest.RawWS(n1.port, "/echo"):
                    self.assertTrue(dtest.wait_until(
                        lambda: {n["id"]: n["load"] for n in cluster_json(lb.port)["nodes"]}
                        .get("n1") == 2, 5))
                    got = dtest.http(lb.port, "GET", "/lb/node")
                    self.assertEqual(got.status, 200)
                    self.assertEqual(json.loads(got.body),
                                     {"url": f"ws://127.0.0.1:{n2.port}", "node": "n2"})
                    # An upgrade on the balancer: 307 to that node, path and query kept.
                    resp = upgrade(lb.port, "/sgc?token=a%2Fb&x=1")
                    self.assertEqual(resp.status, 307)
                    self.assertEqual(resp.header("Location"),
                                     f"ws://127.0.0.1:{n2.port}/sgc?token=a%2Fb&x=1")
                    # The balancer is not a back end: no /echo of its own.
                    m = metrics(lb.port)
                    self.assertIn("switchboard_balancer_redirected_total 1\n", m)
                    self.assertIn("switchboard_cluster_nodes_live 3\n", m)
                # A drained node (SIGTERM) leaves at once, well before dead-after.
                self.assertEqual(n1.stop(), 0)
                t0 = time.monotonic()
                self.assertTrue(dtest.wait_until(lambda: live_ids(lb.port) == ["lb", "n2"], 5))
                self.assertLess(time.monotonic() - t0, 1.5)
                # A killed node (SIGKILL) leaves within dead-after plus a heartbeat.
                n2.proc.kill()
                n2.proc.wait()
                t0 = time.monotonic()
                self.assertTrue(dtest.wait_until(lambda: live_ids(lb.port) == ["lb"], 6))
                self.assertLess(time.monotonic() - t0, 2.0 + 1.0 + 0.8)
                self.assertEqual(dtest.http(lb.port, "GET", "/lb/node").status, 503)
                self.assertEqual(upgrade(lb.port, "/sgc").status, 503)
            finally:
                for d in (lb, n2, n1):
                    d.stop()

    def test_proxy_mode_relays_a_websocket_through_the_balancer(self):
        with redis.RedisServer() as r:
            common = ["--cluster", r.url]
            node = sbtest.Daemon(common + ["--node-id", "n1"]).start()
            lb = sbtest.Daemon(common + ["--role", "balancer", "--lb-mode", "proxy"]).start()
            try:
                self.assertTrue(dtest.wait_until(lambda: len(live_ids(lb.port)) == 2, 5))
                with dtest.RawWS(lb.port, "/echo?via=lb") as ws:
                    ws.send_text("through the balancer")
                    self.assertEqual(ws.recv_message(), (dtest.OP_TEXT, b"through the balancer"))
                    big = bytes(i % 251 for i in range(200000))
                    ws.send(dtest.OP_BINARY, big)
                    self.assertEqual(ws.recv_message(), (dtest.OP_BINARY, big))
                    self.assertEqual(dtest.status_json(node.port)["websockets_open"], 1)
                self.assertIn("switchboard_balancer_proxied_total 1\n", metrics(lb.port))
                self.assertTrue(dtest.wait_until(
                    lambda: dtest.status_json(node.port)["websockets_open"] == 0, 5))
            finally:
                lb.stop()
                node.stop()


class ClientsFollowTest(dtest.BoundedTestCase):
    timeout = 60

    def sgc_js(self, url, **options):
        if not os.path.isdir(os.path.join(NODE_MODULES, "ws")):
            self.skipTest("npm ws is not installed in tests/interop (scripts/setup.sh)")
        env = dict(os.environ, NODE_PATH=NODE_MODULES)
        p = subprocess.run(["node", "-e", SGC_JS_CLIENT,
                            os.path.join(ROOT, "protocols", "sgc", "sgc.js"), url,
                            json.dumps(options)], capture_output=True, timeout=20, env=env)
        self.assertEqual(p.returncode, 0, p)
        return json.loads(p.stdout.decode().strip().splitlines()[-1])

    def test_sgc_js_asks_the_balancer_then_falls_back_to_its_list(self):
        with redis.RedisServer() as r:
            node = sbtest.Daemon(["--cluster", r.url, "--node-id", "n1"]).start()
            lb = sbtest.Daemon(["--cluster", r.url, "--role", "balancer"]).start()
            try:
                self.assertTrue(dtest.wait_until(lambda: len(live_ids(lb.port)) == 2, 5))
                got = self.sgc_js("ws://127.0.0.1:1/sgc?room=1",
                                  balancer=f"http://127.0.0.1:{lb.port}")
                self.assertEqual(got, {"target": f"ws://127.0.0.1:{node.port}/sgc?room=1",
                                       "node": "n1"})
                dead = sbtest.free_port()
                fallback = f"ws://127.0.0.1:{node.port}/sgc?fallback=1"
                got = self.sgc_js("ws://127.0.0.1:1/sgc", balancer=f"http://127.0.0.1:{dead}",
                                  fallbackUrls=[fallback], balancerTimeout=1000)
                self.assertEqual(got, {"target": fallback, "node": None})
            finally:
                lb.stop()
                node.stop()


if __name__ == "__main__":
    dtest.main()
