// hub_bridge_test.cpp: the hub's broadcasts across nodes (cluster/hub_bridge.hpp) with three
// hubs in this process, each on its own loopback port with its own broker: on one local fabric
// and on a real redis-server (the fixture). Clients are real WebSocket peers (Beast,
// tests/unit/support/ws_client.hpp). Every connection must get a broadcast exactly once: after
// it, a moment later, a "fence" its own node sends must be the next message. Also: a send to a
// connection of another node, the /broadcast endpoint, the cluster-wide group views, and a
// malformed envelope dropped and counted.
#include "cluster/hub_bridge.hpp"
#include "actors/hub.hpp"
#include "cluster/local_broker.hpp"
#include "cluster/node.hpp"
#include "cluster/redis_broker.hpp"
#include "runtime/server.hpp"
#include "support/redis_server.hpp"
#include "support/ws_client.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace switchboard;
using test::ws_client;
using namespace std::chrono_literals;

namespace {

using broker_factory = std::function<std::unique_ptr<cluster::broker>()>;

// One node: a broker, a hub whose handler understands a few commands, the bridge.
//   "group NAME"   joins group NAME          -> "ok"
//   "sub CHANNEL"  subscribes to CHANNEL     -> "ok"
//   "id"           -> the connection id
struct hnode {
  hnode(std::unique_ptr<cluster::broker> b, const std::string& node_id) : bus(std::move(b)) {
    actors::hub_options o;
    o.server.threads = 1;
    o.actor_threads = 2;
    for (int attempt = 0;; ++attempt) {
      port = test::free_port();
      runtime::binding bind;
      bind.host = "127.0.0.1";
      bind.port = port;
      o.server.bindings = {bind};
      hub = std::make_unique<actors::hub>(o);
      hub->on_message([this](actors::connection& c, const actors::message& m) {
        const std::string text(m.text());
        if (text.rfind("group ", 0) == 0) {
          hub->groups().add(text.substr(6), c.id());
          c.send("ok");
        } else if (text.rfind("sub ", 0) == 0) {
          hub->subscribe(c.id(), text.substr(4));
          c.send("ok");
        } else if (text == "id") {
          c.send(std::to_string(c.id()));
        }
      });
      try {
        hub->start();
        break;
      } catch (const runtime::config_error&) {
        if (attempt == 5) throw;
      }
    }
    cluster::node_options no;
    no.id = node_id;
    no.heartbeat = 100ms;
    no.dead_after = 1000ms;
    the_node = std::make_unique<cluster::node>(*bus, no);
    bus->start();
    bridge = std::make_unique<cluster::hub_bridge>(*the_node, *hub);
    bridge->start();
    the_node->start();
  }
  ~hnode() {
    bridge->stop();
    the_node->stop();
    hub->stop();
    bus->stop();
  }

  std::unique_ptr<ws_client> client(const std::string& path = "/app") {
    return std::make_unique<ws_client>("127.0.0.1", port, path);
  }

