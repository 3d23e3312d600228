// Tests for runtime/url.hpp and runtime/client.hpp. The client runs against a real
// runtime::server on a loopback socket; peers from other libraries (python3-websockets, node
// ws, proxies) are in tests/interop/client_test.py.
#include "runtime/client.hpp"
#include "runtime/error.hpp"
#include "runtime/server.hpp"
#include "runtime/url.hpp"
#include "runtime/websocket/handshake.hpp"
#include "support/ws_client.hpp"

#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace rt = switchboard::runtime;
namespace ws = switchboard::runtime::websocket;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(url)

BOOST_AUTO_TEST_CASE(parses_what_a_client_dials) {
  auto u = rt::parse_url("ws://example.com/chat?room=1");
  BOOST_TEST_REQUIRE(u.has_value());
  BOOST_TEST(u->host == "example.com");
  BOOST_TEST(u->port == 80);
  BOOST_TEST(u->target == "/chat?room=1");
  BOOST_TEST(u->authority() == "example.com");

  u = rt::parse_url("WSS://user:p%40ss@[::1]:8443");
  BOOST_TEST_REQUIRE(u.has_value());
  BOOST_TEST(u->scheme == "wss");
  BOOST_TEST(u->secure());
  BOOST_TEST(u->host == "::1");
  BOOST_TEST(u->port == 8443);
  BOOST_TEST(u->target == "/");
  BOOST_TEST(u->user == "user");
  BOOST_TEST(u->password == "p@ss");
  BOOST_TEST(u->authority() == "[::1]:8443");
  BOOST_TEST(u->to_string() == "wss://[::1]:8443/");

  u = rt::parse_url("ws://h:9?x");
  BOOST_TEST_REQUIRE(u.has_value());
  BOOST_TEST(u->target == "/?x");
  BOOST_TEST(rt::parse_url("socks5://127.0.0.1")->port == 1080);
}

BOOST_AUTO_TEST_CASE(refuses_what_it_cannot_dial) {
  for (const char* bad : {"example.com/x", "ftp://h/", "ws://", "ws://h:0/", "ws://h:65536/",
                          "ws://h:8x/", "ws://h/#frag", "ws://[::1/", "ws://h/a b", "ws://u%zz@h/",
                          "ws://a b/", "ws://a\r\nX: y/", "ws://[::1;x]/"}) {
    std::string why;
    BOOST_TEST(!rt::parse_url(bad, &why).has_value(), bad);
    BOOST_TEST(!why.empty(), bad);
  }
}

