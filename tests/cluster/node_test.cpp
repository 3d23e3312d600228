// node_test.cpp: node membership (cluster/node.hpp) on a local fabric and on a real
// redis-server: join and the view, a killed node (its broker stopped, no drain) reported down
// on the other within dead_after plus a heartbeat, a node that returns reported up again, and a
// drain seen at once.
#include "cluster/node.hpp"
#include "cluster/local_broker.hpp"
#include "cluster/redis_broker.hpp"
#include "support/redis_server.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace switchboard;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

constexpr auto heartbeat = 100ms;
constexpr auto dead_after = 600ms;

// Up and down events of one node, as they arrive on the broker thread.
struct watcher {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> ups, downs;
  std::vector<steady::time_point> down_at;

  void attach(cluster::node& n) {
    n.on_node_up([this](const cluster::node_info& i) {
      std::lock_guard<std::mutex> lock(m);
      ups.push_back(i.id);
      cv.notify_all();
    });
    n.on_node_down([this](const cluster::node_info& i) {
      std::lock_guard<std::mutex> lock(m);
      downs.push_back(i.id);
      down_at.push_back(steady::now());
      cv.notify_all();
    });
  }
  bool wait_up(std::size_t n, std::chrono::milliseconds t = 3000ms) {
    std::unique_lock<std::mutex> lock(m);
    return cv.wait_for(lock, t, [&] { return ups.size() >= n; });
  }
  bool wait_down(std::size_t n, std::chrono::milliseconds t = 3000ms) {
    std::unique_lock<std::mutex> lock(m);
    return cv.wait_for(lock, t, [&] { return downs.size() >= n; });
  }
};

cluster::node_options opts(const std::string& id, const std::string& url) {
  cluster::node_options o;
  o.id = id;
  o.url = url;
  o.heartbeat = heartbeat;
  o.dead_after = dead_after;
  return o;
}

