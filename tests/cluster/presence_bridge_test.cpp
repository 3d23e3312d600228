// presence_bridge_test.cpp: presence across nodes (cluster/presence_bridge.hpp) with two or
// three nodes in this process, each a real presence server on its own loopback port with its
// own node (cluster/node.hpp) and broker: on one local fabric, and on a real redis-server (the
// fixture). Clients are protocols/presence/client.hpp over real sockets. A node "killed" has
// its broker stopped: no drain, no "gone", its heartbeat stops, as kill -9 would.
#include "cluster/presence_bridge.hpp"
#include "cluster/local_broker.hpp"
#include "cluster/node.hpp"
#include "cluster/redis_broker.hpp"
#include "protocols/presence/client.hpp"
#include "protocols/presence/server.hpp"
#include "runtime/server.hpp"
#include "support/redis_server.hpp"
#include "support/ws_client.hpp"

#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace switchboard;
namespace presence = protocols::presence;
namespace rt = runtime;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

constexpr auto heartbeat = 100ms;
constexpr auto dead_after = 1000ms;

using broker_factory = std::function<std::unique_ptr<cluster::broker>()>;

// One node: broker, node registry, presence server on a loopback port, bridge.
struct pnode {
  pnode(std::unique_ptr<cluster::broker> b, const std::string& id) : bus(std::move(b)) {
    config.set("logger.console", caf::atom("none"));
    config.set("scheduler.max-threads", static_cast<caf::config_value::integer>(2));
    system = std::make_unique<caf::actor_system>(config);
    for (int attempt = 0;; ++attempt) {
      port = test::free_port();
      rt::server_options so;
      so.threads = 1;
      rt::binding bind;
      bind.host = "127.0.0.1";
      bind.port = port;
      so.bindings = {bind};
      transport = std::make_unique<rt::server>(so);
      server = std::make_unique<presence::server>(*system, *transport);
      server->attach("/presence");
      try {
        transport->start();
        break;
      } catch (const rt::config_error&) {
        server.reset();
        transport.reset();
        if (attempt == 5) throw;
      }
    }
    cluster::node_options o;
    o.id = id;
    o.heartbeat = heartbeat;
    o.dead_after = dead_after;
    o.url = "ws://127.0.0.1:" + std::to_string(port);
    the_node = std::make_unique<cluster::node>(*bus, o);
    bridge = std::make_unique<cluster::presence_bridge>(*the_node, *server);
    the_node->on_node_up([this](const cluster::node_info& n) { bridge->node_up(n.id); });
    the_node->on_node_down([this](const cluster::node_info& n) { bridge->node_down(n.id); });
    bus->on_link([this](bool up) { bridge->link(up); });
    bus->start();
    bridge->start();
    the_node->start();
  }
  ~pnode() {
    bridge->stop();
    the_node->stop();
    transport->stop();
    bridge.reset();
    server.reset();
    the_node.reset();
    bus->stop();
    bus.reset();
    // The presence server only asks its channel actors to stop, and they may still deliver
    // through the transport: they end (with the system) before it goes.
    system.reset();
    transport.reset();
  }
  // As kill -9 would leave it to the others: the link ends, nothing more is said.
  void kill() { bus->stop(); }

  std::unique_ptr<cluster::broker> bus;
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  std::unique_ptr<rt::server> transport;
  std::unique_ptr<presence::server> server;
  std::unique_ptr<cluster::node> the_node;
  std::unique_ptr<cluster::presence_bridge> bridge;
  std::uint16_t port = 0;
};

// A presence client that records every event as a line.
class member_client {
 public:
  member_client(std::uint16_t port, const std::string& name, const std::string& member_id = {})
      : name_(name) {
    presence::client_options o;
    o.transport.url = "ws://127.0.0.1:" + std::to_string(port) + "/presence";
    o.name = name;
    o.member_id = member_id;
    presence::client_events ev;
    ev.on_new_member = [this](const presence::member& m) { add("new " + m.name); };
    ev.on_remove_member = [this](const presence::member& m) { add("remove " + m.name); };
    ev.on_member_update = [this](const presence::member& m) {
      add("update " + m.name + " " + m.info);
    };
    ev.on_join = [this](std::string_view ch, const presence::member& m) {
      add("join " + std::string(ch) + " " + m.name);
    };
    ev.on_leave = [this](std::string_view ch, const presence::member& m) {
      add("leave " + std::string(ch) + " " + m.name);
    };
    ev.on_message = [this](std::string_view text, std::string_view ch, const presence::member& m) {
      add("msg " + std::string(ch) + " " + m.name + ": " + std::string(text));
    };
    ev.on_members = [this](std::string_view ch, const std::vector<presence::member>& ms) {
      std::vector<std::string> names;
      for (const auto& m : ms)
        names.push_back(m.name);
      std::sort(names.begin(), names.end());
      std::string line = "members " + std::string(ch) + ":";
      for (const auto& n : names)
        line += " " + n;
      add(line);
    };
    ev.on_error = [this](int code, std::string_view, std::string_view ch, const presence::member&) {
      add("error " + std::to_string(code) + " " + std::string(ch));
    };
    ev.on_invitation = [this](std::string_view ch, const presence::member& m) {
      add("invited " + std::string(ch) + " by " + m.name);
      return true;
    };
    ev.on_invitation_response = [this](std::string_view ch, const presence::member& m, bool ok) {
      add("answer " + std::string(ch) + " " + m.name + (ok ? " yes" : " no"));
    };
    c = std::make_unique<presence::client>(o, ev);
  }
  ~member_client() { c.reset(); }

