// server_test.cpp: tests of protocols/sgc/server.hpp, the server side of the default sgc
// protocol (esegece.com), spec/sgc-protocols.md section 2, against real sockets: a
// runtime::server on a loopback port with the sgc server attached, and runtime::blocking_client
// peers offering the `esegece.com` subprotocol. "Nothing else arrived" is proved by a marker
// that must be the next message: a later publish on the same channel (one channel actor keeps
// order), or the raw answer to sgc@protocol for replies of the connection's own io thread.
#include "protocols/sgc/server.hpp"

#include "runtime/client.hpp"
#include "runtime/server.hpp"
#include "support/ws_client.hpp"

#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <algorithm>
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

std::string ev(const std::string& channel, const std::string& message_json, int sequence) {
  return R"({"jsonrpc":"2.0","result":{"method":"sgc@event","channel":")" + channel +
         R"(","message":)" + message_json + R"(,"sequence":)" + std::to_string(sequence) + "}}";
}
std::string ack(const std::string& id) {
  return R"({"jsonrpc":"2.0","result":{"method":"sgc@acknowledgment"},"id":")" + id + "\"}";
}
std::string subscribed(const std::string& channel, const std::string& id = {}) {
  return R"({"jsonrpc":"2.0","result":{"method":"sgc@subscribe","channel":")" + channel + "\"}" +
         (id.empty() ? "" : ",\"id\":\"" + id + "\"") + "}";
}
std::string sub_request(const std::string& channel, const std::string& id = {}) {
  return R"({"jsonrpc":"2.0","method":"sgc@subscribe","params":{"channel":")" + channel + "\"}" +
         (id.empty() ? "" : ",\"id\":\"" + id + "\"") + "}";
}
std::string pub_request(const std::string& channel, const std::string& message,
                        const std::string& extra = {}) {
  return R"({"jsonrpc":"2.0","method":"sgc@publish","params":{"channel":")" + channel +
         R"(","message":")" + message + "\"" + extra + "}}";
}

class client {
 public:
  explicit client(std::uint16_t port, bool offer = true) : bc_(options(port, offer)) {
    const auto ec = bc_.connect();
    BOOST_REQUIRE_MESSAGE(!ec, bc_.what());
    const std::string s = next();  // the session message (2.7)
    const auto at = s.find("\"message\":\"");
    BOOST_REQUIRE(at != std::string::npos);
    guid = s.substr(at + 11, 36);
    BOOST_REQUIRE_EQUAL(s, R"({"jsonrpc":"2.0","result":{"method":"sgc@session","message":")" +
                               guid + R"("},"qos":"qosLevel0","id":")" + guid + "\"}");
  }

  void send(const std::string& text) { BOOST_REQUIRE(bc_.send_text(text)); }
  std::string next(std::chrono::milliseconds timeout = 5s) {
    auto m = bc_.receive(timeout);
    BOOST_REQUIRE_MESSAGE(m.has_value(), "no message in time");
    return m->payload;
  }
  // Proves that nothing from this connection's own io thread is pending: sgc@protocol is
  // answered in order with the raw text esegece.com.
  void expect_nothing_else() {
    send(R"({"jsonrpc":"2.0","method":"sgc@protocol"})");
    BOOST_CHECK_EQUAL(next(), "esegece.com");
  }
  bool is_open() const { return bc_.is_open(); }
  const rt::connect_info& info() const { return bc_.info(); }
  void close() { bc_.close(); }

  std::string guid;

 private:
  static rt::client_options options(std::uint16_t port, bool offer) {
    rt::client_options o;
    o.url = "ws://127.0.0.1:" + std::to_string(port) + "/sgc";
    if (offer) o.subprotocols = {"esegece.com"};
    o.max_message_size = 64u << 20;
    o.max_backpressure = 64u << 20;
    return o;
  }
  rt::blocking_client bc_;
};