  std::unique_ptr<cluster::broker> bus;
  std::unique_ptr<actors::hub> hub;
  std::unique_ptr<cluster::node> the_node;
  std::unique_ptr<cluster::hub_bridge> bridge;
  std::uint16_t port = 0;
};

std::string next_text(ws_client& c) {
  auto r = c.read(5s);  // throws after 5 s: a message that never came
  return r ? r->data : std::string("<closed>");
}

// A client of one node, with its connection id there.
struct peer {
  peer(hnode& on, const std::string& path = "/app") : n(on), c(on.client(path)) {
    if (path == "/app") {
      c->send("id");
      id = std::stoull(next_text(*c));
    }
  }
  // Nothing more arrived within a moment: a fence sent by this node now is the next message.
  // (ws_client's read throws on timeout, so silence is proved by what comes next.)
  bool quiet() {
    std::this_thread::sleep_for(300ms);
    n.hub->send(id, "fence");
    return next_text(*c) == "fence";
  }
  hnode& n;
  std::unique_ptr<ws_client> c;
  actors::connection_id id = 0;
};

// `text` once, and nothing after it.
void receives_once(peer& p, const std::string& text) {
  BOOST_CHECK_EQUAL(next_text(*p.c), text);
  BOOST_CHECK_MESSAGE(p.quiet(), "more than one message after \"" << text << "\"");
}

void ask(peer& p, const std::string& command) {
  p.c->send(command);
  BOOST_REQUIRE_EQUAL(next_text(*p.c), "ok");
}

// Subscriptions are made on each broker's thread: wait until a probe sent from `from` reaches
// `to`, so that later broadcasts travel on a link already in place. Reading up to a fence of
// `to`'s own node tells what arrived meanwhile.
void link_ready(hnode& from, const std::string& to_node, peer& to) {
  const auto drain = [&to] {
    bool probed = false;
    to.n.hub->send(to.id, "fence");
    for (std::string t = next_text(*to.c); t != "fence"; t = next_text(*to.c))
      probed = probed || t.rfind("probe", 0) == 0;
    return probed;
  };
  for (int attempt = 0; attempt < 50; ++attempt) {
    from.bridge->send(to_node, to.id, "probe");
    std::this_thread::sleep_for(100ms);
    if (drain()) {
      std::this_thread::sleep_for(300ms);
      drain();  // probes still in flight
      return;
    }
  }
  BOOST_FAIL("the link between the nodes never carried a probe");
}

void broadcasts_reach_every_node_once(const broker_factory& make_broker) {
  hnode n1(make_broker(), "n1"), n2(make_broker(), "n2"), n3(make_broker(), "n3");
  peer a(n1), b(n2), c(n3);
  link_ready(n1, "n2", b);
  link_ready(n1, "n3", c);
  link_ready(n2, "n1", a);
  link_ready(n3, "n1", a);

  // hub::broadcast(text): every connection of every node, once.
  n1.hub->broadcast("to all");
  receives_once(a, "to all");
  receives_once(b, "to all");
  receives_once(c, "to all");

  // A channel: its subscribers on every node, nobody else.
  ask(b, "sub news");
  ask(c, "sub news");
  // hub::subscribe() goes through the connection's actor after its handler returned "ok".
  std::this_thread::sleep_for(200ms);
  n1.hub->broadcast("headline", "news");
  receives_once(b, "headline");
  receives_once(c, "headline");
  BOOST_CHECK(a.quiet());

  // Groups and a wildcard: a connection in two matching groups gets it once.
  ask(b, "group Room1");
  ask(b, "group Room2");
  ask(c, "group Room2");
  ask(a, "group Lobby");
  n3.hub->groups().broadcast("Room*", "rooms");
  receives_once(b, "rooms");
  receives_once(c, "rooms");
  BOOST_CHECK(a.quiet());
  n2.hub->groups().broadcast("Lobby", "lobby only");
  receives_once(a, "lobby only");
  BOOST_CHECK(b.quiet());
  // Membership stays local: node 1 lists its own groups only...
  BOOST_CHECK(n1.hub->groups().names() == std::vector<std::string>{"Lobby"});
  // ...and the bridge asks every live node for the cluster-wide view (it returns once each
  // answered, well before the timeout).
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (n1.the_node->nodes().size() < 3 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(20ms);
  BOOST_REQUIRE_EQUAL(n1.the_node->nodes().size(), 3u);
  const auto asked = std::chrono::steady_clock::now();
  const std::vector<std::string> all{"Lobby", "Room1", "Room2"};
  BOOST_CHECK(n1.bridge->group_names(5s) == all);
  BOOST_CHECK(std::chrono::steady_clock::now() - asked < 2s);
  const std::vector<std::pair<std::string, actors::connection_id>> room2{{"n2", b.id},
                                                                         {"n3", c.id}};
  BOOST_CHECK(n1.bridge->group_members("Room2", 5s) == room2);
  BOOST_CHECK(n3.bridge->group_members("Lobby", 5s) ==
              (std::vector<std::pair<std::string, actors::connection_id>>{{"n1", a.id}}));

  // A connection of another node addressed by (node, connection id).
  BOOST_CHECK(n1.bridge->send("n3", c.id, "direct"));
  receives_once(c, "direct");
  BOOST_CHECK(b.quiet());
  // This node's own connection through the same call.
  BOOST_CHECK(n1.bridge->send("n1", a.id, "self"));
  receives_once(a, "self");

  // The /broadcast endpoint: a message sent to it on node 1 reaches /broadcast clients of all
  // nodes, each once (a fence on that path is another /broadcast message of its node).
  auto e1 = n1.client("/broadcast"), e2 = n2.client("/broadcast"), e3 = n3.client("/broadcast");
  std::this_thread::sleep_for(200ms);  // the upgrades are done server side
  e1->send("shout");
  BOOST_CHECK_EQUAL(next_text(*e2), "shout");
  BOOST_CHECK_EQUAL(next_text(*e3), "shout");
  std::this_thread::sleep_for(300ms);
  n2.hub->local_endpoint_broadcast(runtime::websocket::opcode::text, "fence");
  BOOST_CHECK_EQUAL(next_text(*e2), "fence");
  BOOST_CHECK(b.quiet());  // not the hub's other paths

  // Malformed envelopes on the hub topic are dropped and counted, nothing delivered.
  const auto before = n2.bridge->stats().dropped;
  n1.bus->publish("hub", "not an envelope");
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (n2.bridge->stats().dropped == before && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  BOOST_CHECK_EQUAL(n2.bridge->stats().dropped, before + 1);
  BOOST_CHECK(b.quiet());
}

broker_factory local_fabric() {
  auto fabric = cluster::local_broker::make_fabric();
  return [fabric] { return std::make_unique<cluster::local_broker>(fabric); };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hub_bridge)

BOOST_AUTO_TEST_CASE(broadcasts_reach_every_node_once_local) {
  broadcasts_reach_every_node_once(local_fabric());
}

BOOST_AUTO_TEST_CASE(broadcasts_reach_every_node_once_redis) {
  test::redis_server r;
  const std::string url = r.url();
  broadcasts_reach_every_node_once(
      [url] { return std::make_unique<cluster::redis_broker>(cluster::parse_redis_url(url)); });
}

BOOST_AUTO_TEST_SUITE_END()
