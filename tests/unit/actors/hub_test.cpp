// hub_test.cpp: the hub facade against real sockets (Beast clients): handlers, send, close,
// broadcast, channels, groups with wildcard broadcast and removal on disconnect, and both
// dispatch modes. "Nothing else arrived" is proved by a marker message sent after the fact:
// it must be the next message the client reads.
#include "actors/hub.hpp"

#include "runtime/server.hpp"
#include "support/ws_client.hpp"

#include <boost/test/unit_test.hpp>

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace sb = switchboard::actors;
using switchboard::test::ws_client;
using namespace std::chrono_literals;

namespace {

// Collects what handlers report, for the test thread to wait on.
struct recorder {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<sb::connection_id> connected;
  std::vector<std::pair<sb::connection_id, std::uint16_t>> disconnected;
  std::vector<std::pair<std::string, sb::connection_id>> removed;
  std::vector<std::string> handler_threads;

  template <class Pred>
  void wait(Pred pred) {
    std::unique_lock<std::mutex> lock(mutex);
    BOOST_REQUIRE(changed.wait_for(lock, 5s, pred));
  }
  template <class F>
  void update(F f) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      f();
    }
    changed.notify_all();
  }
};

struct hub_fixture {
  explicit hub_fixture(sb::dispatch mode = sb::dispatch::actor) {
    sb::hub_options o;
    o.mode = mode;
    o.server.threads = 2;
    o.actor_threads = 2;
    for (int attempt = 0;; ++attempt) {
      port = switchboard::test::free_port();
      switchboard::runtime::binding b;
      b.host = "127.0.0.1";
      b.port = port;
      o.server.bindings = {b};
      hub = std::make_unique<sb::hub>(o);
      install_handlers();
      try {
        hub->start();
        break;
      } catch (const switchboard::runtime::config_error&) {
        if (attempt == 5) throw;  // the port was taken between the check and the bind
      }
    }
  }
  ~hub_fixture() { hub->stop(); }

  void install_handlers() {
    hub->on_connect(
        [this](sb::connection& c) { rec.update([&] { rec.connected.push_back(c.id()); }); });
    hub->on_message([this](sb::connection& c, const sb::message& m) {
      char name[32] = {};
      pthread_getname_np(pthread_self(), name, sizeof name);
      rec.update([&] { rec.handler_threads.push_back(name); });
      if (m.is_text())
        c.send("echo:" + std::string(m.text()));
      else
        c.send_binary(m.data());
    });
    hub->on_disconnect([this](sb::connection& c, std::uint16_t code, std::string_view) {
      rec.update([&] { rec.disconnected.emplace_back(c.id(), code); });
    });
    hub->groups().on_removed([this](const std::string& group, sb::connection_id id) {
      rec.update([&] { rec.removed.emplace_back(group, id); });
    });
  }

  // Opens a client and returns it with the id the hub gave it.
  std::pair<std::unique_ptr<ws_client>, sb::connection_id> open(const std::string& path = "/app") {
    std::size_t before;
    {
      std::lock_guard<std::mutex> lock(rec.mutex);
      before = rec.connected.size();
    }
    auto client = std::make_unique<ws_client>("127.0.0.1", port, path);
    rec.wait([&] { return rec.connected.size() > before; });
    std::lock_guard<std::mutex> lock(rec.mutex);
    return {std::move(client), rec.connected.back()};
  }

  std::string next_text(ws_client& c) {
    auto m = c.read();
    BOOST_REQUIRE(m.has_value());
    BOOST_CHECK(!m->binary);
    return m->data;
  }