struct fixture {
  explicit fixture(const std::function<void(sgc::server&)>& setup = {},
                   sgc::server_options options = {}) {
    config.set("logger.console", caf::atom("none"));
    config.set("scheduler.max-threads", static_cast<caf::config_value::integer>(2));
    system = std::make_unique<caf::actor_system>(config);
    for (int attempt = 0;; ++attempt) {
      port = switchboard::test::free_port();
      rt::server_options so;
      so.threads = 2;
      rt::binding b;
      b.host = "127.0.0.1";
      b.port = port;
      so.bindings = {b};
      transport = std::make_unique<rt::server>(so);
      protocol = std::make_unique<sgc::server>(*system, *transport, options);
      if (setup) setup(*protocol);
      protocol->attach("/sgc");
      try {
        transport->start();
        break;
      } catch (const rt::config_error&) {
        protocol.reset();
        transport.reset();
        if (attempt == 5) throw;  // the port was taken between the check and the bind
      }
    }
  }
  ~fixture() {
    transport->stop();
    protocol.reset();  // its stop() only asks the channel actors to quit: they may still be
    system.reset();    // delivering through the transport, so they end before it does
    transport.reset();
  }

  std::unique_ptr<client> open(bool offer = true) { return std::make_unique<client>(port, offer); }

  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  std::unique_ptr<rt::server> transport;
  std::unique_ptr<sgc::server> protocol;
  std::uint16_t port = 0;
};