  void add(std::string line) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.push_back(std::move(line));
    }
    changed_.notify_all();
  }
  // Waits until `line` was recorded; false after `timeout`.
  bool saw(const std::string& line, std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      return std::find(lines_.begin(), lines_.end(), line) != lines_.end();
    });
  }
  void wait_for(const std::string& line) {
    BOOST_REQUIRE_MESSAGE(saw(line), name_ << ": no \"" << line << "\"; got: " << dump());
  }
  std::size_t index_of(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<std::size_t>(std::find(lines_.begin(), lines_.end(), line) - lines_.begin());
  }
  std::size_t count(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<std::size_t>(std::count(lines_.begin(), lines_.end(), line));
  }
  std::string dump() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string out;
    for (const auto& l : lines_)
      out += "[" + l + "] ";
    return out;
  }
  void start() {
    c->connect();
    wait_for("new " + name_);
  }

  std::unique_ptr<presence::client> c;

 private:
  std::string name_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
};

std::unique_ptr<member_client> make(std::uint16_t port, const std::string& name,
                                    const std::string& id = {}) {
  return std::make_unique<member_client>(port, name, id);
}

// Waits until `node` sees `count` live nodes.
void wait_nodes(pnode& n, std::size_t count) {
  const auto until = steady::now() + 5s;
  while (n.the_node->nodes().size() < count && steady::now() < until)
    std::this_thread::sleep_for(20ms);
  BOOST_REQUIRE_EQUAL(n.the_node->nodes().size(), count);
}

// Waits until `s` lists the members named in `names` (sorted ids) for `channel`.
bool lists(presence::server& s, const std::string& channel, std::vector<std::string> names,
           std::chrono::milliseconds timeout = 5000ms) {
  std::sort(names.begin(), names.end());
  const auto until = steady::now() + timeout;
  while (true) {
    std::vector<std::string> got;
    for (const auto& m : s.members(channel))
      got.push_back(m.name);
    std::sort(got.begin(), got.end());
    if (got == names) return true;
    if (steady::now() > until) return false;
    std::this_thread::sleep_for(20ms);
  }
}

// --- the scenarios, on either broker --------------------------------------------------------

