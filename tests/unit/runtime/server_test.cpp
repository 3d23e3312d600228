// server_test.cpp: the server's listeners (runtime/server.hpp). With several io workers each
// worker listens on the same port (SO_REUSEPORT) and accepts its own connections; port 0 is
// resolved once for all of them; a port already held (by another server, or by a socket that
// does not share it) still fails with "address in use". Real sockets on loopback.
#include "runtime/server.hpp"
#include "runtime/error.hpp"
#include "support/ws_client.hpp"

#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace rt = switchboard::runtime;
using namespace std::chrono_literals;

namespace {

rt::server_options options(std::size_t threads, std::uint16_t port) {
  rt::server_options o;
  o.threads = threads;
  o.bindings = {rt::parse_binding("127.0.0.1:" + std::to_string(port))};
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(server_listeners)

BOOST_AUTO_TEST_CASE(every_worker_accepts_on_one_port) {
  rt::echo_handler echo;
  rt::server s(options(2, 0));  // port 0: chosen by the kernel, once for both workers
  s.add_websocket_route("/echo", &echo);
  s.start();
  const auto bound = s.local_bindings();
  BOOST_TEST_REQUIRE(bound.size() == 1u);  // one binding, however many sockets serve it
  BOOST_TEST_REQUIRE(bound.front().port != 0);
  std::vector<std::unique_ptr<switchboard::test::ws_client>> clients;
  for (int i = 0; i < 24; ++i) {
    clients.push_back(
        std::make_unique<switchboard::test::ws_client>("127.0.0.1", bound.front().port, "/echo"));
    clients.back()->send("hello " + std::to_string(i));
    const auto got = clients.back()->read();
    BOOST_TEST_REQUIRE(got.has_value());
    BOOST_TEST(got->data == "hello " + std::to_string(i));
  }
  // The kernel spreads connections by their addresses: both workers got some (24 connections
  // all on one worker would happen with probability 2^-23).
  const auto a = s.pool().at(0).stats.connections_accepted.get();
  const auto b = s.pool().at(1).stats.connections_accepted.get();
  BOOST_TEST(a + b >= 24u);
  BOOST_TEST(a > 0u);
  BOOST_TEST(b > 0u);
  for (auto& c : clients)
    c->close();
  s.stop();
}

BOOST_AUTO_TEST_CASE(a_port_in_use_is_refused_even_to_a_second_server) {
  rt::server first(options(2, 0));
  first.start();
  const std::uint16_t port = first.local_bindings().front().port;
  rt::server second(options(2, port));
  try {
    second.start();
    BOOST_FAIL("a second server bound a port the first one holds");
  } catch (const rt::config_error& e) {
    BOOST_TEST(std::string(e.what()).find("in use") != std::string::npos, e.what());
  }
  // A plain socket (no SO_REUSEPORT) cannot take it either.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_TEST(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0);
  ::close(fd);
  first.stop();
}

BOOST_AUTO_TEST_CASE(a_port_held_by_another_socket_is_refused) {
  // Held by a socket that set SO_REUSEPORT itself: our first socket binds without it, so the
  // port is still refused rather than silently shared with a stranger.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  BOOST_TEST_REQUIRE(::listen(fd, 4) == 0);
  socklen_t size = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &size);
  rt::server s(options(2, ntohs(a.sin_port)));
  BOOST_CHECK_THROW(s.start(), rt::config_error);
  ::close(fd);
}

BOOST_AUTO_TEST_SUITE_END()