// What hooks report, for the test thread to wait on.
struct recorder {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> events;
  void add(std::string e) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      events.push_back(std::move(e));
    }
    changed.notify_all();
  }
  void wait_for(const std::string& e) {
    std::unique_lock<std::mutex> lock(mutex);
    BOOST_REQUIRE(changed.wait_for(lock, 5s, [&] {
      for (const auto& x : events)
        if (x == e) return true;
      return false;
    }));
  }
  std::size_t count(const std::string& e) {
    std::lock_guard<std::mutex> lock(mutex);
    std::size_t n = 0;
    for (const auto& x : events)
      n += x == e;
    return n;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(sgc_server)

BOOST_AUTO_TEST_CASE(session_on_connect_with_subprotocol_and_on_request_2_7) {
  fixture f;
  auto a = f.open();
  BOOST_CHECK_EQUAL(a->info().subprotocol, "esegece.com");
  auto b = f.open();
  BOOST_CHECK_NE(a->guid, b->guid);
  a->send(R"({"jsonrpc":"2.0","method":"sgc@session"})");
  BOOST_CHECK_NE(a->next().find(a->guid), std::string::npos);
  BOOST_CHECK_EQUAL(f.protocol->connections(), 2u);
}

BOOST_AUTO_TEST_CASE(subscribe_publish_fans_out_to_every_subscriber_and_publisher_2_5) {
  fixture f;
  auto a = f.open(), b = f.open(), c = f.open();
  a->send(sub_request("news", "s1"));
  BOOST_CHECK_EQUAL(a->next(), ack("s1"));
  BOOST_CHECK_EQUAL(a->next(), subscribed("news", "s1"));
  b->send(sub_request("news"));
  BOOST_CHECK_EQUAL(b->next(), subscribed("news"));
  c->send(pub_request("news", "Hello"));  // c is not subscribed: publishing needs no subscription
  BOOST_CHECK_EQUAL(a->next(), ev("news", "\"Hello\"", 1));
  BOOST_CHECK_EQUAL(b->next(), ev("news", "\"Hello\"", 1));
  a->send(pub_request("news", "again"));  // the publisher gets its own event when subscribed
  BOOST_CHECK_EQUAL(a->next(), ev("news", "\"again\"", 2));
  BOOST_CHECK_EQUAL(b->next(), ev("news", "\"again\"", 2));
  c->expect_nothing_else();
  BOOST_CHECK_EQUAL(f.protocol->subscribers("news"), 2u);
}

BOOST_AUTO_TEST_CASE(comma_list_subscribe_and_unsubscribe_2_4) {
  recorder rec;
  fixture f([&](sgc::server& s) {
    s.on_subscribe([&](const sgc::peer&, const std::string& ch) { rec.add("sub:" + ch); });
    s.on_unsubscribe([&](const sgc::peer&, const std::string& ch) { rec.add("unsub:" + ch); });
  });
  auto a = f.open();
  a->send(sub_request("x,y"));
  std::vector<std::string> got{a->next(), a->next()};
  std::sort(got.begin(), got.end());
  BOOST_CHECK_EQUAL(got[0], subscribed("x"));
  BOOST_CHECK_EQUAL(got[1], subscribed("y"));
  rec.wait_for("sub:x");
  rec.wait_for("sub:y");
  a->send(R"({"jsonrpc":"2.0","method":"sgc@unsubscribe","params":{"channel":"x"},"id":"u1"})");
  BOOST_CHECK_EQUAL(a->next(), ack("u1"));
  BOOST_CHECK_EQUAL(
      a->next(),
      R"({"jsonrpc":"2.0","result":{"method":"sgc@unsubscribe","channel":"x"},"id":"u1"})");
  rec.wait_for("unsub:x");
  a->send(pub_request("x", "gone"));
  a->send(pub_request("y", "here"));
  BOOST_CHECK_EQUAL(a->next(), ev("y", "\"here\"", 1));
  a->expect_nothing_else();
  a->close();
  rec.wait_for("unsub:y");  // a disconnect unsubscribes everything (1.7)
}

BOOST_AUTO_TEST_CASE(wildcard_matches_existing_and_later_channels_2_4) {
  fixture f;
  auto a = f.open(), b = f.open(), p = f.open();
  b->send(sub_request("news.1"));  // exists before the pattern subscription
  BOOST_CHECK_EQUAL(b->next(), subscribed("news.1"));
  a->send(sub_request("news.?"));
  BOOST_CHECK_EQUAL(a->next(), subscribed("news.?"));
  p->send(pub_request("news.1", "one"));
  BOOST_CHECK_EQUAL(a->next(), ev("news.1", "\"one\"", 1));
  BOOST_CHECK_EQUAL(b->next(), ev("news.1", "\"one\"", 1));
  // news.2 appears only now: first as a channel nobody subscribed to by name...
  p->send(pub_request("news.2", "two"));
  BOOST_CHECK_EQUAL(
      a->next(),
      R"({"jsonrpc":"2.0","result":{"method":"sgc@event","channel":"news.2","message":"two"}})");
  // ...then created by a subscribe after the pattern.
  b->send(sub_request("news.3"));
  BOOST_CHECK_EQUAL(b->next(), subscribed("news.3"));
  p->send(pub_request("news.3", "three"));
  BOOST_CHECK_EQUAL(a->next(), ev("news.3", "\"three\"", 1));
  BOOST_CHECK_EQUAL(b->next(), ev("news.3", "\"three\"", 1));
  p->send(pub_request("news.10", "no match for ?"));
  p->send(pub_request("news.1", "marker"));
  BOOST_CHECK_EQUAL(a->next(), ev("news.1", "\"marker\"", 2));
  // Subscribed by name and by pattern: one copy.
  a->send(sub_request("news.1"));
  BOOST_CHECK_EQUAL(a->next(), subscribed("news.1"));
  p->send(pub_request("news.1", "once"));
  BOOST_CHECK_EQUAL(a->next(), ev("news.1", "\"once\"", 3));
  p->send(pub_request("news.1", "marker2"));
  BOOST_CHECK_EQUAL(a->next(), ev("news.1", "\"marker2\"", 4));
  // Unsubscribing the pattern stops the later channel.
  a->send(R"({"jsonrpc":"2.0","method":"sgc@unsubscribe","params":{"channel":"news.?"}})");
  BOOST_CHECK_EQUAL(
      a->next(), R"({"jsonrpc":"2.0","result":{"method":"sgc@unsubscribe","channel":"news.?"}})");
  p->send(pub_request("news.3", "not for a"));
  p->send(pub_request("news.1", "marker3"));
  BOOST_CHECK_EQUAL(a->next(), ev("news.1", "\"marker3\"", 5));
}

BOOST_AUTO_TEST_CASE(server_publish_with_include_and_exclude_lists_2_5) {
  fixture f;
  auto a = f.open(), b = f.open(), c = f.open();
  for (auto* x : {a.get(), b.get(), c.get()}) {
    x->send(sub_request("room"));
    BOOST_CHECK_EQUAL(x->next(), subscribed("room"));
  }
  f.protocol->publish("not b", "room", sgc::queue_level::level0, b->guid);
  f.protocol->publish("only b, c", "room", sgc::queue_level::level0, {}, b->guid + "," + c->guid);
  f.protocol->publish(R"({"k":1})", "room");  // JSON objects are embedded raw (1.4)
  BOOST_CHECK_EQUAL(a->next(), ev("room", "\"not b\"", 1));
  BOOST_CHECK_EQUAL(a->next(), ev("room", R"({"k":1})", 3));
  BOOST_CHECK_EQUAL(b->next(), ev("room", "\"only b, c\"", 2));
  BOOST_CHECK_EQUAL(b->next(), ev("room", R"({"k":1})", 3));
  BOOST_CHECK_EQUAL(c->next(), ev("room", "\"not b\"", 1));
  BOOST_CHECK_EQUAL(c->next(), ev("room", "\"only b, c\"", 2));
  BOOST_CHECK_EQUAL(c->next(), ev("room", R"({"k":1})", 3));
}

BOOST_AUTO_TEST_CASE(broadcast_to_all_to_a_channel_and_write_2_2_2_5) {
  fixture f;
  auto a = f.open(), b = f.open();
  b->send(sub_request("ch"));
  BOOST_CHECK_EQUAL(b->next(), subscribed("ch"));
  const std::string to_all =
      R"({"jsonrpc":"2.0","result":{"method":"sgc@message","channel":"","message":"hi"}})";
  // A client's broadcast reaches everyone, the sender included, without its id (2.5 [D]).
  a->send(
      R"({"jsonrpc":"2.0","method":"sgc@broadcast","params":{"channel":"","message":"hi"},"id":"b1"})");
  BOOST_CHECK_EQUAL(a->next(), ack("b1"));
  BOOST_CHECK_EQUAL(a->next(), to_all);
  BOOST_CHECK_EQUAL(b->next(), to_all);
  f.protocol->broadcast("to ch", "ch");
  BOOST_CHECK_EQUAL(
      b->next(),
      R"({"jsonrpc":"2.0","result":{"method":"sgc@message","channel":"ch","message":"to ch"}})");
  f.protocol->broadcast("not a", "", a->guid);
  BOOST_CHECK_EQUAL(
      b->next(),
      R"({"jsonrpc":"2.0","result":{"method":"sgc@message","channel":"","message":"not a"}})");
  BOOST_CHECK(f.protocol->write(a->guid, "direct"));
  BOOST_CHECK_EQUAL(a->next(),
                    R"({"jsonrpc":"2.0","method":"sgc@message","params":{"message":"direct"}})");
  BOOST_CHECK(!f.protocol->write("no-such-guid", "x"));
  a->expect_nothing_else();
}

BOOST_AUTO_TEST_CASE(rpc_result_error_codes_and_connection_stays_open_2_6) {
  fixture f([](sgc::server& s) {
    s.on_rpc("sum", [](const sgc::peer&, sgc::rpc_call call) {
      BOOST_CHECK_EQUAL(call.params(), "[1,2]");
      call.result_json("3");
      BOOST_CHECK(!call.result_json("4"));  // answered once
    });
    s.on_rpc("later", [](const sgc::peer&, sgc::rpc_call call) {
      std::thread([call]() mutable { call.error(-32000, "busy", "try again"); }).detach();
    });
    s.on_rpc("secret", [](const sgc::peer&, sgc::rpc_call call) { call.result("no"); });
    s.authorize_rpc([](const sgc::peer&, const std::string& m) { return m != "secret"; });
  });
  auto a = f.open();
  a->send(R"({"jsonrpc":"2.0","method":"sum","params":[1,2],"id":7})");
  BOOST_CHECK_EQUAL(a->next(),
                    R"({"jsonrpc":"2.0","result":{"method":"sgc@acknowledgment"},"id":7})");
  BOOST_CHECK_EQUAL(a->next(), R"({"jsonrpc":"2.0","result":3,"id":7})");
  a->send(R"({"jsonrpc":"2.0","method":"later","id":"l"})");
  BOOST_CHECK_EQUAL(a->next(), ack("l"));
  BOOST_CHECK_EQUAL(
      a->next(),
      R"({"jsonrpc":"2.0","error":{"code":-32000,"message":"busy","data":"try again"},"id":"l"})");
  a->send(R"({"jsonrpc":"2.0","method":"nope","id":"n"})");
  BOOST_CHECK_EQUAL(a->next(), ack("n"));
  BOOST_CHECK_EQUAL(
      a->next(),
      R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found. The method does not exist / is not available.","data":"nope"},"id":"n"})");
  a->send(R"({"jsonrpc":"2.0","method":"secret","id":"s"})");  // denied: as if unknown
  BOOST_CHECK_EQUAL(a->next(), ack("s"));
  BOOST_CHECK_NE(a->next().find(R"("code":-32601)"), std::string::npos);
  a->send(R"({"jsonrpc":"2.0","method":"sum",)");  // malformed JSON
  const auto parse = a->next();
  BOOST_CHECK_NE(parse.find(R"("code":-32700)"), std::string::npos);
  BOOST_CHECK_NE(parse.find(R"("id":null)"), std::string::npos);
  a->send(R"({"jsonrpc":"1.0","method":"sum","id":"v"})");  // invalid request
  const auto invalid = a->next();
  BOOST_CHECK_NE(invalid.find(R"("code":-32600)"), std::string::npos);
  BOOST_CHECK_NE(invalid.find(R"("id":"v")"), std::string::npos);
  a->send(R"({"jsonrpc":"2.0","method":"sgc@publish","params":{"channel":"c"},"id":"p"})");
  const auto params = a->next();  // bad params of an sgc@ method (no message)
  BOOST_CHECK_NE(params.find(R"("code":-32602)"), std::string::npos);
  BOOST_CHECK(a->is_open());
  a->send(R"({"jsonrpc":"2.0","method":"sum","params":[1,2],"id":8})");
  BOOST_CHECK_EQUAL(a->next(),
                    R"({"jsonrpc":"2.0","result":{"method":"sgc@acknowledgment"},"id":8})");
  BOOST_CHECK_EQUAL(a->next(), R"({"jsonrpc":"2.0","result":3,"id":8})");
}

BOOST_AUTO_TEST_CASE(notification_message_and_raw_hooks_1_7_2_3) {
  recorder rec;
  fixture f([&](sgc::server& s) {
    s.on_raw_message([&](const sgc::peer&, std::string_view text) {
      return text.find("swallow") != std::string_view::npos;
    });
    s.on_notification([&](const sgc::peer&, const std::string& m, const std::string& p) {
      rec.add("notify:" + m + ":" + p);
    });
    s.on_message([&](const sgc::peer&, const std::string& text) { rec.add("message:" + text); });
    s.on_disconnect([&](const sgc::peer& p, std::uint16_t) { rec.add("gone:" + p.guid); });
  });
  auto a = f.open();
  a->send(R"({"jsonrpc":"2.0","method":"swallow","id":"x"})");  // handled: no ack
  a->send(R"({"jsonrpc":"2.0","method":"ping","params":{"n":1}})");
  a->send(R"({"jsonrpc":"2.0","method":"sgc@message","params":{"message":"hello"}})");
  a->expect_nothing_else();
  rec.wait_for(R"(notify:ping:{"n":1})");
  rec.wait_for("message:hello");
  const auto guid = a->guid;
  a->close();
  rec.wait_for("gone:" + guid);
}

BOOST_AUTO_TEST_CASE(qos1_publish_is_acknowledged_once_handed_to_fan_out_2_8) {
  fixture f;
  auto a = f.open();
  a->send(sub_request("q1"));
  BOOST_CHECK_EQUAL(a->next(), subscribed("q1"));
  a->send(
      R"({"jsonrpc":"2.0","method":"sgc@publish","params":{"channel":"q1","message":"m1","qos":"qosLevel1"},"id":"A1"})");
  BOOST_CHECK_EQUAL(a->next(), ack("A1"));
  BOOST_CHECK_EQUAL(a->next(), ev("q1", "\"m1\"", 1));
  // Without an id there is nothing to acknowledge (2.8: only messages with an id).
  a->send(pub_request("q1", "m2", R"(,"qos":"qosLevel1")"));
  BOOST_CHECK_EQUAL(a->next(), ev("q1", "\"m2\"", 2));
  a->expect_nothing_else();
}

BOOST_AUTO_TEST_CASE(qos2_publish_pubrec_pubrel_ack_2_8) {
  fixture f;
  auto s = f.open(), a = f.open();
  s->send(sub_request("q2"));
  BOOST_CHECK_EQUAL(s->next(), subscribed("q2"));
  const std::string publish =
      R"({"jsonrpc":"2.0","method":"sgc@publish","params":{"channel":"q2","message":"once","qos":"qosLevel2"},"qos":"qosLevel2","id":"X"})";
  const std::string pubrel =
      R"({"jsonrpc":"2.0","method":"sgc@pubrel","params":{"qos":"qosLevel2"},"qos":"qosLevel2","id":"X"})";
  a->send(publish);
  BOOST_CHECK_EQUAL(a->next(), R"({"jsonrpc":"2.0","result":{"method":"sgc@pubrec"},"id":"X"})");
  a->send(publish);  // a duplicate before the PUBREL replaces the stored copy
  BOOST_CHECK_EQUAL(a->next(), R"({"jsonrpc":"2.0","result":{"method":"sgc@pubrec"},"id":"X"})");
  a->send(pubrel);
  BOOST_CHECK_EQUAL(a->next(), ack("X"));
  BOOST_CHECK_EQUAL(s->next(), ev("q2", "\"once\"", 1));
  // The ACK was "lost": the client re-sends both. Not processed again; the PUBREL only ACKs.
  a->send(publish);
  BOOST_CHECK_EQUAL(a->next(), R"({"jsonrpc":"2.0","result":{"method":"sgc@pubrec"},"id":"X"})");
  a->send(pubrel);
  BOOST_CHECK_EQUAL(a->next(), ack("X"));
  a->send(pub_request("q2", "marker"));
  BOOST_CHECK_EQUAL(s->next(), ev("q2", "\"marker\"", 2));
}

BOOST_AUTO_TEST_CASE(qos2_retry_on_a_new_connection_is_delivered_exactly_once_2_8) {
  fixture f;
  auto s = f.open();
  s->send(sub_request("q2"));
  BOOST_CHECK_EQUAL(s->next(), subscribed("q2"));
  const auto publish = [](const std::string& id, const std::string& msg) {
    return R"({"jsonrpc":"2.0","method":"sgc@publish","params":{"channel":"q2","message":")" + msg +
           R"(","qos":"qosLevel2"},"qos":"qosLevel2","id":")" + id + "\"}";
  };
  const auto pubrel = [](const std::string& id) {
    return R"({"jsonrpc":"2.0","method":"sgc@pubrel","params":{"qos":"qosLevel2"},"qos":"qosLevel2","id":")" +
           id + "\"}";
  };
  {  // PUBLISH, PUBREC, PUBREL sent, then the connection drops before the ACK is read.
    auto a = f.open();
    a->send(publish("Y1", "first"));
    BOOST_CHECK_EQUAL(a->next(), R"({"jsonrpc":"2.0","result":{"method":"sgc@pubrec"},"id":"Y1"})");
    a->send(pubrel("Y1"));
    BOOST_CHECK_EQUAL(s->next(), ev("q2", "\"first\"", 1));
  }
  {  // PUBLISH, PUBREC, then the connection drops before the PUBREL.
    auto a = f.open();
    a->send(publish("Y2", "second"));
    BOOST_CHECK_EQUAL(a->next(), R"({"jsonrpc":"2.0","result":{"method":"sgc@pubrec"},"id":"Y2"})");
  }
  auto b = f.open();  // the client again, on a new connection: re-sends what was unacked
  b->send(publish("Y1", "first"));
  BOOST_CHECK_EQUAL(b->next(), R"({"jsonrpc":"2.0","result":{"method":"sgc@pubrec"},"id":"Y1"})");
  b->send(pubrel("Y1"));
  BOOST_CHECK_EQUAL(b->next(), ack("Y1"));
  b->send(pubrel("Y2"));  // the stored message survives the dropped connection
  BOOST_CHECK_EQUAL(b->next(), ack("Y2"));
  BOOST_CHECK_EQUAL(s->next(), ev("q2", "\"second\"", 2));
  b->send(pub_request("q2", "marker"));
  BOOST_CHECK_EQUAL(s->next(), ev("q2", "\"marker\"", 3));  // "first" came exactly once
}

