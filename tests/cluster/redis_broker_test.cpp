// redis_broker_test.cpp: the Redis broker (cluster/redis_broker.hpp) against a real
// redis-server (support/redis_server.hpp): pub/sub between two brokers, the logged publish
// (sequences, log reads, retention, epochs), keys and hashes, the link through a Redis kill
// and restart, bad bytes on a topic channel, and stop(). Every wait is bounded.
#include "cluster/redis_broker.hpp"

#include "runtime/config.hpp"
#include "support/redis_server.hpp"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/types.h>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace switchboard;
using namespace std::chrono_literals;
using cluster::broker_error;

namespace {

constexpr auto patience = 5s;

// Collects the deliveries of a topic on the broker thread.
struct inbox {
  struct item {
    std::string topic, payload, epoch;
    std::uint64_t sequence = 0;
  };
  std::mutex m;
  std::condition_variable cv;
  std::vector<item> got;

  cluster::broker::message_handler handler() {
    return [this](const cluster::delivery& d) {
      std::lock_guard<std::mutex> lock(m);
      got.push_back(
          {std::string(d.topic), std::string(d.payload), std::string(d.epoch), d.sequence});
      cv.notify_all();
    };
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds t = patience) {
    std::unique_lock<std::mutex> lock(m);
    return cv.wait_for(lock, t, [&] { return got.size() >= n; });
  }
  std::vector<item> items() {
    std::lock_guard<std::mutex> lock(m);
    return got;
  }
};

// Records the link's ups and downs.
struct link_watch {
  std::mutex m;
  std::condition_variable cv;
  std::vector<bool> events;

