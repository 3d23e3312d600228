// app_actors_test.cpp: application actors composed with the sgc server (server.hpp,
// subscribe_actor, moderate; issue 4 item 12): a moderation actor filters a chat room before
// fan-out, an actor subscribed to a channel receives publishes as typed messages, and a
// ticker actor publishes to WebSocket subscribers. Real sockets: a runtime::server on
// loopback and runtime::blocking_client peers offering esegece.com.
#include "protocols/sgc/server.hpp"

#include "runtime/client.hpp"
#include "runtime/server.hpp"
#include "support/ws_client.hpp"

#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace sgc = switchboard::protocols::sgc;
namespace rt = switchboard::runtime;
using namespace std::chrono_literals;

namespace {

struct fixture {
  fixture() {
    for (int attempt = 0;; ++attempt) {
      rt::server_options o;
      o.threads = 1;
      o.bindings = {
          rt::parse_binding("127.0.0.1:" + std::to_string(switchboard::test::free_port()))};
      transport = std::make_unique<rt::server>(o);
      protocol = std::make_unique<sgc::server>(system, *transport);
      protocol->attach("/sgc");
      setup(*protocol);
      try {
        transport->start();
        break;
      } catch (const rt::config_error&) {
        protocol.reset();
        if (attempt == 5) throw;
      }
    }
  }
  ~fixture() {
    transport->stop();
    protocol->stop();
  }
  std::function<void(sgc::server&)> setup = [](sgc::server&) {};

  std::unique_ptr<rt::blocking_client> connect() {
    rt::client_options o;
    o.url = "ws://127.0.0.1:" + std::to_string(transport->local_bindings().front().port) + "/sgc";
    o.subprotocols = {"esegece.com"};
    auto c = std::make_unique<rt::blocking_client>(o);
    BOOST_REQUIRE_MESSAGE(!c->connect(), c->what());
    BOOST_REQUIRE(c->receive(5s).has_value());  // the session message
    return c;
  }

  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  std::unique_ptr<rt::server> transport;
  std::unique_ptr<sgc::server> protocol;
};

std::string next(rt::blocking_client& c) {
  auto m = c.receive(5s);
  BOOST_REQUIRE_MESSAGE(m.has_value(), "no message in time");
  return m->payload;
}

std::string event_text(const std::string& channel, const std::string& json, int sequence) {
  return R"({"jsonrpc":"2.0","result":{"method":"sgc@event","channel":")" + channel +
         R"(","message":)" + json + R"(,"sequence":)" + std::to_string(sequence) + "}}";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sgc_app_actors)

BOOST_AUTO_TEST_CASE(moderator_filters_before_fan_out_and_an_actor_subscriber_sees_it) {
  auto f = std::make_unique<fixture>();
  sgc::server& protocol = *f->protocol;
  // The moderator masks a word and drops messages that shout; what it lets through it
  // publishes itself (a server-side publish is never diverted again).
  auto moderator = f->system.spawn([&protocol](caf::event_based_actor*) -> caf::behavior {
    return {[&protocol](sgc::moderate_atom, const std::string& channel, std::string json,
                        const std::string&, std::uint8_t queue) {
      if (json.find("SHOUT") != std::string::npos) return;
      for (auto at = json.find("darn"); at != std::string::npos; at = json.find("darn"))
        json.replace(at, 4, "****");
      protocol.publish_json(json, channel, static_cast<sgc::queue_level>(queue));
    }};
  });
  protocol.moderate("chat.*", moderator);
  caf::scoped_actor audit{f->system};
  protocol.subscribe_actor("chat.lobby", audit);

  auto reader = f->connect();
  auto writer = f->connect();
  reader->send_text(
      R"({"jsonrpc":"2.0","method":"sgc@subscribe","params":{"channel":"chat.lobby"}})");
  BOOST_TEST(next(*reader).find("sgc@subscribe") != std::string::npos);
  for (const char* text : {"hello darn world", "SHOUT SHOUT", "fine"})
    writer->send_text(
        std::string(
            R"({"jsonrpc":"2.0","method":"sgc@publish","params":{"channel":"chat.lobby","message":")") +
        text + "\"}}");
  BOOST_TEST(next(*reader) == event_text("chat.lobby", "\"hello **** world\"", 1));
  BOOST_TEST(next(*reader) == event_text("chat.lobby", "\"fine\"", 2));  // the shout is gone

  std::vector<std::pair<std::string, std::uint64_t>> seen;
  for (int i = 0; i < 2; ++i)
    audit->receive(
        [&](sgc::event_atom, const std::string& channel, const std::string& json,
            std::uint64_t sequence) {
          BOOST_TEST(channel == "chat.lobby");
          seen.emplace_back(json, sequence);
        },
        caf::after(5s) >> [] { BOOST_FAIL("the audit actor got no event"); });
  BOOST_TEST(seen.size() == 2u);
  BOOST_TEST(seen[0].first == "\"hello **** world\"");
  BOOST_TEST(seen[1].second == 2u);
  protocol.unsubscribe_actor("chat.lobby", audit);
  caf::anon_send_exit(moderator, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(a_ticker_actor_publishes_to_websocket_subscribers) {
  auto f = std::make_unique<fixture>();
  sgc::server& protocol = *f->protocol;
  auto reader = f->connect();
  reader->send_text(R"({"jsonrpc":"2.0","method":"sgc@subscribe","params":{"channel":"prices"}})");
  BOOST_TEST(next(*reader).find("sgc@subscribe") != std::string::npos);
  // A ticker: publishes three prices, a message to itself between each.
  using tick_atom = caf::atom_constant<caf::atom("tick")>;
  auto ticker = f->system.spawn([&protocol](caf::event_based_actor* self) -> caf::behavior {
    self->send(self, tick_atom::value, 1);
    return {[self, &protocol](tick_atom, int n) {
      protocol.publish(R"({"sym":"EUR","px":)" + std::to_string(100 + n) + "}", "prices");
      if (n < 3) self->delayed_send(self, std::chrono::milliseconds(20), tick_atom::value, n + 1);
    }};
  });
  for (int n = 1; n <= 3; ++n)
    BOOST_TEST(next(*reader) ==
               event_text("prices", R"({"sym":"EUR","px":)" + std::to_string(100 + n) + "}", n));
  caf::anon_send_exit(ticker, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