BOOST_AUTO_TEST_CASE(queue_levels_replay_after_subscribe_and_clear_queue_2_9) {
  fixture f;
  auto p = f.open();
  p->send(pub_request("last", "a", R"(,"queue":"queueLevel1")"));
  p->send(pub_request("last", "b", R"(,"queue":"queueLevel1")"));
  p->send(pub_request("hist", "a", R"(,"queue":"queueLevel2")"));
  p->send(pub_request("hist", "b", R"(,"queue":"queueLevel2")"));
  p->send(pub_request("none", "a"));
  p->expect_nothing_else();
  auto a = f.open();
  a->send(sub_request("last"));
  BOOST_CHECK_EQUAL(a->next(), subscribed("last"));
  BOOST_CHECK_EQUAL(a->next(), ev("last", "\"b\"", 2));
  a->send(sub_request("hist"));
  BOOST_CHECK_EQUAL(a->next(), subscribed("hist"));
  BOOST_CHECK_EQUAL(a->next(), ev("hist", "\"a\"", 1));
  BOOST_CHECK_EQUAL(a->next(), ev("hist", "\"b\"", 2));
  a->send(sub_request("none"));
  BOOST_CHECK_EQUAL(a->next(), subscribed("none"));
  a->expect_nothing_else();
  // Channel "" is replayed on connect (2.9).
  p->send(pub_request("", "welcome", R"(,"queue":"queueLevel1")"));
  p->expect_nothing_else();
  {
    auto c = f.open();
    BOOST_CHECK_EQUAL(c->next(), ev("", "\"welcome\"", 1));
  }
  BOOST_CHECK(f.protocol->clear_queue("hist"));
  BOOST_CHECK(!f.protocol->clear_queue("hist"));
  auto b = f.open();
  BOOST_CHECK_EQUAL(b->next(), ev("", "\"welcome\"", 1));
  b->send(sub_request("hist"));
  BOOST_CHECK_EQUAL(b->next(), subscribed("hist"));
  b->expect_nothing_else();
}