void member_on_node_2_seen_from_node_3(const broker_factory& make_broker) {
  pnode n2(make_broker(), "n2"), n3(make_broker(), "n3");
  wait_nodes(n2, 2);
  wait_nodes(n3, 2);
  auto bob = make(n3.port, "Bob");
  bob->start();
  auto ann = make(n2.port, "Ann");
  ann->start();
  bob->wait_for("new Ann");  // member@new crosses
  ann->c->join("room");
  ann->wait_for("join room Ann");
  bob->c->join("room");  // a channel that exists on node 2 only: joined, not created
  bob->wait_for("join room Bob");
  ann->wait_for("join room Bob");
  // Member lists include remote members, on both sides.
  bob->c->get_members("room");
  bob->wait_for("members room: Ann Bob");
  bob->c->get_members();
  bob->wait_for("members : Ann Bob");
  ann->c->get_members("room");
  ann->wait_for("members room: Ann Bob");
  // Publish to the channel and to everyone reaches the other node's members, once.
  ann->c->publish("Hello", "room");
  bob->wait_for("msg room Ann: Hello");
  ann->wait_for("msg room Ann: Hello");
  bob->c->publish("Hi all");
  ann->wait_for("msg  Bob: Hi all");
  n2.server->broadcast("from the server", "room");
  bob->wait_for("msg room : from the server");
  // Update.
  bob->c->update("Bob", "busy");
  ann->wait_for("update Bob busy");
  // Invitation to a member of the other node, its answer back, and the accept joins there.
  auto carl = make(n3.port, "Carl");
  carl->start();
  ann->wait_for("new Carl");
  ann->c->invite("side", carl->c->member_id());
  carl->wait_for("invited side by Ann");
  ann->wait_for("answer side Carl yes");
  carl->wait_for("join side Carl");
  BOOST_REQUIRE(lists(*n2.server, "side", {"Carl"}));
  // The id is taken cluster-wide: error 1 on the other node.
  auto dup = make(n3.port, "Dup", ann->c->member_id());
  dup->c->connect();
  dup->wait_for("error 1 ");
  // Leave and close cross in the order 5.2 gives: the leave, then member@remove.
  ann->c->leave("room");
  bob->wait_for("leave room Ann");
  ann->c->join("room");
  bob->wait_for("join room Ann");
  ann.reset();
  bob->wait_for("remove Ann");
  BOOST_CHECK_LT(bob->index_of("leave room Ann"), bob->index_of("remove Ann"));
  BOOST_CHECK(lists(*n3.server, "room", {"Bob"}));
  BOOST_CHECK_EQUAL(bob->count("msg room Ann: Hello"), 1u);
  // A malformed envelope from "another node" is dropped and counted; the node goes on.
  const auto before = n3.bridge->stats().dropped;
  n2.bus->publish("presence", "\x0a\xff garbage");
  const auto until = steady::now() + 3s;
  while (n3.bridge->stats().dropped == before && steady::now() < until)
    std::this_thread::sleep_for(20ms);
  BOOST_CHECK_EQUAL(n3.bridge->stats().dropped, before + 1);
  bob->c->get_members("room");
  bob->wait_for("members room: Bob");
}

void node_death_removes_its_members(const broker_factory& make_broker) {
  pnode n1(make_broker(), "n1"), n2(make_broker(), "n2");
  auto n3 = std::make_unique<pnode>(make_broker(), "n3");
  wait_nodes(n1, 3);
  wait_nodes(n2, 3);
  auto bob = make(n2.port, "Bob");
  bob->start();
  bob->c->join("room");
  bob->wait_for("join room Bob");
  auto ann = make(n3->port, "Ann");
  ann->start();
  ann->c->join("room");
  ann->c->join("other");
  bob->wait_for("join room Ann");
  BOOST_REQUIRE(lists(*n1.server, "", {"Ann", "Bob"}));
  const auto killed = steady::now();
  n3->kill();
  // The bound: dead_after, plus a heartbeat for the others to look, plus slack.
  bob->wait_for("leave room Ann");
  bob->wait_for("remove Ann");
  const auto took = steady::now() - killed;
  BOOST_TEST_MESSAGE("leave events after "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                     << " ms");
  BOOST_CHECK(took < dead_after + 4 * heartbeat + 1500ms);
  BOOST_CHECK_LT(bob->index_of("leave room Ann"), bob->index_of("remove Ann"));
  BOOST_CHECK(lists(*n1.server, "", {"Bob"}));
  BOOST_CHECK(lists(*n2.server, "room", {"Bob"}));
  BOOST_CHECK(n1.server->channels() == std::vector<std::string>{"room"});  // "other" went
  // The dead node's shard is gone from the broker.
  const auto until = steady::now() + 3s;
  std::size_t left = 1;
  while (left != 0 && steady::now() < until) {
    std::promise<std::size_t> p;
    n1.bus->hgetall("presence:shard:n3",
                    [&p](cluster::broker_error, std::unordered_map<std::string, std::string> h) {
                      p.set_value(h.size());
                    });
    left = p.get_future().get();
    if (left) std::this_thread::sleep_for(50ms);
  }
  BOOST_CHECK_EQUAL(left, 0u);
  ann.reset();
  n3.reset();
}

void late_node_reads_the_shards_and_clean_stop(const broker_factory& make_broker) {
  auto n2 = std::make_unique<pnode>(make_broker(), "n2");
  auto ann = make(n2->port, "Ann");
  ann->start();
  ann->c->join("room");
  ann->wait_for("join room Ann");
  // A node that starts now learns Ann from node 2's shard.
  pnode n3(make_broker(), "n3");
  BOOST_REQUIRE(lists(*n3.server, "room", {"Ann"}));
  auto bob = make(n3.port, "Bob");
  bob->start();
  bob->c->get_members("room");
  bob->wait_for("members room: Ann");
  ann->wait_for("new Bob");
  // A clean stop: the others drop its members at once (well before dead_after).
  const auto stopped = steady::now();
  n2->bridge->stop();
  bob->wait_for("remove Ann");
  BOOST_CHECK(steady::now() - stopped < dead_after);
  BOOST_CHECK(lists(*n3.server, "", {"Bob"}));
  ann.reset();
  n2.reset();
}