  std::uint16_t port = 0;
  recorder rec;
  std::unique_ptr<sb::hub> hub;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(actors_hub)

BOOST_AUTO_TEST_CASE(handlers_see_connect_message_and_disconnect_with_code) {
  hub_fixture f;
  auto [client, id] = f.open();
  BOOST_CHECK_NE(id, 0u);
  client->send("hello");
  BOOST_CHECK_EQUAL(f.next_text(*client), "echo:hello");
  client->send_binary(std::string("\x00\x01\x02", 3));
  auto bin = client->read();
  BOOST_REQUIRE(bin && bin->binary);
  BOOST_CHECK_EQUAL(bin->data, std::string("\x00\x01\x02", 3));
  client->close(4000, "bye");
  f.rec.wait([&] { return !f.rec.disconnected.empty(); });
  BOOST_CHECK_EQUAL(f.rec.disconnected[0].first, id);
  BOOST_CHECK_EQUAL(f.rec.disconnected[0].second, 4000);
}

BOOST_AUTO_TEST_CASE(actor_dispatch_runs_handlers_off_the_io_threads) {
  hub_fixture f;
  auto [client, id] = f.open();
  client->send("x");
  BOOST_CHECK_EQUAL(f.next_text(*client), "echo:x");
  std::lock_guard<std::mutex> lock(f.rec.mutex);
  BOOST_REQUIRE_EQUAL(f.rec.handler_threads.size(), 1u);
  BOOST_CHECK(f.rec.handler_threads[0].rfind("sb-io-", 0) != 0);
}

BOOST_AUTO_TEST_CASE(io_thread_dispatch_runs_handlers_on_the_io_thread) {
  hub_fixture f(sb::dispatch::io_thread);
  auto [client, id] = f.open();
  client->send("y");
  BOOST_CHECK_EQUAL(f.next_text(*client), "echo:y");
  client->close(1000);
  f.rec.wait([&] { return !f.rec.disconnected.empty(); });
  std::lock_guard<std::mutex> lock(f.rec.mutex);
  BOOST_CHECK(f.rec.handler_threads.at(0).rfind("sb-io-", 0) == 0);
  BOOST_CHECK_EQUAL(f.rec.disconnected[0].second, 1000);
}

BOOST_AUTO_TEST_CASE(ids_are_unique_and_send_by_id_works_from_any_thread) {
  hub_fixture f;
  auto [a, id_a] = f.open();
  auto [b, id_b] = f.open();
  BOOST_CHECK_NE(id_a, id_b);
  std::thread([&] { BOOST_CHECK(f.hub->send(id_b, "for b")); }).join();
  BOOST_CHECK_EQUAL(f.next_text(*b), "for b");
  BOOST_CHECK(f.hub->send(id_a, "for a"));
  BOOST_CHECK_EQUAL(f.next_text(*a), "for a");
  BOOST_CHECK(!f.hub->send(999999, "nobody"));
}

BOOST_AUTO_TEST_CASE(close_by_id_sends_the_code) {
  hub_fixture f;
  auto [client, id] = f.open();
  BOOST_CHECK(f.hub->close(id, 4321, "go away"));
  BOOST_CHECK(!client->read().has_value());
  BOOST_CHECK_EQUAL(client->close_code(), 4321);
  f.rec.wait([&] { return !f.rec.disconnected.empty(); });
}

BOOST_AUTO_TEST_CASE(broadcast_reaches_every_hub_connection_once) {
  hub_fixture f;
  auto [a, ia] = f.open();
  auto [b, ib] = f.open();
  auto [c, ic] = f.open();
  f.hub->broadcast("to all");
  for (auto* client : {a.get(), b.get(), c.get()}) {
    BOOST_CHECK_EQUAL(f.next_text(*client), "to all");
    f.hub->send(client == a.get() ? ia : client == b.get() ? ib : ic, "marker");
    BOOST_CHECK_EQUAL(f.next_text(*client), "marker");  // nothing else came in between
  }
}

BOOST_AUTO_TEST_CASE(channel_broadcast_reaches_subscribers_only) {
  hub_fixture f;
  auto [a, ia] = f.open();
  auto [b, ib] = f.open();
  auto [c, ic] = f.open();
  f.hub->subscribe(ia, "news");
  f.hub->subscribe(ib, "news");
  f.hub->subscribe(ib, "news");  // twice: still one subscription
  for (int i = 0; i < 200 && f.hub->subscribers("news") < 2; ++i)
    std::this_thread::sleep_for(10ms);
  BOOST_REQUIRE_EQUAL(f.hub->subscribers("news"), 2u);
  f.hub->broadcast("headline", "news");
  BOOST_CHECK_EQUAL(f.next_text(*a), "headline");
  BOOST_CHECK_EQUAL(f.next_text(*b), "headline");
  f.hub->send(ic, "marker");
  BOOST_CHECK_EQUAL(f.next_text(*c), "marker");
  f.hub->send(ib, "marker");
  BOOST_CHECK_EQUAL(f.next_text(*b), "marker");  // received the headline once

  f.hub->unsubscribe(ia, "news");
  for (int i = 0; i < 200 && f.hub->subscribers("news") > 1; ++i)
    std::this_thread::sleep_for(10ms);
  BOOST_CHECK_EQUAL(f.hub->subscribers("news"), 1u);
  b->close(1000);
  for (int i = 0; i < 200 && f.hub->subscribers("news") > 0; ++i)
    std::this_thread::sleep_for(10ms);
  BOOST_CHECK_EQUAL(f.hub->subscribers("news"), 0u);  // disconnect unsubscribes
}

BOOST_AUTO_TEST_CASE(group_wildcard_broadcast_and_removal_on_disconnect) {
  hub_fixture f;
  auto [a, ia] = f.open();
  auto [b, ib] = f.open();
  auto [c, ic] = f.open();
  auto& groups = f.hub->groups();
  groups.add("Room1", ia);
  groups.add("Room2", ia);  // in two matching groups: must get one copy
  groups.add("Room2", ib);
  groups.add("Lobby", ic);
  BOOST_CHECK((groups.members("Room2") == std::vector<sb::connection_id>{ia, ib} ||
               groups.members("Room2") == std::vector<sb::connection_id>{ib, ia}));
  BOOST_CHECK_EQUAL(groups.names().size(), 3u);

  groups.broadcast("Room*", "rooms");
  BOOST_CHECK_EQUAL(f.next_text(*a), "rooms");
  BOOST_CHECK_EQUAL(f.next_text(*b), "rooms");
  for (auto [client, id] : {std::pair{a.get(), ia}, std::pair{c.get(), ic}}) {
    f.hub->send(id, "marker");
    BOOST_CHECK_EQUAL(f.next_text(*client), "marker");  // a: no second copy; c: nothing
  }
  groups.broadcast("Lobby", "lobby only");
  BOOST_CHECK_EQUAL(f.next_text(*c), "lobby only");

  groups.remove("Room2", ib);
  f.rec.wait([&] { return f.rec.removed.size() == 1; });
  BOOST_CHECK(f.rec.removed[0] == std::make_pair(std::string("Room2"), ib));

  a->close(1000);
  f.rec.wait([&] { return f.rec.removed.size() == 3; });  // a left Room1 and Room2
  std::set<std::string> left;
  for (std::size_t i = 1; i < 3; ++i) {
    BOOST_CHECK_EQUAL(f.rec.removed[i].second, ia);
    left.insert(f.rec.removed[i].first);
  }
  BOOST_CHECK((left == std::set<std::string>{"Room1", "Room2"}));
  BOOST_CHECK(groups.members("Room1").empty());
  BOOST_CHECK_EQUAL(groups.names().size(), 1u);  // only Lobby remains
}

BOOST_AUTO_TEST_CASE(echo_and_http_routes_coexist_with_hub_paths) {
  hub_fixture f;
  ws_client echo("127.0.0.1", f.port, "/echo");
  echo.send("raw");
  auto m = echo.read();
  BOOST_REQUIRE(m);
  BOOST_CHECK_EQUAL(m->data, "raw");  // the built-in echo, not the hub's "echo:" handler
}

BOOST_AUTO_TEST_CASE(stop_reports_every_disconnect_with_1001) {
  hub_fixture f;
  auto [a, ia] = f.open();
  auto [b, ib] = f.open();
  f.hub->stop();
  std::lock_guard<std::mutex> lock(f.rec.mutex);
  BOOST_REQUIRE_EQUAL(f.rec.disconnected.size(), 2u);
  for (const auto& d : f.rec.disconnected)
    BOOST_CHECK(d.second == 1001 || d.second == 1006);
}

BOOST_AUTO_TEST_SUITE_END()