BOOST_AUTO_TEST_CASE(queue_level2_is_bounded_by_count) {
  sgc::server_options o;
  o.queue_max_count = 2;
  fixture f({}, o);
  auto p = f.open();
  for (const char* m : {"1", "2", "3"})
    p->send(pub_request("h", m, R"(,"queue":"queueLevel2")"));
  p->expect_nothing_else();
  auto a = f.open();
  a->send(sub_request("h"));
  BOOST_CHECK_EQUAL(a->next(), subscribed("h"));
  BOOST_CHECK_EQUAL(a->next(), ev("h", "\"2\"", 2));
  BOOST_CHECK_EQUAL(a->next(), ev("h", "\"3\"", 3));
  a->expect_nothing_else();
}

BOOST_AUTO_TEST_CASE(recovery_since_a_sequence_and_history_that_does_not_reach_back) {
  sgc::server_options o;
  o.queue_max_count = 3;
  fixture f({}, o);
  auto p = f.open();
  for (int i = 1; i <= 5; ++i)
    p->send(pub_request("r", "m" + std::to_string(i), R"(,"queue":"queueLevel2")"));
  p->expect_nothing_else();
  const auto since = [](int n) {
    return R"({"jsonrpc":"2.0","method":"sgc@subscribe","params":{"channel":"r","since":)" +
           std::to_string(n) + "}}";
  };
  auto a = f.open();
  a->send(since(3));  // missed 4 and 5: both still stored
  BOOST_CHECK_EQUAL(
      a->next(),
      R"({"jsonrpc":"2.0","result":{"method":"sgc@subscribe","channel":"r","sequence":5,"recovered":true}})");
  BOOST_CHECK_EQUAL(a->next(), ev("r", "\"m4\"", 4));
  BOOST_CHECK_EQUAL(a->next(), ev("r", "\"m5\"", 5));
  a->expect_nothing_else();
  auto b = f.open();
  b->send(since(1));  // missed 2..5, but only 3..5 are kept
  BOOST_CHECK_EQUAL(
      b->next(),
      R"({"jsonrpc":"2.0","result":{"method":"sgc@subscribe","channel":"r","sequence":5,"recovered":false}})");
  BOOST_CHECK_EQUAL(b->next(), ev("r", "\"m3\"", 3));
  BOOST_CHECK_EQUAL(b->next(), ev("r", "\"m4\"", 4));
  BOOST_CHECK_EQUAL(b->next(), ev("r", "\"m5\"", 5));
  auto c = f.open();
  c->send(since(5));  // up to date
  BOOST_CHECK_EQUAL(
      c->next(),
      R"({"jsonrpc":"2.0","result":{"method":"sgc@subscribe","channel":"r","sequence":5,"recovered":true}})");
  c->expect_nothing_else();
  p->send(pub_request("r", "m6"));  // not stored (level 0): a gap for anyone behind it
  BOOST_CHECK_EQUAL(c->next(), ev("r", "\"m6\"", 6));
  auto d = f.open();
  d->send(since(5));
  BOOST_CHECK_EQUAL(
      d->next(),
      R"({"jsonrpc":"2.0","result":{"method":"sgc@subscribe","channel":"r","sequence":6,"recovered":false}})");
  d->expect_nothing_else();
}