void id_race_lower_node_wins(const broker_factory& make_broker) {
  pnode n2(make_broker(), "n2"), n3(make_broker(), "n3");
  wait_nodes(n3, 2);
  auto watcher = make(n2.port, "Watcher");
  watcher->start();
  auto mine = make(n3.port, "Mine", "same-id");
  mine->start();
  watcher->wait_for("new Mine");
  // Node n3 hears that a node with a higher id took "same-id" at the same instant: n3 keeps
  // its member (the other node removes its own).
  presence::member other{"same-id", "Other", ""};
  n3.server->apply_member_new("n9", other);
  BOOST_CHECK(lists(*n3.server, "", {"Mine", "Watcher"}));
  // A lower node id took it: n3's member goes, with the events to everyone, error 1 to it.
  n3.server->apply_member_new("n0", other);
  mine->wait_for("error 1 ");
  watcher->wait_for("remove Mine");
  BOOST_CHECK(lists(*n3.server, "", {"Other", "Watcher"}));
  // Mine's connection no longer owns a member: its requests are error 3.
  mine->c->join("x");
  mine->wait_for("error 3 x");
}

// Redis killed and restarted empty: each node keeps serving its own members meanwhile; on link
// up it writes its shard again and reads the others', so changes made during the outage cross.
void link_outage_resyncs(test::redis_server& r, const broker_factory& make_broker) {
  pnode n2(make_broker(), "n2"), n3(make_broker(), "n3");
  wait_nodes(n2, 2);
  wait_nodes(n3, 2);
  auto bob = make(n3.port, "Bob");
  bob->start();
  bob->c->join("room");
  bob->wait_for("join room Bob");
  auto ann = make(n2.port, "Ann");
  ann->start();
  ann->c->join("room");
  bob->wait_for("join room Ann");
  r.kill();
  std::this_thread::sleep_for(300ms);
  // Local presence keeps working during the outage.
  ann->c->leave("room");
  ann->wait_for("leave room Ann");
  auto carl = make(n2.port, "Carl");
  carl->start();
  ann->wait_for("new Carl");
  r.restart();
  // After the link is back node 3 learns both changes (from the snapshot or the shard).
  BOOST_CHECK(bob->saw("new Carl", 20000ms));
  BOOST_CHECK(lists(*n3.server, "", {"Ann", "Bob", "Carl"}, 20000ms));
  BOOST_CHECK(lists(*n3.server, "room", {"Bob"}, 20000ms));
  BOOST_CHECK(lists(*n2.server, "", {"Ann", "Bob", "Carl"}, 20000ms));
  BOOST_CHECK(n2.bridge->stats().unavailable > 0);  // the outage was seen, and counted
}

broker_factory local_fabric() {
  auto fabric = cluster::local_broker::make_fabric();
  return [fabric] { return std::make_unique<cluster::local_broker>(fabric); };
}

broker_factory redis(const test::redis_server& r) {
  const std::string url = r.url();
  return [url] { return std::make_unique<cluster::redis_broker>(cluster::parse_redis_url(url)); };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(presence_bridge)

BOOST_AUTO_TEST_CASE(member_on_node_2_seen_from_node_3_local) {
  member_on_node_2_seen_from_node_3(local_fabric());
}

BOOST_AUTO_TEST_CASE(member_on_node_2_seen_from_node_3_redis) {
  test::redis_server r;
  member_on_node_2_seen_from_node_3(redis(r));
}

BOOST_AUTO_TEST_CASE(node_death_removes_its_members_local) {
  node_death_removes_its_members(local_fabric());
}

BOOST_AUTO_TEST_CASE(node_death_removes_its_members_redis) {
  test::redis_server r;
  node_death_removes_its_members(redis(r));
}

BOOST_AUTO_TEST_CASE(late_node_reads_the_shards_and_clean_stop_local) {
  late_node_reads_the_shards_and_clean_stop(local_fabric());
}

BOOST_AUTO_TEST_CASE(late_node_reads_the_shards_and_clean_stop_redis) {
  test::redis_server r;
  late_node_reads_the_shards_and_clean_stop(redis(r));
}

BOOST_AUTO_TEST_CASE(link_outage_resyncs_redis) {
  test::redis_server r;
  link_outage_resyncs(r, redis(r));
}

BOOST_AUTO_TEST_CASE(id_race_lower_node_wins_local) {
  id_race_lower_node_wins(local_fabric());
}

BOOST_AUTO_TEST_SUITE_END()