  cluster::broker::link_handler handler() {
    return [this](bool up) {
      std::lock_guard<std::mutex> lock(m);
      events.push_back(up);
      cv.notify_all();
    };
  }
  // Waits until `n` events were seen and the last one is `up`.
  bool wait_for(std::size_t n, bool up, std::chrono::milliseconds t = patience) {
    std::unique_lock<std::mutex> lock(m);
    return cv.wait_for(lock, t, [&] { return events.size() >= n && events.back() == up; });
  }
};

template <class T>
T await(std::future<T>& f, std::chrono::milliseconds t = patience) {
  BOOST_REQUIRE_MESSAGE(f.wait_for(t) == std::future_status::ready, "no answer in time");
  return f.get();
}

cluster::redis_options options_for(const test::redis_server& r) {
  auto o = cluster::parse_redis_url(r.url());
  o.backoff_min = 50ms;
  o.backoff_max = 400ms;
  o.connect_timeout = 1000ms;
  return o;
}

// A started broker whose link is up.
struct node {
  link_watch link;
  cluster::redis_broker broker;
  explicit node(const test::redis_server& r) : node(options_for(r)) {}
  explicit node(const cluster::redis_options& o) : broker(o) {
    broker.on_link(link.handler());
    broker.start();
    BOOST_REQUIRE_MESSAGE(link.wait_for(1, true), "the link did not come up");
  }
};

broker_error subscribe(cluster::broker& b, const std::string& topic, inbox& in) {
  std::promise<broker_error> p;
  auto f = p.get_future();
  b.subscribe(topic, in.handler(), [&p](broker_error e) { p.set_value(e); });
  return await(f);
}

broker_error publish(cluster::broker& b, const std::string& topic, std::string payload) {
  std::promise<broker_error> p;
  auto f = p.get_future();
  b.publish(topic, std::move(payload), [&p](broker_error e) { p.set_value(e); });
  return await(f);
}

struct logged {
  broker_error error;
  std::uint64_t sequence;
  std::string epoch;
};

logged publish_logged(cluster::broker& b, const std::string& topic, std::string payload,
                      cluster::log_retention retention = {}) {
  std::promise<logged> p;
  auto f = p.get_future();
  b.publish_logged(topic, std::move(payload), retention,
                   [&p](broker_error e, std::uint64_t seq, const std::string& epoch) {
                     p.set_value({e, seq, epoch});
                   });
  return await(f);
}

struct log_read {
  broker_error error;
  std::vector<cluster::log_entry> entries;
  std::string epoch;
};

log_read read_log(cluster::broker& b, const std::string& topic, std::uint64_t after,
                  std::size_t max) {
  std::promise<log_read> p;
  auto f = p.get_future();
  b.read_log(
      topic, after, max,
      [&p](broker_error e, std::vector<cluster::log_entry> entries, const std::string& epoch) {
        p.set_value({e, std::move(entries), epoch});
      });
  return await(f);
}

std::vector<std::uint64_t> sequences(const std::vector<cluster::log_entry>& entries) {
  std::vector<std::uint64_t> out;
  for (const auto& e : entries)
    out.push_back(e.sequence);
  return out;
}

std::vector<std::uint64_t> range(std::uint64_t from, std::uint64_t to) {
  std::vector<std::uint64_t> out;
  for (auto s = from; s <= to; ++s)
    out.push_back(s);
  return out;
}

struct value {
  broker_error error;
  std::string text;
  bool found;
};

value get(cluster::broker& b, const std::string& key) {
  std::promise<value> p;
  auto f = p.get_future();
  b.get(key, [&p](broker_error e, std::string v, bool found) {
    p.set_value({e, std::move(v), found});
  });
  return await(f);
}

broker_error done_of(const std::function<void(cluster::broker::done_handler)>& op) {
  std::promise<broker_error> p;
  auto f = p.get_future();
  op([&p](broker_error e) { p.set_value(e); });
  return await(f);
}

using hash = std::unordered_map<std::string, std::string>;

hash hgetall(cluster::broker& b, const std::string& key) {
  std::promise<std::pair<broker_error, hash>> p;
  auto f = p.get_future();
  b.hgetall(key, [&p](broker_error e, hash h) { p.set_value({e, std::move(h)}); });
  auto [e, h] = await(f);
  BOOST_REQUIRE(e == broker_error::none);
  return h;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds t = patience) {
  const auto end = std::chrono::steady_clock::now() + t;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

// A raw PUBLISH from outside the broker (what a stray redis-cli could send).
void raw_publish(const test::redis_server& r, const std::string& channel,
                 const std::string& bytes) {
  redisContext* c = redisConnect("127.0.0.1", r.port());
  BOOST_REQUIRE(c && !c->err);
  auto* reply = static_cast<redisReply*>(
      redisCommand(c, "PUBLISH %b %b", channel.data(), channel.size(), bytes.data(), bytes.size()));
  BOOST_REQUIRE(reply && reply->type == REDIS_REPLY_INTEGER);
  freeReplyObject(reply);
  redisFree(c);
}

// One command on a raw connection of our own, its reply dropped.
void raw_command(const test::redis_server& r, const char* command) {
  redisContext* c = redisConnect("127.0.0.1", r.port());
  BOOST_REQUIRE(c && !c->err);
  auto* reply = static_cast<redisReply*>(redisCommand(c, command));
  BOOST_REQUIRE(reply && reply->type != REDIS_REPLY_ERROR);
  freeReplyObject(reply);
  redisFree(c);
}

// The server's pid, from INFO (to stop and continue it: a Redis that hangs).
pid_t redis_pid(const test::redis_server& r) {
  redisContext* c = redisConnect("127.0.0.1", r.port());
  BOOST_REQUIRE(c && !c->err);
  auto* reply = static_cast<redisReply*>(redisCommand(c, "INFO server"));
  BOOST_REQUIRE(reply && reply->type == REDIS_REPLY_STRING);
  const std::string info(reply->str, reply->len);
  freeReplyObject(reply);
  redisFree(c);
  const auto at = info.find("process_id:");
  BOOST_REQUIRE(at != std::string::npos);
  return static_cast<pid_t>(std::stol(info.substr(at + 11)));
}

// Continues a stopped server even when a check fails half way.
struct resume_guard {
  pid_t pid;
  ~resume_guard() { ::kill(pid, SIGCONT); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_broker)

BOOST_AUTO_TEST_CASE(parse_redis_url_accepts_host_port_and_db) {
  auto o = cluster::parse_redis_url("redis://127.0.0.1:7001/3");
  BOOST_TEST(o.host == "127.0.0.1");
  BOOST_TEST(o.port == 7001);
  BOOST_TEST(o.db == 3);
  o = cluster::parse_redis_url("redis://cache.example-1.net");
  BOOST_TEST(o.host == "cache.example-1.net");
  BOOST_TEST(o.port == 6379);
  BOOST_TEST(o.db == 0);
  o = cluster::parse_redis_url("redis://localhost/2");
  BOOST_TEST(o.port == 6379);
  BOOST_TEST(o.db == 2);
  o = cluster::parse_redis_url("redis://[::1]:7002");
  BOOST_TEST(o.host == "::1");
  BOOST_TEST(o.port == 7002);
}

BOOST_AUTO_TEST_CASE(parse_redis_url_names_what_is_wrong) {
  const std::pair<const char*, const char*> bad[] = {
      {"http://127.0.0.1:6379", "scheme"},
      {"redis://", "missing host"},
      {"redis://:6379", "missing host"},
      {"redis://h:", "empty port"},
      {"redis://h:0", "port"},
      {"redis://h:65536", "port"},
      {"redis://h:12x", "port"},
      {"redis://h:1/db", "database"},
      {"redis://h:1/-1", "database"},
      {"redis://user:pw@h:1", "credentials"},
      {"redis://h:1?x=1", "queries"},
      {"redis://h h:1", "host"},
      {"redis://[::1", "IPv6"},
  };
  for (const auto& [url, why] : bad) {
    try {
      cluster::parse_redis_url(url);
      BOOST_ERROR("accepted " << url);
    } catch (const runtime::config_error& e) {
      const std::string text = e.what();
      BOOST_TEST(text.find(why) != std::string::npos, url << " -> " << text);
      BOOST_TEST(text.find(url) != std::string::npos, text);
    }
  }
}

BOOST_AUTO_TEST_CASE(publish_reaches_the_subscriber_on_another_broker) {
  test::redis_server redis;
  node a(redis), b(redis);
  inbox on_a, on_b;
  BOOST_REQUIRE(subscribe(a.broker, "room", on_a) == broker_error::none);
  BOOST_REQUIRE(subscribe(b.broker, "other", on_b) == broker_error::none);
  // Subscribing again replaces the handler and is confirmed at once.
  BOOST_REQUIRE(subscribe(a.broker, "room", on_a) == broker_error::none);

  std::string binary("x\0y\x1e:", 5);
  BOOST_REQUIRE(publish(b.broker, "room", "hello") == broker_error::none);
  BOOST_REQUIRE(publish(b.broker, "room", binary) == broker_error::none);
  BOOST_REQUIRE(publish(b.broker, "room", "") == broker_error::none);
  BOOST_REQUIRE(on_a.wait_for(3));
  const auto got = on_a.items();
  BOOST_TEST(got[0].topic == "room");
  BOOST_TEST(got[0].payload == "hello");
  BOOST_TEST(got[0].sequence == 0u);
  BOOST_TEST(got[0].epoch.empty());
  BOOST_TEST(got[1].payload == binary);
  BOOST_TEST(got[2].payload.empty());
  BOOST_TEST(on_b.items().empty());

  a.broker.unsubscribe("room");
  BOOST_REQUIRE(eventually([&] { return a.broker.stats().topics == 0; }));
  // Once the unsubscribe went out (a round trip on the same link), nothing more arrives.
  BOOST_REQUIRE(subscribe(a.broker, "sync", on_b) == broker_error::none);
  BOOST_REQUIRE(publish(b.broker, "room", "late") == broker_error::none);
  std::this_thread::sleep_for(100ms);
  BOOST_TEST(on_a.items().size() == 3u);

  const auto sa = a.broker.stats(), sb = b.broker.stats();
  BOOST_TEST(sa.connected);
  BOOST_TEST(sa.received == 3u);
  BOOST_TEST(sb.published == 4u);
  BOOST_TEST(sa.endpoint == "redis://127.0.0.1:" + std::to_string(redis.port()) + "/0");
}

BOOST_AUTO_TEST_CASE(logged_publish_numbers_from_one_in_order_and_reads_back) {
  test::redis_server redis;
  node a(redis), b(redis);
  inbox on_b;
  BOOST_REQUIRE(subscribe(b.broker, "q", on_b) == broker_error::none);

  // 200 logged publishes without waiting: the answers come back in order, numbered 1..200.
  constexpr int n = 200;
  std::mutex m;
  std::vector<std::uint64_t> acked;
  std::vector<std::string> epochs;
  std::promise<void> all;
  for (int k = 0; k < n; ++k)
    a.broker.publish_logged("q", "m" + std::to_string(k + 1), {},
                            [&](broker_error e, std::uint64_t seq, const std::string& epoch) {
                              std::lock_guard<std::mutex> lock(m);
                              BOOST_TEST((e == broker_error::none));
                              acked.push_back(seq);
                              epochs.push_back(epoch);
                              if (acked.size() == n) all.set_value();
                            });
  auto done = all.get_future();
  await(done);
  BOOST_TEST(acked == range(1, n), boost::test_tools::per_element());
  const std::string epoch = epochs.front();
  BOOST_TEST(epoch.size() == 16u);
  for (const auto& e : epochs)
    BOOST_TEST(e == epoch);

  // The subscriber on the other broker sees the same numbers and epoch, in order.
  BOOST_REQUIRE(on_b.wait_for(n));
  const auto got = on_b.items();
  for (int k = 0; k < n; ++k) {
    BOOST_TEST(got[k].sequence == static_cast<std::uint64_t>(k + 1));
    BOOST_TEST(got[k].payload == "m" + std::to_string(k + 1));
    BOOST_TEST(got[k].epoch == epoch);
  }

  auto all_log = read_log(b.broker, "q", 0, 1000);
  BOOST_TEST((all_log.error == broker_error::none));
  BOOST_TEST(all_log.epoch == epoch);
  BOOST_TEST(sequences(all_log.entries) == range(1, n), boost::test_tools::per_element());
  BOOST_TEST(all_log.entries[41].payload == "m42");

  auto middle = read_log(b.broker, "q", 10, 5);
  BOOST_TEST(sequences(middle.entries) == range(11, 15), boost::test_tools::per_element());
  BOOST_TEST(middle.entries[0].payload == "m11");
  auto tail = read_log(b.broker, "q", n - 2, 100);
  BOOST_TEST(sequences(tail.entries) == range(n - 1, n), boost::test_tools::per_element());
  auto past_end = read_log(b.broker, "q", n, 100);
  BOOST_TEST(past_end.entries.empty());
  BOOST_TEST(past_end.epoch == epoch);
  auto none = read_log(b.broker, "q", 0, 0);
  BOOST_TEST(none.entries.empty());
  BOOST_TEST(none.epoch == epoch);
  auto max_after = read_log(b.broker, "q", std::numeric_limits<std::uint64_t>::max(), 10);
  BOOST_TEST((max_after.error == broker_error::none));
  BOOST_TEST(max_after.entries.empty());

  auto unknown = read_log(b.broker, "never-written", 0, 10);
  BOOST_TEST((unknown.error == broker_error::none));
  BOOST_TEST(unknown.entries.empty());
  BOOST_TEST(unknown.epoch.empty());

  // Another topic has its own sequence and epoch.
  auto other = publish_logged(a.broker, "q2", "x");
  BOOST_TEST(other.sequence == 1u);
  BOOST_TEST(other.epoch != epoch);
}

BOOST_AUTO_TEST_CASE(retention_trims_the_log_by_count_and_by_age) {
  test::redis_server redis;
  node a(redis);
  for (int k = 1; k <= 25; ++k)
    BOOST_REQUIRE(publish_logged(a.broker, "count", std::to_string(k), {10, 0ms}).sequence ==
                  static_cast<std::uint64_t>(k));
  auto kept = read_log(a.broker, "count", 0, 100);
  BOOST_TEST(sequences(kept.entries) == range(16, 25), boost::test_tools::per_element());
  BOOST_TEST(kept.entries.front().payload == "16");

  const cluster::log_retention short_lived{1000, 300ms};
  for (int k = 1; k <= 5; ++k)
    publish_logged(a.broker, "age", "old", short_lived);
  BOOST_TEST(read_log(a.broker, "age", 0, 100).entries.size() == 5u);
  std::this_thread::sleep_for(450ms);
  BOOST_TEST(publish_logged(a.broker, "age", "new", short_lived).sequence == 6u);
  auto young = read_log(a.broker, "age", 0, 100);
  BOOST_TEST(sequences(young.entries) == std::vector<std::uint64_t>{6},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(keys_expire_and_hashes_hold_fields) {
  test::redis_server redis;
  node a(redis), b(redis);
  auto& x = a.broker;
  BOOST_REQUIRE(done_of([&](auto d) { x.set("lease", "node-1", 300ms, d); }) == broker_error::none);
  BOOST_REQUIRE(done_of([&](auto d) { x.set("forever", "v", 0ms, d); }) == broker_error::none);
  auto v = get(b.broker, "lease");
  BOOST_TEST(v.found);
  BOOST_TEST(v.text == "node-1");
  BOOST_REQUIRE(eventually([&] { return !get(b.broker, "lease").found; }, 2s));
  BOOST_TEST(get(b.broker, "forever").found);
  BOOST_REQUIRE(done_of([&](auto d) { x.del("forever", d); }) == broker_error::none);
  v = get(b.broker, "forever");
  BOOST_TEST((v.error == broker_error::none));
  BOOST_TEST(!v.found);

  BOOST_REQUIRE(done_of([&](auto d) { x.hset("nodes", "n1", "load=3", d); }) == broker_error::none);
  BOOST_REQUIRE(done_of([&](auto d) { x.hset("nodes", "n2", std::string("\0bin", 4), d); }) ==
                broker_error::none);
  BOOST_REQUIRE(done_of([&](auto d) { x.hset("nodes", "n1", "load=4", d); }) == broker_error::none);
  auto h = hgetall(b.broker, "nodes");
  BOOST_TEST(h.size() == 2u);
  BOOST_TEST(h["n1"] == "load=4");
  BOOST_TEST(h["n2"] == std::string("\0bin", 4));
  BOOST_REQUIRE(done_of([&](auto d) { x.hdel("nodes", "n1", d); }) == broker_error::none);
  h = hgetall(b.broker, "nodes");
  BOOST_TEST(h.size() == 1u);
  BOOST_TEST(h.count("n2") == 1u);
  // Keys and hashes are separate names: a key "nodes" does not touch the hash.
  BOOST_REQUIRE(done_of([&](auto d) { x.set("nodes", "k", 0ms, d); }) == broker_error::none);
  BOOST_TEST(hgetall(b.broker, "nodes").size() == 1u);
  BOOST_REQUIRE(done_of([&](auto d) { x.del("nodes", d); }) == broker_error::none);
  BOOST_TEST(hgetall(b.broker, "nodes").empty());
  BOOST_TEST(!get(b.broker, "nodes").found);
  BOOST_TEST(hgetall(b.broker, "missing").empty());
}

BOOST_AUTO_TEST_CASE(redis_killed_fails_fast_then_the_link_and_subscriptions_come_back) {
  test::redis_server redis;
  node a(redis), b(redis);
  inbox on_a;
  BOOST_REQUIRE(subscribe(a.broker, "news", on_a) == broker_error::none);
  BOOST_REQUIRE(publish(b.broker, "news", "before") == broker_error::none);
  BOOST_REQUIRE(on_a.wait_for(1));

  redis.kill();
  BOOST_REQUIRE_MESSAGE(a.link.wait_for(2, false), "on_link(false) not seen");
  BOOST_REQUIRE(b.link.wait_for(2, false));
  auto s = a.broker.stats();
  BOOST_TEST(!s.connected);
  BOOST_TEST(s.outages == 1u);
  BOOST_TEST(!s.last_error.empty());

  // While down every request fails at once, without waiting for a timeout.
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST((publish(a.broker, "news", "lost") == broker_error::unavailable));
  BOOST_TEST((publish_logged(a.broker, "log", "lost").error == broker_error::unavailable));
  BOOST_TEST((read_log(a.broker, "log", 0, 10).error == broker_error::unavailable));
  BOOST_TEST((get(a.broker, "k").error == broker_error::unavailable));
  BOOST_TEST(
      (done_of([&](auto d) { a.broker.hset("h", "f", "v", d); }) == broker_error::unavailable));
  inbox on_down;
  BOOST_TEST((subscribe(a.broker, "while-down", on_down) == broker_error::unavailable));
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 500ms));

  // Back up: the link reports up again, and old subscriptions (and the one made while down)
  // deliver with no new subscribe call.
  std::this_thread::sleep_for(300ms);  // a few failed retries in between
  redis.restart();
  BOOST_REQUIRE_MESSAGE(a.link.wait_for(3, true), "on_link(true) not seen after restart");
  BOOST_REQUIRE(b.link.wait_for(3, true));
  BOOST_REQUIRE(publish(b.broker, "news", "after") == broker_error::none);
  BOOST_REQUIRE(publish(b.broker, "while-down", "hi") == broker_error::none);
  BOOST_REQUIRE(on_a.wait_for(2));
  BOOST_TEST(on_a.items().back().payload == "after");
  BOOST_REQUIRE(on_down.wait_for(1));
  s = a.broker.stats();
  BOOST_TEST(s.connected);
  BOOST_TEST(s.reconnects == 1u);
  BOOST_TEST(s.outages == 1u);
  BOOST_TEST(s.topics == 2u);
}

BOOST_AUTO_TEST_CASE(requests_in_flight_when_redis_dies_all_get_an_answer) {
  test::redis_server redis;
  node a(redis);
  constexpr int n = 2000;
  std::atomic<int> answered{0}, ok{0}, unavailable{0};
  for (int k = 0; k < n; ++k)
    a.broker.publish_logged("burst", std::string(512, 'x'), {},
                            [&](broker_error e, std::uint64_t, const std::string&) {
                              if (e == broker_error::none) ++ok;
                              if (e == broker_error::unavailable) ++unavailable;
                              ++answered;
                            });
  BOOST_REQUIRE(eventually([&] { return ok.load() >= 50; }));
  redis.kill();
  BOOST_REQUIRE_MESSAGE(eventually([&] { return answered.load() == n; }),
                        "answered " << answered.load() << " of " << n);
  BOOST_TEST(ok + unavailable == n);
  BOOST_TEST(unavailable.load() > 0);
  BOOST_TEST_MESSAGE("acknowledged before the kill: " << ok.load());
}

BOOST_AUTO_TEST_CASE(a_flushed_script_cache_is_reloaded) {
  test::redis_server redis;
  node a(redis);
  BOOST_TEST(publish_logged(a.broker, "f", "1").sequence == 1u);
  raw_command(redis, "SCRIPT FLUSH");
  const auto again = publish_logged(a.broker, "f", "2");
  BOOST_TEST((again.error == broker_error::none));
  BOOST_TEST(again.sequence == 2u);
  raw_command(redis, "SCRIPT FLUSH");
  auto log = read_log(a.broker, "f", 0, 10);
  BOOST_TEST((log.error == broker_error::none));
  BOOST_TEST(sequences(log.entries) == range(1, 2), boost::test_tools::per_element());
  BOOST_TEST(a.broker.stats().failed == 0u);
}

BOOST_AUTO_TEST_CASE(a_hanging_redis_bounds_memory_then_drops_the_link) {
  test::redis_server redis;
  auto o = options_for(redis);
  o.max_pending_output = 4u << 20;
  node a(o);
  inbox in;
  BOOST_REQUIRE(subscribe(a.broker, "h", in) == broker_error::none);
  const pid_t pid = redis_pid(redis);
  resume_guard resume{pid};
  BOOST_REQUIRE(::kill(pid, SIGSTOP) == 0);

  // 60 MiB for a Redis that reads nothing: past the kernel's buffers and the 4 MiB bound,
  // requests fail at once instead of growing the output buffer.
  constexpr int n = 60;
  std::atomic<int> unavailable{0}, other{0};
  const std::string mib(1 << 20, 'x');
  for (int k = 0; k < n; ++k)
    a.broker.publish_logged("h", mib, {}, [&](broker_error e, std::uint64_t, const std::string&) {
      (e == broker_error::unavailable ? unavailable : other)++;
    });
  BOOST_REQUIRE_MESSAGE(eventually([&] { return unavailable.load() >= n / 2; }, 2s),
                        "only " << unavailable.load() << " refused");
  BOOST_TEST(a.broker.stats().connected);

  // No answer for seconds: the link is declared lost, and the rest fail with it.
  BOOST_REQUIRE_MESSAGE(a.link.wait_for(2, false, 10s), "a hanging Redis was not detected");
  BOOST_REQUIRE(eventually([&] { return unavailable.load() == n; }));
  BOOST_TEST(other.load() == 0);
  BOOST_TEST(a.broker.stats().last_error.find("answer") != std::string::npos);

  BOOST_REQUIRE(::kill(pid, SIGCONT) == 0);
  BOOST_REQUIRE(a.link.wait_for(3, true));
  BOOST_REQUIRE(publish(a.broker, "h", "back") == broker_error::none);
  BOOST_REQUIRE(in.wait_for(1));

  // stop() while Redis hangs is bounded too.
  BOOST_REQUIRE(::kill(pid, SIGSTOP) == 0);
  a.broker.publish("h", "queued");
  const auto t0 = std::chrono::steady_clock::now();
  a.broker.stop();
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 2s));
}

BOOST_AUTO_TEST_CASE(a_restart_without_persistence_starts_a_new_epoch) {
  test::redis_server redis;
  node a(redis);
  const auto first = publish_logged(a.broker, "h", "1");
  BOOST_TEST(publish_logged(a.broker, "h", "2").sequence == 2u);
  redis.restart();
  BOOST_REQUIRE(a.link.wait_for(3, true));
  const auto again = publish_logged(a.broker, "h", "3");
  BOOST_TEST((again.error == broker_error::none));
  BOOST_TEST(again.sequence == 1u);
  BOOST_TEST(again.epoch != first.epoch);
  auto log = read_log(a.broker, "h", 0, 10);
  BOOST_TEST(log.epoch == again.epoch);
  BOOST_TEST(sequences(log.entries) == std::vector<std::uint64_t>{1},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_restart_with_append_only_keeps_the_epoch_and_the_sequence) {
  test::redis_server redis{true};
  node a(redis);
  const auto first = publish_logged(a.broker, "h", "1");
  publish_logged(a.broker, "h", "2");
  redis.restart();
  BOOST_REQUIRE(a.link.wait_for(3, true));
  const auto again = publish_logged(a.broker, "h", "3");
  BOOST_TEST(again.sequence == 3u);
  BOOST_TEST(again.epoch == first.epoch);
  BOOST_TEST(sequences(read_log(a.broker, "h", 0, 10).entries) == range(1, 3),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_inconsistent_log_is_treated_as_a_new_epoch) {
  test::redis_server redis;
  node a(redis);
  const auto first = publish_logged(a.broker, "h", "1");
  // Only the sequence key lost (an eviction, an operator's DEL): the log is not trusted.
  redisContext* c = redisConnect("127.0.0.1", redis.port());
  BOOST_REQUIRE(c && !c->err);
  freeReplyObject(redisCommand(c, "DEL sb:seq:h"));
  redisFree(c);
  const auto again = publish_logged(a.broker, "h", "2");
  BOOST_TEST((again.error == broker_error::none));
  BOOST_TEST(again.sequence == 1u);
  BOOST_TEST(again.epoch != first.epoch);
  BOOST_TEST(read_log(a.broker, "h", 0, 10).entries.size() == 1u);
}

BOOST_AUTO_TEST_CASE(garbage_on_a_topic_channel_is_dropped_and_counted) {
  test::redis_server redis;
  node a(redis);
  inbox on_a;
  BOOST_REQUIRE(subscribe(a.broker, "t", on_a) == broker_error::none);
  const std::vector<std::string> garbage = {
      "",
      "plain text",
      "\x1e",
      "\x1ex-unknown-kind",
      "\x1el",
      "\x1el12",
      "\x1el12:",
      "\x1el12:epoch",
      "\x1el:epoch:payload",
      "\x1el0:epoch:payload",
      "\x1el-3:epoch:payload",
      "\x1el1x:epoch:payload",
      "\x1el99999999999999999999999:epoch:payload",
      "\x1el5::payload",
      "\x1el5:" + std::string(65, 'e') + ":payload",
  };
  for (const auto& g : garbage)
    raw_publish(redis, "sb:t:t", g);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return a.broker.stats().dropped == garbage.size(); }),
                        "dropped " << a.broker.stats().dropped);
  // Still working: a framed message from outside and one from a broker both arrive.
  raw_publish(redis, "sb:t:t", "\x1el7:abc:ok");
  BOOST_REQUIRE(publish(a.broker, "t", "fine") == broker_error::none);
  BOOST_REQUIRE(on_a.wait_for(2));
  const auto got = on_a.items();
  BOOST_TEST(got.size() == 2u);
  BOOST_TEST(got[0].sequence == 7u);
  BOOST_TEST(got[0].epoch == "abc");
  BOOST_TEST(got[0].payload == "ok");
  BOOST_TEST(got[1].payload == "fine");
  BOOST_TEST(a.broker.stats().received == 2u);
}

