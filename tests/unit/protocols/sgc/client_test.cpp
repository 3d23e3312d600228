// client_test.cpp: tests of protocols/sgc/client.hpp, the C++ sgc client
// (spec/sgc-protocols.md section 2), against real sockets: an sgc::server attached to a
// runtime::server on a free loopback port, as in server_test.cpp. No mocks: connections are
// dropped by the server (runtime::connection::close from a hook) or by restarting it on the
// same port. "Nothing else arrived" is proved by a marker publish on the same channel (one
// channel actor keeps order), never by a sleep.
#include "protocols/sgc/client.hpp"

#include "protocols/sgc/server.hpp"
#include "runtime/server.hpp"
#include "support/ws_client.hpp"

#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sgc = switchboard::protocols::sgc;
namespace rt = switchboard::runtime;
using namespace std::chrono_literals;

namespace {

// An sgc server on a loopback port; restart() brings up a new one on the same port.
struct fixture {
  using setup_fn = std::function<void(sgc::server&)>;

  explicit fixture(setup_fn setup_hooks = {}) : setup(std::move(setup_hooks)) {
    config.set("logger.console", caf::atom("none"));
    config.set("scheduler.max-threads", static_cast<caf::config_value::integer>(2));
    system = std::make_unique<caf::actor_system>(config);
    for (int attempt = 0;; ++attempt) {
      port = switchboard::test::free_port();
      try {
        start();
        break;
      } catch (const rt::config_error&) {
        stop();
        if (attempt == 5) throw;  // the port was taken between the check and the bind
      }
    }
  }
  ~fixture() {
    if (transport) transport->stop();
    protocol.reset();  // its stop() only asks the channel actors to quit: they may still be
    system.reset();    // delivering through the transport, so they end before it does
    transport.reset();
  }

  void start() {
    rt::server_options so;
    so.threads = 2;
    rt::binding b;
    b.host = "127.0.0.1";
    b.port = port;
    so.bindings = {b};
    transport = std::make_unique<rt::server>(so);
    protocol = std::make_unique<sgc::server>(*system, *transport);
    if (setup) setup(*protocol);
    protocol->attach("/sgc");
    transport->start();
  }
  void stop() {
    if (transport) transport->stop();
    protocol.reset();
    transport.reset();
  }
  // The server goes away (its close reaches the clients) and a new one (empty: no channels,
  // no history) comes back on the same port.
  void restart() {
    stop();
    for (int attempt = 0;; ++attempt) {
      try {
        start();
        return;
      } catch (const rt::config_error&) {
        stop();
        if (attempt == 20) throw;
        std::this_thread::sleep_for(50ms);
      }
    }
  }
  // Waits until `channel` has `n` subscribers (by name or pattern) on the server.
  bool wait_subscribers(const std::string& channel, std::size_t n) {
    for (int i = 0; i < 250; ++i) {
      if (protocol->subscribers(channel) == n) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port) + "/sgc"; }

  setup_fn setup;
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  std::unique_ptr<rt::server> transport;
  std::unique_ptr<sgc::server> protocol;
  std::uint16_t port = 0;
};

// What a client's events report, one line each, for the test thread to wait on.
struct recorder {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> lines;

  void add(std::string line) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      lines.push_back(std::move(line));
    }
    changed.notify_all();
  }
  std::size_t count(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex);
    std::size_t n = 0;
    for (const auto& l : lines)
      n += l == line;
    return n;
  }
  // Waits until `line` was reported at least `n` times.
  bool wait_for(const std::string& line, std::size_t n = 1, std::chrono::milliseconds t = 5s) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, t, [&] {
      std::size_t k = 0;
      for (const auto& l : lines)
        k += l == line;
      return k >= n;
    });
  }
  // The lines starting with `prefix`, in order.
  std::vector<std::string> starting_with(const std::string& prefix) {
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<std::string> out;
    for (const auto& l : lines)
      if (l.compare(0, prefix.size(), prefix) == 0) out.push_back(l);
    return out;
  }
};