BOOST_AUTO_TEST_CASE(resolves_redirects) {
  const auto base = *rt::parse_url("ws://a.example:81/dir/page?q");
  BOOST_TEST(rt::resolve_redirect(base, "https://b.example/x")->to_string() == "wss://b.example/x");
  BOOST_TEST(rt::resolve_redirect(base, "/root")->to_string() == "ws://a.example:81/root");
  BOOST_TEST(rt::resolve_redirect(base, "other?y")->to_string() == "ws://a.example:81/dir/other?y");
  BOOST_TEST(rt::resolve_redirect(base, "//c.example:90/z")->to_string() == "ws://c.example:90/z");
  std::string why;
  BOOST_TEST(!rt::resolve_redirect(base, "ftp://x/", &why).has_value());
  BOOST_TEST(!rt::resolve_redirect(base, std::string("a\0b", 3), &why).has_value());
  BOOST_TEST(!rt::resolve_redirect(base, "/a b", &why).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(websocket_handshake_client)

BOOST_AUTO_TEST_CASE(checks_the_101_response_rfc6455_4_1) {
  const std::string key = ws::make_client_key();
  BOOST_TEST(key.size() == 24u);
  BOOST_TEST(ws::make_client_key() != key);
  const std::string accept = ws::accept_key(key);
  ws::handshake_response r{"websocket", "Upgrade", accept, ""};
  BOOST_TEST(!ws::check_response(r, key, {}));
  r.upgrade = "h2c";
  BOOST_TEST(ws::check_response(r, key, {}) == ws::handshake_errc::response_no_upgrade);
  r = {"WebSocket", "keep-alive", accept, ""};
  BOOST_TEST(ws::check_response(r, key, {}) == ws::handshake_errc::response_no_connection_upgrade);
  const std::string other = ws::accept_key("dGhlIHNhbXBsZSBub25jZQ==");
  r = {"websocket", "upgrade", other, ""};
  BOOST_TEST(ws::check_response(r, key, {}) == ws::handshake_errc::bad_accept);
  r = {"websocket", "upgrade", accept, "chat"};
  BOOST_TEST(ws::check_response(r, key, {"chat", "superchat"}) == std::error_code{});
  BOOST_TEST(ws::check_response(r, key, {"superchat"}) ==
             ws::handshake_errc::unexpected_subprotocol);
  r.protocol = "chat, superchat";
  BOOST_TEST(ws::check_response(r, key, {"chat", "superchat"}) ==
             ws::handshake_errc::unexpected_subprotocol);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// A server on a free loopback port below 32768 (test::free_port; tried again if another
// process takes the port first).
std::unique_ptr<rt::server> start_server(rt::server_options o,
                                         const std::function<void(rt::server&)>& routes) {
  for (int attempt = 0;; ++attempt) {
    o.bindings = {rt::parse_binding("127.0.0.1:" + std::to_string(switchboard::test::free_port()))};
    auto s = std::make_unique<rt::server>(o);
    routes(*s);
    try {
      s->start();
      return s;
    } catch (const rt::config_error&) {
      if (attempt == 5) throw;
    }
  }
}

// A real server: /echo echoes, /close-me closes with 4000 on any message, /record echoes and
// keeps what it received, /proto picks the last subprotocol offered.
struct fixture {
  struct closer : rt::websocket_handler {
    void on_message(const rt::connection_ptr& c, ws::opcode, std::string_view) override {
      c->close(4000, "asked to");
    }
  };
  struct recorder : rt::websocket_handler {
    std::mutex mutex;
    std::vector<std::string> messages;
    void on_message(const rt::connection_ptr& c, ws::opcode op, std::string_view p) override {
      {
        std::lock_guard<std::mutex> lock(mutex);
        messages.emplace_back(p);
      }
      c->send_now(op, p);
    }
  };

  explicit fixture(bool deflate = false) {
    server = start_server(make_options(deflate), [this](rt::server& s) {
      s.add_websocket_route("/echo", &echo);
      s.add_websocket_route("/close-me", &close_me);
      s.add_websocket_route("/record", &record);
      s.add_websocket_route("/proto", &echo, [](const std::vector<std::string_view>& offered) {
        return offered.empty() ? std::string() : std::string(offered.back());
      });
    });
    port = server->local_bindings().front().port;
  }
  ~fixture() { server->stop(); }

  static rt::server_options make_options(bool deflate) {
    rt::server_options o;
    o.threads = 1;
    o.permessage_deflate = deflate;
    return o;
  }
  std::string url(const std::string& path) const {
    return "ws://127.0.0.1:" + std::to_string(port) + path;
  }

  rt::echo_handler echo;
  closer close_me;
  recorder record;
  std::unique_ptr<rt::server> server;
  std::uint16_t port = 0;
};

rt::client_options options_for(const std::string& url) {
  rt::client_options o;
  o.url = url;
  o.connect_timeout_ms = 3000;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(websocket_client)

BOOST_AUTO_TEST_CASE(echoes_text_and_binary) {
  fixture f;
  rt::blocking_client c(options_for(f.url("/echo")));
  BOOST_TEST_REQUIRE(!c.connect(), c.what());
  BOOST_TEST(c.info().url == f.url("/echo"));
  BOOST_TEST(c.send_text("hello"));
  const std::string blob(100000, '\x07');
  BOOST_TEST(c.send_binary(blob));
  auto m = c.receive(5s);
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST((m->op == ws::opcode::text));
  BOOST_TEST(m->payload == "hello");
  m = c.receive(5s);
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST((m->op == ws::opcode::binary));
  BOOST_TEST(m->payload == blob);
  c.close(1000, "bye");
  BOOST_TEST(c.close_code() == 1000);
  BOOST_TEST(!c.is_open());
}

BOOST_AUTO_TEST_CASE(fragments_and_deflate_arrive_whole) {
  fixture f(/*deflate=*/true);
  rt::client_options o = options_for(f.url("/record"));
  o.permessage_deflate = true;
  o.fragment_size = 7;
  rt::blocking_client c(o);
  BOOST_TEST_REQUIRE(!c.connect(), c.what());
  BOOST_TEST(c.info().extensions.find("permessage-deflate") == 0u);
  std::string text;
  for (int i = 0; i < 200; ++i)
    text += "{\"seq\":" + std::to_string(i) + ",\"body\":\"the same words again\"}";
  BOOST_TEST(c.send_text(text));
  BOOST_TEST(c.send(ws::opcode::text, "per-call fragments of three", 3));
  auto m = c.receive(5s);
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST(m->payload == text);
  m = c.receive(5s);
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST(m->payload == "per-call fragments of three");
  std::lock_guard<std::mutex> lock(f.record.mutex);
  BOOST_TEST(f.record.messages.size() == 2u);
}

BOOST_AUTO_TEST_CASE(negotiates_a_subprotocol) {
  fixture f;
  rt::client_options o = options_for(f.url("/proto"));
  o.subprotocols = {"v1.chat", "v2.chat"};
  rt::blocking_client c(o);
  BOOST_TEST_REQUIRE(!c.connect(), c.what());
  BOOST_TEST(c.info().subprotocol == "v2.chat");
}

BOOST_AUTO_TEST_CASE(reports_the_servers_close_code) {
  fixture f;
  rt::blocking_client c(options_for(f.url("/close-me")));
  BOOST_TEST_REQUIRE(!c.connect(), c.what());
  c.send_text("please");
  BOOST_TEST(!c.receive(3s).has_value());
  BOOST_TEST(c.close_code() == 4000);
  BOOST_TEST(c.close_reason() == "asked to");
}

BOOST_AUTO_TEST_CASE(a_refused_upgrade_names_the_status) {
  fixture f;
  rt::blocking_client c(options_for("ws://127.0.0.1:" + std::to_string(f.port) + "/nothing"));
  const std::error_code ec = c.connect();
  BOOST_TEST((ec == rt::errc::handshake_refused));
  BOOST_TEST(c.what().find("404") != std::string::npos, c.what());
}

BOOST_AUTO_TEST_CASE(connect_timeout_bounds_a_silent_server) {
  // A listening socket that never accepts: TCP connects (the backlog), no response ever comes.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  BOOST_TEST_REQUIRE(::listen(fd, 4) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  rt::client_options o =
      options_for("ws://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/");
  o.connect_timeout_ms = 600;
  rt::blocking_client c(o);
  const auto t0 = std::chrono::steady_clock::now();
  const std::error_code ec = c.connect();
  const auto took = std::chrono::steady_clock::now() - t0;
  BOOST_TEST((ec == rt::errc::timed_out), ec.message());
  BOOST_TEST((took < 3s));
  ::close(fd);
}

BOOST_AUTO_TEST_CASE(a_dead_port_is_an_error_not_a_hang) {
  rt::client_options o = options_for("ws://127.0.0.1:1/");
  rt::blocking_client c(o);
  const std::error_code ec = c.connect();
  BOOST_TEST(static_cast<bool>(ec));
  BOOST_TEST(c.what().find("127.0.0.1:1") != std::string::npos, c.what());
}

BOOST_AUTO_TEST_CASE(reconnects_and_runs_the_hook_again) {
  auto f = std::make_unique<fixture>();
  const std::uint16_t port = f->port;
  rt::client_options o = options_for(f->url("/record"));
  o.reconnect.enabled = true;
  o.reconnect.initial_delay_ms = 100;
  o.reconnect.max_delay_ms = 200;
  std::mutex mutex;
  std::condition_variable changed;
  int opens = 0, reconnects = 0, disconnects = 0;
  std::shared_ptr<rt::websocket_client> client;
  rt::client_events ev;
  ev.on_connect = [&](const rt::connect_info& info) {
    client->send_text("subscribe");  // the hook
    std::lock_guard<std::mutex> lock(mutex);
    ++opens;
    reconnects += info.reconnected;
    changed.notify_all();
  };
  ev.on_disconnect = [&](std::uint16_t, std::string_view) {
    std::lock_guard<std::mutex> lock(mutex);
    ++disconnects;
    changed.notify_all();
  };
  rt::io_pool pool(1);
  pool.start();
  client = rt::websocket_client::make(pool, o, ev);
  client->connect();
  {
    std::unique_lock<std::mutex> lock(mutex);
    BOOST_TEST_REQUIRE(changed.wait_for(lock, 5s, [&] { return opens == 1; }));
  }
  // The server goes away (its close reaches the client) and comes back on the same port.
  f.reset();
  {
    std::unique_lock<std::mutex> lock(mutex);
    BOOST_TEST_REQUIRE(changed.wait_for(lock, 5s, [&] { return disconnects == 1; }));
  }
  rt::server_options so = fixture::make_options(false);
  so.bindings = {rt::parse_binding("127.0.0.1:" + std::to_string(port))};
  fixture::recorder record;
  rt::server again(so);
  again.add_websocket_route("/record", &record);
  again.start();
  {
    std::unique_lock<std::mutex> lock(mutex);
    BOOST_TEST_REQUIRE(changed.wait_for(lock, 10s, [&] { return opens == 2; }));
    BOOST_TEST(reconnects == 1);
  }
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard<std::mutex> lock(record.mutex);
      if (!record.messages.empty()) break;
    }
    std::this_thread::sleep_for(20ms);
  }
  {
    std::lock_guard<std::mutex> lock(record.mutex);
    BOOST_TEST_REQUIRE(record.messages.size() == 1u);
    BOOST_TEST(record.messages.front() == "subscribe");  // resubscribed through the hook
  }
  client->close();
  std::this_thread::sleep_for(100ms);
  again.stop();
  pool.stop();
  pool.join();
}

BOOST_AUTO_TEST_CASE(bad_urls_are_refused_at_once) {
  rt::io_pool pool(1);
  BOOST_CHECK_THROW(rt::websocket_client::make(pool, options_for("http://x/"), {}),
                    rt::config_error);
  BOOST_CHECK_THROW(rt::websocket_client::make(pool, options_for("ws://"), {}), rt::config_error);
}

BOOST_AUTO_TEST_SUITE_END()