BOOST_AUTO_TEST_CASE(a_broker_started_before_redis_connects_when_it_appears) {
  test::redis_server redis;
  redis.kill();
  link_watch link;
  cluster::redis_broker b(options_for(redis));
  inbox in;
  std::promise<broker_error> subscribed;
  auto sf = subscribed.get_future();
  b.subscribe("early", in.handler(), [&](broker_error e) { subscribed.set_value(e); });
  b.on_link(link.handler());
  b.start();
  // The first attempts fail: the early subscription is told, and kept.
  BOOST_TEST((await(sf) == broker_error::unavailable));
  std::this_thread::sleep_for(200ms);
  BOOST_TEST(!b.stats().connected);
  BOOST_TEST(b.stats().outages == 0u);
  redis.restart();
  BOOST_REQUIRE(link.wait_for(1, true));
  node other(redis);
  BOOST_REQUIRE(publish(other.broker, "early", "x") == broker_error::none);
  BOOST_REQUIRE(in.wait_for(1));
  BOOST_TEST(b.stats().reconnects == 0u);
}

BOOST_AUTO_TEST_CASE(stop_is_bounded_idempotent_and_silences_handlers) {
  test::redis_server redis;
  auto a = std::make_unique<node>(redis);
  std::atomic<int> calls{0};
  std::atomic<bool> stopped{false}, late{false};
  for (int k = 0; k < 1000; ++k)
    a->broker.publish_logged("s", "x", {}, [&](broker_error, std::uint64_t, const std::string&) {
      ++calls;
      if (stopped) late = true;
    });
  auto t0 = std::chrono::steady_clock::now();
  a->broker.stop();
  stopped = true;
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 2s));
  a->broker.stop();
  a->broker.publish_logged("s", "after", {},
                           [&](broker_error, std::uint64_t, const std::string&) { late = true; });
  std::this_thread::sleep_for(100ms);
  BOOST_TEST(!late);
  BOOST_TEST_MESSAGE("answered during stop: " << calls.load());
  a.reset();

  // Stopping while Redis is unreachable is bounded too.
  redis.kill();
  cluster::redis_broker down(options_for(redis));
  down.start();
  std::this_thread::sleep_for(100ms);
  t0 = std::chrono::steady_clock::now();
  down.stop();
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 2s));

  // And a broker never started.
  cluster::redis_broker idle(options_for(redis));
  idle.stop();
}