// An sgc::client whose events go to a recorder (declared first: it outlives the client).
struct peer {
  explicit peer(const fixture& f, const std::function<void(sgc::client_options&)>& tweak = {}) {
    sgc::client_options o;
    o.transport.url = f.url();
    o.transport.connect_timeout_ms = 3000;
    o.transport.reconnect.enabled = true;
    o.transport.reconnect.initial_delay_ms = 100;
    o.transport.reconnect.max_delay_ms = 200;
    if (tweak) tweak(o);
    sgc::client_events ev;
    ev.on_connect = [this](const rt::connect_info& info) {
      log.add(info.reconnected ? "reconnect" : "connect");
    };
    ev.on_disconnect = [this](std::uint16_t, std::string_view) { log.add("disconnect"); };
    ev.on_session = [this](std::string_view guid) { log.add("session " + std::string(guid)); };
    ev.on_event = [this](std::string_view ch, std::string_view text, std::uint64_t seq) {
      log.add("event " + std::string(ch) + " " + std::string(text) + " " + std::to_string(seq));
    };
    ev.on_message = [this](std::string_view ch, std::string_view text) {
      log.add("message " + std::string(ch) + " " + std::string(text));
    };
    ev.on_subscribed = [this](std::string_view ch, const sgc::subscription_info& info) {
      std::string line = "subscribed " + std::string(ch);
      if (info.resumed)
        line += " since " + std::to_string(info.since) + " sequence " +
                std::to_string(info.sequence) + (info.recovered ? " recovered" : " gap");
      log.add(line);
    };
    ev.on_unsubscribed = [this](std::string_view ch) {
      log.add("unsubscribed " + std::string(ch));
    };
    ev.on_gap = [this](std::string_view ch, std::uint64_t since, std::uint64_t seq) {
      log.add("gap " + std::string(ch) + " " + std::to_string(since) + " " + std::to_string(seq));
    };
    ev.on_rpc_result = [this](const sgc::rpc_reply& r) { log.add("result " + r.result); };
    ev.on_rpc_error = [this](const sgc::rpc_reply& r) {
      log.add("rpc error " + std::to_string(r.code));
    };
    ev.on_acknowledgment = [this](std::string_view id) { log.add("ack " + std::string(id)); };
    ev.on_error = [this](const std::error_code&, const std::string& what) {
      log.add("error " + what);
    };
    c = std::make_unique<sgc::client>(o, ev);
  }
  // Connects and waits for the session.
  void open() {
    c->connect();
    BOOST_REQUIRE(log.wait_for("connect"));
    BOOST_REQUIRE(wait([&] { return !c->session_id().empty(); }));
  }
  static bool wait(const std::function<bool()>& done) {
    for (int i = 0; i < 250; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  recorder log;
  std::unique_ptr<sgc::client> c;
};

// The server's side of each connection, so a test can drop it (the sgc server lives on).
struct connections {
  std::mutex mutex;
  std::vector<rt::connection_ptr> open;
  void add(const rt::connection_ptr& c) {
    std::lock_guard<std::mutex> lock(mutex);
    open.push_back(c);
  }
  void drop_all(std::uint16_t code) {
    std::lock_guard<std::mutex> lock(mutex);
    for (auto& c : open)
      c->close(code, "dropped by the test");
    open.clear();
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(sgc_client)

BOOST_AUTO_TEST_CASE(session_event_and_get_session_2_7) {
  fixture f;
  peer a(f);
  a.open();
  const std::string guid = a.c->session_id();
  BOOST_CHECK_EQUAL(guid.size(), 36u);
  BOOST_CHECK(a.log.wait_for("session " + guid));
  BOOST_CHECK(a.c->is_open());
  a.c->get_session();
  BOOST_CHECK(a.log.wait_for("session " + guid, 2));
  BOOST_CHECK_EQUAL(f.protocol->connections(), 1u);
  a.c->close();
  BOOST_CHECK(a.log.wait_for("disconnect"));
  BOOST_CHECK(!a.c->is_open());
}

BOOST_AUTO_TEST_CASE(subscribe_publish_between_two_clients_with_a_pattern_and_a_list_2_4_2_5) {
  std::atomic<int> messages{0};
  std::string last_message;
  std::mutex m;
  fixture f([&](sgc::server& s) {
    s.on_message([&](const sgc::peer&, const std::string& text) {
      std::lock_guard<std::mutex> lock(m);
      last_message = text;
      ++messages;
    });
  });
  peer a(f), b(f);
  a.c->subscribe("news");  // before connect: sent once open
  a.open();
  b.open();
  BOOST_REQUIRE(a.log.wait_for("subscribed news"));
  b.c->subscribe("sport*,weather");
  BOOST_REQUIRE(b.log.wait_for("subscribed sport*"));
  BOOST_REQUIRE(b.log.wait_for("subscribed weather"));
  b.c->publish("Hello", "news");
  BOOST_CHECK(a.log.wait_for("event news Hello 1"));
  a.c->publish("goal", "sport.live");
  BOOST_CHECK(b.log.wait_for("event sport.live goal 0"));  // no channel by name: no sequence
  a.c->publish(R"({"t":21})", "weather");
  BOOST_CHECK(b.log.wait_for(R"(event weather {"t":21} 1)"));
  a.c->broadcast("to all");
  BOOST_CHECK(a.log.wait_for("message  to all"));
  BOOST_CHECK(b.log.wait_for("message  to all"));
  a.c->write("just the server");
  BOOST_CHECK(peer::wait([&] { return messages.load() == 1; }));
  {
    std::lock_guard<std::mutex> lock(m);
    BOOST_CHECK_EQUAL(last_message, "just the server");
  }
  b.c->unsubscribe("weather");
  BOOST_CHECK(b.log.wait_for("unsubscribed weather"));
  a.c->publish("after", "weather");
  a.c->publish("marker", "sport.x");
  BOOST_CHECK(b.log.wait_for("event sport.x marker 0"));
  BOOST_CHECK(b.log.starting_with("event weather").size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_denied_subscription_is_reported_and_delivers_nothing_2_4) {
  fixture f([](sgc::server& s) {
    s.on_before_subscribe(
        [](const sgc::peer&, const std::string& channel) { return channel != "secret"; });
  });
  peer a(f), b(f);
  a.open();
  b.open();
  a.c->subscribe("secret,open");
  BOOST_CHECK(a.log.wait_for("subscribed open"));
  BOOST_CHECK(a.log.wait_for("rpc error " + std::to_string(sgc::subscription_denied)));
  b.c->publish("hidden", "secret");
  b.c->publish("visible", "open");
  BOOST_CHECK(a.log.wait_for("event open visible 1"));
  BOOST_CHECK(a.log.starting_with("event secret").empty());
  BOOST_CHECK(a.log.starting_with("subscribed secret").empty());
}

BOOST_AUTO_TEST_CASE(rpc_result_and_method_not_found_through_futures_and_callbacks_2_6) {
  std::atomic<int> notifications{0};
  fixture f([&](sgc::server& s) {
    s.on_rpc("sum", [](const sgc::peer&, sgc::rpc_call call) {
      BOOST_CHECK_EQUAL(call.params(), "[1,2]");
      call.result_json("3");
    });
    s.on_rpc("echo", [](const sgc::peer&, sgc::rpc_call call) { call.result("plain text"); });
    s.on_notification([&](const sgc::peer&, const std::string& method, const std::string&) {
      if (method == "tick") ++notifications;
    });
  });
  peer a(f);
  a.open();
  auto sum = a.c->rpc("sum", "[1,2]");
  BOOST_REQUIRE(sum.wait_for(5s) == std::future_status::ready);
  const sgc::rpc_reply r = sum.get();
  BOOST_CHECK(r.ok);
  BOOST_CHECK_EQUAL(r.result, "3");
  BOOST_CHECK_EQUAL(r.id.size(), 36u);
  BOOST_CHECK(a.log.wait_for("ack " + r.id));  // the server acks an RPC before answering

  auto echo = a.c->rpc("echo");
  BOOST_REQUIRE(echo.wait_for(5s) == std::future_status::ready);
  BOOST_CHECK_EQUAL(echo.get().result_text(), "plain text");

  std::promise<sgc::rpc_reply> p;
  auto got = p.get_future();
  const std::string id = a.c->rpc("nope", "", [&p](const sgc::rpc_reply& x) { p.set_value(x); });
  BOOST_REQUIRE(got.wait_for(5s) == std::future_status::ready);
  const sgc::rpc_reply e = got.get();
  BOOST_CHECK(!e.ok);
  BOOST_CHECK_EQUAL(e.id, id);
  BOOST_CHECK_EQUAL(e.code, sgc::method_not_found);

  a.c->rpc("sum", "[1,2]", nullptr);  // no callback: the event
  BOOST_CHECK(a.log.wait_for("result 3"));
  a.c->notify("tick", R"({"n":1})");
  BOOST_CHECK(peer::wait([&] { return notifications.load() == 1; }));
}

BOOST_AUTO_TEST_CASE(rpc_waiting_when_the_connection_drops_gets_rpc_disconnected) {
  connections conns;
  fixture f([&](sgc::server& s) {
    s.on_connect([&](const sgc::peer& p) { conns.add(p.connection); });
    s.on_rpc("never", [](const sgc::peer&, sgc::rpc_call) {});  // never answered
  });
  peer a(f);
  a.open();
  auto never = a.c->rpc("never");
  BOOST_REQUIRE(peer::wait([&] { return a.log.starting_with("ack ").size() == 1; }));
  conns.drop_all(4001);
  BOOST_REQUIRE(never.wait_for(5s) == std::future_status::ready);
  BOOST_CHECK_EQUAL(never.get().code, sgc::rpc_disconnected);
}

BOOST_AUTO_TEST_CASE(qos1_publish_is_acknowledged_and_removed_from_the_list_2_8) {
  fixture f;
  peer s(f), a(f, [](sgc::client_options&o) { o.qos = sgc::qos_level::level1; });
  s.c->subscribe("q1");
  s.open();
  BOOST_REQUIRE(s.log.wait_for("subscribed q1"));
  a.open();
  const std::string id = a.c->publish("m1", "q1");
  BOOST_CHECK_EQUAL(id.size(), 36u);
  BOOST_CHECK(a.log.wait_for("ack " + id));
  BOOST_CHECK(s.log.wait_for("event q1 m1 1"));
  BOOST_CHECK(peer::wait([&] { return a.c->pending_qos() == 0; }));
  // A per-call level 0 overrides the client's level: no id.
  BOOST_CHECK_EQUAL(a.c->publish("m2", "q1", sgc::queue_level::level0, sgc::qos_level::level0), "");
  BOOST_CHECK(s.log.wait_for("event q1 m2 2"));
}

BOOST_AUTO_TEST_CASE(qos1_unacknowledged_publish_is_resent_after_the_timeout_2_8) {
  std::atomic<int> swallowed{0};
  fixture f([&](sgc::server& s) {
    s.on_raw_message([&](const sgc::peer&, std::string_view text) {
      // The first QoS 1 publish "gets lost": no ACK, not processed.
      return text.find("qosLevel1") != std::string_view::npos && swallowed.fetch_add(1) == 0;
    });
  });
  peer s(f), a(f, [](sgc::client_options&o) {
    o.qos = sgc::qos_level::level1;
    o.qos_interval = 100ms;
    o.qos_timeout = 200ms;
  });
  s.c->subscribe("r1");
  s.open();
  BOOST_REQUIRE(s.log.wait_for("subscribed r1"));
  a.open();
  const std::string id = a.c->publish("again", "r1");
  BOOST_CHECK(a.log.wait_for("ack " + id));
  BOOST_CHECK(s.log.wait_for("event r1 again 1"));
  BOOST_CHECK_GE(swallowed.load(), 2);  // the original and the resend
  BOOST_CHECK(peer::wait([&] { return a.c->pending_qos() == 0; }));
}

BOOST_AUTO_TEST_CASE(qos2_publish_is_delivered_once_2_8) {
  std::atomic<int> pubrels{0};
  fixture f([&](sgc::server& s) {
    s.on_raw_message([&](const sgc::peer&, std::string_view text) {
      if (text.find("sgc@pubrel") != std::string_view::npos) ++pubrels;
      return false;
    });
  });
  peer s(f), a(f, [](sgc::client_options&o) { o.qos = sgc::qos_level::level2; });
  s.c->subscribe("q2");
  s.open();
  BOOST_REQUIRE(s.log.wait_for("subscribed q2"));
  a.open();
  const std::string id = a.c->publish("once", "q2");
  BOOST_CHECK(a.log.wait_for("ack " + id));
  BOOST_CHECK_EQUAL(pubrels.load(), 1);
  BOOST_CHECK(peer::wait([&] { return a.c->pending_qos() == 0; }));
  a.c->publish("marker", "q2", sgc::queue_level::level0, sgc::qos_level::level0);
  BOOST_CHECK(s.log.wait_for("event q2 marker 2"));
  BOOST_CHECK_EQUAL(s.log.count("event q2 once 1"), 1u);
}

BOOST_AUTO_TEST_CASE(queue_level2_is_replayed_to_a_new_subscriber_2_9) {
  fixture f;
  peer p(f), s(f);
  // The publisher subscribes too, so that seeing its own last event proves every publish is
  // stored before the new subscriber asks (one channel actor keeps order).
  p.c->subscribe("history,last-value");
  p.open();
  BOOST_REQUIRE(p.log.wait_for("subscribed history"));
  BOOST_REQUIRE(p.log.wait_for("subscribed last-value"));
  for (int i = 1; i <= 3; ++i)
    p.c->publish("m" + std::to_string(i), "history", sgc::queue_level::level2);
  p.c->publish("first", "last-value", sgc::queue_level::level1);
  p.c->publish("second", "last-value", sgc::queue_level::level1);
  BOOST_REQUIRE(p.log.wait_for("event history m3 3"));
  BOOST_REQUIRE(p.log.wait_for("event last-value second 2"));
  s.open();
  s.c->subscribe("history");
  BOOST_REQUIRE(s.log.wait_for("event history m3 3"));
  BOOST_CHECK(
      (s.log.starting_with("event history") ==
       std::vector<std::string>{"event history m1 1", "event history m2 2", "event history m3 3"}));
  s.c->subscribe("last-value");
  BOOST_CHECK(s.log.wait_for("event last-value second 2"));
  BOOST_CHECK_EQUAL(s.log.starting_with("event last-value").size(), 1u);
}

BOOST_AUTO_TEST_CASE(transaction_commit_and_rollback_2_10) {
  fixture f;
  peer s(f), a(f);
  s.c->subscribe("t");
  s.open();
  BOOST_REQUIRE(s.log.wait_for("subscribed t"));
  a.open();
  a.c->start_transaction("t");
  a.c->publish("1", "t");
  a.c->publish("2", "t");
  a.c->publish("outside", "other");
  a.c->commit("t");
  BOOST_CHECK(s.log.wait_for("event t 1 1"));
  BOOST_CHECK(s.log.wait_for("event t 2 2"));
  a.c->start_transaction("t");
  a.c->publish("dropped", "t");
  a.c->rollback("t");
  a.c->publish("3", "t");
  BOOST_CHECK(s.log.wait_for("event t 3 3"));
  BOOST_CHECK((s.log.starting_with("event t") ==
               std::vector<std::string>{"event t 1 1", "event t 2 2", "event t 3 3"}));
}

BOOST_AUTO_TEST_CASE(reconnect_after_a_server_restart_resubscribes_names_and_patterns) {
  fixture f;
  peer a(f);
  a.c->subscribe("news,alerts*");
  a.open();
  BOOST_REQUIRE(a.log.wait_for("subscribed news"));
  BOOST_REQUIRE(a.log.wait_for("subscribed alerts*"));
  f.protocol->publish("before", "news");
  BOOST_REQUIRE(a.log.wait_for("event news before 1"));

  f.restart();  // a new sgc server: no channels, no history
  BOOST_REQUIRE(a.log.wait_for("disconnect"));
  BOOST_REQUIRE(a.log.wait_for("reconnect", 1, 10s));
  // "since 1" on news: the new server's channel is at 0, so history did not reach back.
  BOOST_CHECK(a.log.wait_for("subscribed news since 1 sequence 0 gap"));
  BOOST_CHECK(a.log.wait_for("gap news 1 0"));
  BOOST_CHECK(a.log.wait_for("subscribed alerts*"));  // a pattern: no "since"
  BOOST_REQUIRE(f.wait_subscribers("news", 1));
  BOOST_REQUIRE(f.wait_subscribers("alerts.red", 1));
  f.protocol->publish("after", "news");
  f.protocol->publish("fire", "alerts.red");
  BOOST_CHECK(a.log.wait_for("event news after 1"));
  BOOST_CHECK(a.log.wait_for("event alerts.red fire 0"));
}

BOOST_AUTO_TEST_CASE(missed_events_are_replayed_since_the_last_sequence_after_a_drop) {
  connections conns;
  fixture f(
      [&](sgc::server& s) { s.on_connect([&](const sgc::peer& p) { conns.add(p.connection); }); });
  peer a(f, [](sgc::client_options& o) {
    o.transport.reconnect.initial_delay_ms = 300;  // time to publish while it is away
    o.transport.reconnect.max_delay_ms = 300;
  });
  a.c->subscribe("news");
  a.open();
  BOOST_REQUIRE(a.log.wait_for("subscribed news"));
  f.protocol->publish("m1", "news", sgc::queue_level::level2);
  f.protocol->publish("m2", "news", sgc::queue_level::level2);
  BOOST_REQUIRE(a.log.wait_for("event news m2 2"));

  conns.drop_all(4001);
  BOOST_REQUIRE(a.log.wait_for("disconnect"));
  for (int i = 3; i <= 5; ++i)
    f.protocol->publish("m" + std::to_string(i), "news", sgc::queue_level::level2);
  BOOST_REQUIRE(a.log.wait_for("reconnect"));
  BOOST_CHECK(a.log.wait_for("subscribed news since 2 sequence 5 recovered"));
  BOOST_REQUIRE(a.log.wait_for("event news m5 5"));
  f.protocol->publish("live", "news", sgc::queue_level::level2);
  BOOST_REQUIRE(a.log.wait_for("event news live 6"));
  BOOST_CHECK(
      (a.log.starting_with("event news") ==
       std::vector<std::string>{"event news m1 1", "event news m2 2", "event news m3 3",
                                "event news m4 4", "event news m5 5", "event news live 6"}));
  BOOST_CHECK(a.log.starting_with("gap").empty());

  // Again, but one event is published with queue level 0 (never stored): a gap to report.
  conns.drop_all(4001);
  BOOST_REQUIRE(a.log.wait_for("disconnect", 2));
  f.protocol->publish("lost", "news", sgc::queue_level::level0);
  f.protocol->publish("kept", "news", sgc::queue_level::level2);
  BOOST_REQUIRE(a.log.wait_for("reconnect", 2));
  BOOST_CHECK(a.log.wait_for("gap news 6 8"));
  BOOST_CHECK(a.log.wait_for("event news kept 8"));
  BOOST_CHECK_EQUAL(a.log.count("event news lost 7"), 0u);
}

BOOST_AUTO_TEST_CASE(qos2_pubrel_retried_after_a_dropped_connection_is_delivered_once_2_8) {
  // The first PUBREL is processed (the event goes out) but the connection is dropped at that
  // moment, so its ACK is lost: the client sends PUBLISH and PUBREL again on the next
  // connection, and the server's completed-id window must not deliver it a second time.
  std::atomic<int> pubrels{0};
  fixture f([&](sgc::server& s) {
    s.on_raw_message([&](const sgc::peer& p, std::string_view text) {
      if (text.find("sgc@pubrel") != std::string_view::npos && pubrels.fetch_add(1) == 0)
        p.connection->close(4002, "drop before the ACK");
      return false;
    });
  });
  peer s(f), a(f, [](sgc::client_options&o) { o.qos = sgc::qos_level::level2; });
  s.c->subscribe("q2");
  s.open();
  BOOST_REQUIRE(s.log.wait_for("subscribed q2"));
  a.open();
  const std::string id = a.c->publish("exactly once", "q2");
  BOOST_REQUIRE(s.log.wait_for("event q2 exactly once 1"));
  BOOST_REQUIRE(a.log.wait_for("disconnect"));
  BOOST_REQUIRE(a.log.wait_for("reconnect"));
  BOOST_CHECK(a.log.wait_for("ack " + id));
  BOOST_CHECK_GE(pubrels.load(), 2);  // the PUBREL was retried
  BOOST_CHECK(peer::wait([&] { return a.c->pending_qos() == 0; }));
  a.c->publish("marker", "q2", sgc::queue_level::level0, sgc::qos_level::level0);
  BOOST_CHECK(s.log.wait_for("event q2 marker 2"));
  BOOST_CHECK_EQUAL(s.log.count("event q2 exactly once 1"), 1u);
}

BOOST_AUTO_TEST_CASE(qos_publish_made_while_disconnected_goes_out_on_connect_2_8) {
  fixture f;
  peer s(f), a(f);
  s.c->subscribe("later");
  s.open();
  BOOST_REQUIRE(s.log.wait_for("subscribed later"));
  a.c->publish("queued", "later", sgc::queue_level::level0, sgc::qos_level::level1);
  a.c->publish("dropped", "later");  // level 0 while down: reported, not kept
  BOOST_CHECK(a.log.wait_for("error sgc: not connected: publish"));
  BOOST_CHECK(peer::wait([&] { return a.c->pending_qos() == 1; }));
  a.open();
  BOOST_CHECK(s.log.wait_for("event later queued 1"));
  BOOST_CHECK(peer::wait([&] { return a.c->pending_qos() == 0; }));
}

BOOST_AUTO_TEST_CASE(bad_settings_are_refused_by_name) {
  sgc::client_options o;
  o.transport.url = "http://127.0.0.1/";
  BOOST_CHECK_THROW(sgc::client(o, {}), rt::config_error);
  o.transport.url = "ws://127.0.0.1:1/sgc";
  o.qos_interval = 0ms;
  BOOST_CHECK_THROW(sgc::client(o, {}), rt::config_error);
  o.qos_interval = 10ms;
  o.max_pending_qos = 0;
  BOOST_CHECK_THROW(sgc::client(o, {}), rt::config_error);
}

BOOST_AUTO_TEST_SUITE_END()