BOOST_AUTO_TEST_CASE(transactions_commit_rollback_and_disconnect_2_10) {
  fixture f;
  auto s = f.open(), a = f.open();
  s->send(sub_request("t"));
  BOOST_CHECK_EQUAL(s->next(), subscribed("t"));
  const std::string start =
      R"({"jsonrpc":"2.0","method":"sgc@transaction","params":{"channel":"t"}})";
  a->send(start);
  a->send(
      R"({"jsonrpc":"2.0","method":"sgc@publish","params":{"channel":"t","message":"1"},"id":"t1"})");
  BOOST_CHECK_EQUAL(a->next(), ack("t1"));  // acknowledged as stored
  a->send(pub_request("t", "2"));
  a->send(pub_request("other", "not held"));
  a->expect_nothing_else();
  a->send(R"({"jsonrpc":"2.0","method":"sgc@commit","params":{"channel":"t"}})");
  BOOST_CHECK_EQUAL(s->next(), ev("t", "\"1\"", 1));
  BOOST_CHECK_EQUAL(s->next(), ev("t", "\"2\"", 2));
  a->send(start);
  a->send(pub_request("t", "dropped"));
  a->send(R"({"jsonrpc":"2.0","method":"sgc@rollback","params":{"channel":"t"}})");
  a->send(pub_request("t", "3"));
  BOOST_CHECK_EQUAL(s->next(), ev("t", "\"3\"", 3));
  a->send(start);
  a->send(pub_request("t", "lost with the connection"));
  a->expect_nothing_else();
  a->close();
  auto b = f.open();
  b->send(pub_request("t", "4"));
  BOOST_CHECK_EQUAL(s->next(), ev("t", "\"4\"", 4));
}