bool wait_view(cluster::node& n, std::size_t count, std::chrono::milliseconds t = 3000ms) {
  const auto until = steady::now() + t;
  while (steady::now() < until) {
    if (n.nodes().size() == count) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

// Joins two nodes, kills one (broker stopped, no drain), brings it back under the same id.
void join_kill_return(cluster::broker& a_bus, std::unique_ptr<cluster::broker> b_bus,
                      const std::function<std::unique_ptr<cluster::broker>()>& make_bus) {
  watcher wa;
  cluster::node a(a_bus, opts("aaaa", "ws://127.0.0.1:1001"));
  wa.attach(a);
  a.set_load_source([] { return std::uint64_t{7}; });
  a.start();
  auto b = std::make_unique<cluster::node>(*b_bus, opts("bbbb", "ws://127.0.0.1:1002"));
  b->start();

  BOOST_REQUIRE(wa.wait_up(1));
  BOOST_TEST(wa.ups[0] == "bbbb");
  BOOST_REQUIRE(wait_view(a, 2));
  BOOST_REQUIRE(wait_view(*b, 2));
  // b's view of a carries a's role, URL and load (after a heartbeat has read the load).
  std::this_thread::sleep_for(3 * heartbeat);
  const auto seen = b->nodes();
  BOOST_TEST(seen[0].id == "aaaa");
  BOOST_TEST(!seen[0].self);
  BOOST_TEST(seen[0].url == "ws://127.0.0.1:1001");
  BOOST_TEST(seen[0].role == "node");
  BOOST_TEST(seen[0].load == 7u);
  BOOST_TEST(seen[1].self);

  // kill -9: the broker stops, the node never drains.
  const auto killed = steady::now();
  b_bus->stop();
  BOOST_REQUIRE(wa.wait_down(1, 5000ms));
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(wa.down_at[0] - killed).count();
  BOOST_TEST(wa.downs[0] == "bbbb");
  // Within the bound (plus scheduling slack), and not before the key could have expired.
  BOOST_TEST(took <= (dead_after + 2 * heartbeat + 200ms).count());
  BOOST_TEST(took >= (dead_after - 2 * heartbeat).count());
  BOOST_TEST(a.nodes().size() == 1u);
  b.reset();  // its stop() finds the broker gone: bounded
  b_bus.reset();

  // The same node comes back: up again.
  auto c_bus = make_bus();
  c_bus->start();
  cluster::node c(*c_bus, opts("bbbb", "ws://127.0.0.1:1003"));
  c.start();
  BOOST_REQUIRE(wa.wait_up(2));
  BOOST_TEST(wa.ups[1] == "bbbb");
  BOOST_REQUIRE(wait_view(a, 2));
  BOOST_TEST(a.nodes()[1].url == "ws://127.0.0.1:1003");
  c.stop();
  a.stop();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(node)

BOOST_AUTO_TEST_CASE(generated_ids_are_64_bit_hex_and_differ) {
  cluster::local_broker bus;
  cluster::node a(bus, {}), b(bus, {});
  BOOST_TEST(a.id().size() == 16u);
  BOOST_TEST(a.id().find_first_not_of("0123456789abcdef") == std::string::npos);
  BOOST_TEST(a.id() != b.id());
}

BOOST_AUTO_TEST_CASE(join_kill_and_return_on_a_local_fabric) {
  auto fabric = cluster::local_broker::make_fabric();
  cluster::local_broker a_bus(fabric);
  a_bus.start();
  auto b_bus = std::make_unique<cluster::local_broker>(fabric);
  b_bus->start();
  join_kill_return(a_bus, std::move(b_bus),
                   [&] { return std::make_unique<cluster::local_broker>(fabric); });
}

BOOST_AUTO_TEST_CASE(join_kill_and_return_on_redis) {
  test::redis_server redis;
  const auto make = [&]() -> std::unique_ptr<cluster::broker> {
    return cluster::make_broker(redis.url());
  };
  auto a_bus = make();
  a_bus->start();
  auto b_bus = make();
  b_bus->start();
  join_kill_return(*a_bus, std::move(b_bus), make);
  a_bus->stop();
}

BOOST_AUTO_TEST_CASE(drain_is_seen_at_once_not_after_dead_after) {
  auto fabric = cluster::local_broker::make_fabric();
  cluster::local_broker a_bus(fabric), b_bus(fabric);
  a_bus.start(), b_bus.start();
  watcher wa;
  cluster::node a(a_bus, opts("aaaa", "ws://127.0.0.1:1001"));
  wa.attach(a);
  a.start();
  cluster::node b(b_bus, opts("bbbb", "ws://127.0.0.1:1002"));
  b.start();
  BOOST_REQUIRE(wa.wait_up(1));
  const auto began = steady::now();
  b.stop();
  BOOST_REQUIRE(wa.wait_down(1, 2000ms));
  BOOST_TEST((wa.down_at[0] - began < dead_after / 2));
  BOOST_TEST(a.nodes().size() == 1u);
  b.stop();  // idempotent
  // Gone from the registry too: a fresh node sees only a.
  cluster::local_broker c_bus(fabric);
  c_bus.start();
  cluster::node c(c_bus, opts("cccc", "ws://127.0.0.1:1003"));
  c.start();
  BOOST_REQUIRE(wait_view(c, 2));
  std::this_thread::sleep_for(3 * heartbeat);
  const auto seen = c.nodes();
  BOOST_REQUIRE(seen.size() == 2u);
  BOOST_TEST(seen[0].id == "aaaa");
  BOOST_TEST(seen[1].id == "cccc");
}

BOOST_AUTO_TEST_CASE(a_malformed_node_event_is_dropped) {
  auto fabric = cluster::local_broker::make_fabric();
  cluster::local_broker a_bus(fabric), b_bus(fabric);
  a_bus.start(), b_bus.start();
  watcher wa;
  cluster::node a(a_bus, opts("aaaa", "ws://127.0.0.1:1001"));
  wa.attach(a);
  a.start();
  b_bus.publish("nodes", "\xff\xff not an envelope");
  b_bus.publish("nodes", std::string("\x08\x63", 2));  // version 99: from the future
  cluster::node b(b_bus, opts("bbbb", "ws://127.0.0.1:1002"));
  b.start();
  BOOST_REQUIRE(wa.wait_up(1));
  BOOST_TEST(wa.ups.size() == 1u);
  BOOST_TEST(wa.ups[0] == "bbbb");
}

BOOST_AUTO_TEST_SUITE_END()
