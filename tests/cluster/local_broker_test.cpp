// local_broker_test.cpp: the in-process broker (cluster/local_broker.hpp): two brokers on one
// fabric are two nodes; one broker alone is a node that talks to nobody else.
#include "cluster/local_broker.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace switchboard;
using namespace std::chrono_literals;

namespace {

// Collects deliveries of one topic from the broker thread.
struct inbox {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::pair<std::string, std::uint64_t>> got;  // payload, sequence

  cluster::broker::message_handler handler() {
    return [this](const cluster::delivery& d) {
      std::lock_guard<std::mutex> lock(m);
      got.emplace_back(std::string(d.payload), d.sequence);
      cv.notify_all();
    };
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds t = 2000ms) {
    std::unique_lock<std::mutex> lock(m);
    return cv.wait_for(lock, t, [&] { return got.size() >= n; });
  }
};

// Waits for a fabric round trip: every operation posted before it has run.
void settle(cluster::broker& b) {
  std::promise<void> p;
  b.get("settle", [&](cluster::broker_error, std::string, bool) { p.set_value(); });
  p.get_future().wait();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(local_broker)

BOOST_AUTO_TEST_CASE(publish_reaches_every_node_of_the_fabric_and_no_other) {
  auto fabric = cluster::local_broker::make_fabric();
  cluster::local_broker a(fabric), b(fabric), stranger;
  a.start(), b.start(), stranger.start();
  inbox on_a, on_b, on_stranger;
  a.subscribe("t", on_a.handler());
  b.subscribe("t", on_b.handler());
  stranger.subscribe("t", on_stranger.handler());
  settle(a);
  a.publish("t", "hello");
  BOOST_REQUIRE(on_b.wait_for(1));
  BOOST_REQUIRE(on_a.wait_for(1));  // the publisher's node is a subscriber too
  BOOST_TEST(on_b.got[0].first == "hello");
  BOOST_TEST(on_b.got[0].second == 0u);  // plain publish: no sequence
  settle(stranger);
  BOOST_TEST(on_stranger.got.empty());
  b.unsubscribe("t");
  a.publish("t", "again");
  BOOST_REQUIRE(on_a.wait_for(2));
  settle(b);
  BOOST_TEST(on_b.got.size() == 1u);
}

BOOST_AUTO_TEST_CASE(logged_publish_numbers_logs_and_trims) {
  auto fabric = cluster::local_broker::make_fabric();
  cluster::local_broker a(fabric), b(fabric);
  a.start(), b.start();
  inbox on_b;
  b.subscribe("ch", on_b.handler());
  settle(b);
  std::vector<std::uint64_t> acked;
  std::string epoch;
  std::promise<void> last;
  for (int i = 1; i <= 5; ++i)
    a.publish_logged("ch", "m" + std::to_string(i), {3, 0ms},
                     [&, i](cluster::broker_error e, std::uint64_t seq, const std::string& ep) {
                       BOOST_TEST((e == cluster::broker_error::none));
                       acked.push_back(seq);
                       epoch = ep;
                       if (i == 5) last.set_value();
                     });
  last.get_future().wait();
  BOOST_TEST(acked == (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
  BOOST_REQUIRE(on_b.wait_for(5));
  BOOST_TEST(on_b.got[4].first == "m5");
  BOOST_TEST(on_b.got[4].second == 5u);
  // The log keeps the newest three; read_log(after) gives what follows `after`.
  std::promise<std::pair<std::vector<cluster::log_entry>, std::string>> read;
  b.read_log("ch", 3, 100,
             [&](cluster::broker_error, std::vector<cluster::log_entry> v, const std::string& ep) {
               read.set_value({std::move(v), ep});
             });
  auto [entries, read_epoch] = read.get_future().get();
  BOOST_REQUIRE(entries.size() == 2u);
  BOOST_TEST(entries[0].sequence == 4u);
  BOOST_TEST(entries[1].payload == "m5");
  BOOST_TEST(read_epoch == epoch);
  BOOST_TEST(!epoch.empty());
  std::promise<std::size_t> all;
  b.read_log("ch", 0, 100,
             [&](cluster::broker_error, std::vector<cluster::log_entry> v, const std::string&) {
               all.set_value(v.size());
             });
  BOOST_TEST(all.get_future().get() == 3u);
}

BOOST_AUTO_TEST_CASE(keys_expire_and_hashes_are_shared) {
  auto fabric = cluster::local_broker::make_fabric();
  cluster::local_broker a(fabric), b(fabric);
  a.start(), b.start();
  a.set("k", "v", 100ms);
  a.hset("h", "f1", "1");
  a.hset("h", "f2", "2");
  b.hdel("h", "f1");
  std::promise<std::pair<std::string, bool>> got;
  b.get("k", [&](cluster::broker_error, std::string v, bool found) { got.set_value({v, found}); });
  BOOST_TEST(got.get_future().get().first == "v");
  std::promise<std::unordered_map<std::string, std::string>> h;
  b.hgetall("h", [&](cluster::broker_error, auto m) { h.set_value(std::move(m)); });
  const auto hash = h.get_future().get();
  BOOST_TEST(hash.size() == 1u);
  BOOST_TEST(hash.at("f2") == "2");
  std::this_thread::sleep_for(150ms);
  std::promise<bool> gone;
  b.get("k", [&](cluster::broker_error, std::string, bool found) { gone.set_value(found); });
  BOOST_TEST(!gone.get_future().get());
}

BOOST_AUTO_TEST_CASE(a_stopped_broker_hears_nothing_more) {
  auto fabric = cluster::local_broker::make_fabric();
  cluster::local_broker a(fabric), b(fabric);
  std::promise<bool> up;
  b.on_link([&](bool is_up) { up.set_value(is_up); });
  a.start(), b.start();
  BOOST_TEST(up.get_future().get());
  inbox on_b;
  b.subscribe("t", on_b.handler());
  settle(b);
  b.stop();
  a.publish("t", "late");
  settle(a);
  BOOST_TEST(on_b.got.empty());
  BOOST_TEST(!b.stats().connected);
  BOOST_TEST(a.stats().published == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