BOOST_AUTO_TEST_CASE(before_subscribe_denial_is_answered_with_an_error_2_4) {
  fixture f([](sgc::server& s) {
    s.on_before_subscribe([](const sgc::peer&, const std::string& ch) { return ch != "secret"; });
  });
  auto a = f.open();
  a->send(sub_request("secret", "d"));
  BOOST_CHECK_EQUAL(a->next(), ack("d"));
  BOOST_CHECK_EQUAL(
      a->next(),
      R"({"jsonrpc":"2.0","error":{"code":-32001,"message":"Subscription denied","data":"secret"},"id":"d"})");
  a->send(sub_request("open"));
  BOOST_CHECK_EQUAL(a->next(), subscribed("open"));
  BOOST_CHECK_EQUAL(f.protocol->subscribers("secret"), 0u);
}

BOOST_AUTO_TEST_CASE(subscription_limit_per_connection_under_a_flood) {
  sgc::server_options o;
  o.max_subscriptions = 10;
  fixture f({}, o);
  auto a = f.open();
  // 100,000 distinct channels in comma lists of 1,000: the first 10 hold, the rest are refused.
  std::size_t confirmed = 0, refused = 0;
  for (int batch = 0; batch < 100; ++batch) {
    std::string list;
    for (int i = 0; i < 1000; ++i)
      list += (i ? "," : "") + std::string("c") + std::to_string(batch * 1000 + i);
    a->send(sub_request(list));
    for (int i = 0; i < 1000; ++i) {
      const auto m = a->next();
      if (m.find("sgc@subscribe") != std::string::npos)
        ++confirmed;
      else if (m.find(R"("code":-32002)") != std::string::npos)
        ++refused;
    }
  }
  BOOST_CHECK_EQUAL(confirmed, 10u);
  BOOST_CHECK_EQUAL(refused, 99990u);
  BOOST_CHECK_EQUAL(f.protocol->subscribers("c5"), 1u);
  BOOST_CHECK_EQUAL(f.protocol->subscribers("c99999"), 0u);
  BOOST_CHECK(a->is_open());
}

BOOST_AUTO_TEST_CASE(ten_megabyte_params_are_refused_and_the_connection_stays_open) {
  fixture f;
  auto a = f.open();
  std::string big = R"({"jsonrpc":"2.0","method":"sum","params":[")" + std::string(10u << 20, 'x') +
                    R"("],"id":"big"})";
  a->send(big);
  const auto m = a->next();
  BOOST_CHECK_NE(m.find(R"("code":-32600)"), std::string::npos);
  BOOST_CHECK(a->is_open());
  a->expect_nothing_else();
}

BOOST_AUTO_TEST_SUITE_END()