BOOST_AUTO_TEST_CASE(stop_from_a_handler_or_from_two_threads_at_once) {
  test::redis_server redis;
  auto self_stopping = std::make_unique<node>(redis);
  node sender(redis);
  std::atomic<int> deliveries{0};
  std::promise<broker_error> subscribed;
  auto sf = subscribed.get_future();
  auto* b = &self_stopping->broker;
  b->subscribe(
      "s",
      [&, b](const cluster::delivery&) {
        ++deliveries;
        b->stop();  // on the broker's own thread: returns at once, handlers silenced
      },
      [&](broker_error e) { subscribed.set_value(e); });
  BOOST_REQUIRE((await(sf) == broker_error::none));
  for (int k = 0; k < 20; ++k)
    publish(sender.broker, "s", "x");
  BOOST_REQUIRE(eventually([&] { return deliveries.load() >= 1; }));
  std::this_thread::sleep_for(100ms);
  BOOST_TEST(deliveries.load() == 1);
  self_stopping.reset();  // joins the loop from this thread

  node twice(redis);
  std::thread other([&] { twice.broker.stop(); });
  twice.broker.stop();
  other.join();
  BOOST_TEST(!twice.broker.stats().connected);
}

BOOST_AUTO_TEST_CASE(make_broker_builds_a_redis_broker_from_the_url) {
  test::redis_server redis;
  auto b = cluster::make_broker(redis.url());
  link_watch link;
  b->on_link(link.handler());
  b->start();
  BOOST_REQUIRE(link.wait_for(1, true));
  BOOST_TEST(b->stats().endpoint == redis.url() + "/0");
  BOOST_CHECK_THROW(cluster::make_broker("redis://bad:port"), runtime::config_error);
}

BOOST_AUTO_TEST_SUITE_END()
