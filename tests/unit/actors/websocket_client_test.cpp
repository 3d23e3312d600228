// Tests for actors/websocket_client.hpp: the client actor against a real server socket.
#include "actors/websocket_client.hpp"
#include "runtime/server.hpp"
#include "support/ws_client.hpp"

#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>

namespace sb = switchboard::actors;
namespace rt = switchboard::runtime;

BOOST_AUTO_TEST_SUITE(actors_websocket_client)

BOOST_AUTO_TEST_CASE(connects_echoes_and_closes_through_messages) {
  rt::echo_handler echo;
  std::unique_ptr<rt::server> server;
  for (int attempt = 0; !server; ++attempt) {
    rt::server_options o;
    o.threads = 1;
    o.bindings = {rt::parse_binding("127.0.0.1:" + std::to_string(switchboard::test::free_port()))};
    server = std::make_unique<rt::server>(o);
    server->add_websocket_route("/echo", &echo);
    try {
      server->start();
    } catch (const rt::config_error&) {
      server.reset();
      if (attempt == 5) throw;
    }
  }
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  rt::io_pool pool(1);
  pool.start();
  {
    caf::scoped_actor self{system};
    rt::client_options o;
    o.url = "ws://127.0.0.1:" + std::to_string(server->local_bindings().front().port) + "/echo";
    auto client = sb::spawn_websocket_client(system, pool, o, caf::actor_cast<caf::actor>(self));
    bool connected = false;
    self->receive([&](sb::ws_connected_atom, const std::string& url, const std::string&,
                      bool reconnected) { connected = url == o.url && !reconnected; },
                  caf::after(std::chrono::seconds(5)) >> [] {});
    BOOST_TEST_REQUIRE(connected);
    self->send(client, sb::text_atom::value, std::string("ping over actors"));
    self->send(client, sb::binary_atom::value, std::string("\x01\x02", 2));
    std::string text, binary;
    self->receive([&](sb::text_atom, const std::string& t) { text = t; },
                  caf::after(std::chrono::seconds(5)) >> [] {});
    self->receive([&](sb::binary_atom, const std::string& b) { binary = b; },
                  caf::after(std::chrono::seconds(5)) >> [] {});
    BOOST_TEST(text == "ping over actors");
    BOOST_TEST(binary == std::string("\x01\x02", 2));
    self->send(client, sb::closed_atom::value, std::uint16_t{1000}, std::string("done"));
    std::uint16_t code = 0;
    self->receive([&](sb::closed_atom, std::uint16_t c, const std::string&) { code = c; },
                  caf::after(std::chrono::seconds(5)) >> [] {});
    BOOST_TEST(code == 1000);
  }
  server->stop();
  pool.stop();
  pool.join();
}

BOOST_AUTO_TEST_SUITE_END()
