// server_test.cpp: tests of protocols/presence/server.hpp (spec/sgc-protocols.md section 5)
// against real sockets: a runtime::server on a loopback port with the presence server
// attached, runtime::blocking_client peers speaking the wire by hand (so every shape is
// checked as sent), and a raw TCP peer for the heartbeat cleanup (it never answers a ping and
// never sends a close frame).
#include "protocols/presence/server.hpp"

#include "runtime/client.hpp"
#include "runtime/io_pool.hpp"
#include "runtime/server.hpp"
#include "support/ws_client.hpp"

#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace presence = switchboard::protocols::presence;
namespace rt = switchboard::runtime;
using namespace std::chrono_literals;
using presence::method;

namespace {

std::string member_json(const std::string& id, const std::string& name = {},
                        const std::string& info = {}) {
  return R"({"id":")" + id + R"(","name":")" + name + R"(","info":")" + info + "\"}";
}
std::string request(const std::string& method, const std::string& id,
                    const std::string& rest = {}) {
  return R"({"jsonrpc":"2.0","method":"sgc@presence@)" + method + R"(","member":{"id":")" + id +
         "\"}" + rest + "}";
}
std::string channel(const std::string& name) {
  return R"(,"channel":{"name":")" + name + "\"}";
}

class peer {
 public:
  // Connects, reads the session; with `name` set, becomes a member (id "" = the session id)
  // and reads its own member@new.
  peer(std::uint16_t port, const std::string& name = {}, const std::string& id = {},
       const std::string& path = "/presence")
      : bc_(options(port, path)) {
    const auto ec = bc_.connect();
    BOOST_REQUIRE_MESSAGE(!ec, bc_.what());
    BOOST_REQUIRE_EQUAL(bc_.info().subprotocol, "presence.esegece.com");
    const auto s = next_message();
    BOOST_REQUIRE(s.method == method::session);
    session = *s.text;
    if (name.empty()) return;
    member_id = id.empty() ? session : id;
    send(R"({"jsonrpc":"2.0","method":"sgc@presence@member@new","member":)" +
         member_json(id, name) + "}");
    const auto m = next(method::member_new);
    BOOST_REQUIRE_EQUAL(m.member->id, member_id);
  }

  void send(const std::string& text) { BOOST_REQUIRE(bc_.send_text(text)); }
  std::string next_text(std::chrono::milliseconds timeout = 5s) {
    auto m = bc_.receive(timeout);
    BOOST_REQUIRE_MESSAGE(m.has_value(), "no message in time");
    return m->payload;
  }
  presence::message next_message(std::chrono::milliseconds timeout = 5s) {
    auto r = presence::decode(next_text(timeout));
    BOOST_REQUIRE(r.ok());
    return r.msg;
  }
  // The next message with method `m`, skipping others (events of other members).
  presence::message next(method m, std::chrono::milliseconds timeout = 5s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      BOOST_REQUIRE_MESSAGE(left.count() > 0, "no " << presence::to_string(m) << " in time");
      const std::string text = next_text(left);
      auto r = presence::decode(text);
      BOOST_REQUIRE(r.ok());
      if (r.msg.method == m) return r.msg;
      BOOST_TEST_MESSAGE("skipped " << text);
    }
  }
  presence::error_info error(std::chrono::milliseconds timeout = 5s) {
    return *next(method::error_member_channel, timeout).error;
  }
  // Nothing with method `m` arrives within `wait`.
  void expect_none(method m, std::chrono::milliseconds wait = 300ms) {
    const auto end = std::chrono::steady_clock::now() + wait;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return;
      auto raw = bc_.receive(left);
      if (!raw) return;
      auto r = presence::decode(raw->payload);
      BOOST_REQUIRE(r.ok());
      BOOST_CHECK_MESSAGE(r.msg.method != m, "unexpected " << raw->payload);
    }
  }
  bool is_open() const { return bc_.is_open(); }
  void close() { bc_.close(); }

  std::string session, member_id;

 private:
  static rt::client_options options(std::uint16_t port, const std::string& path) {
    rt::client_options o;
    o.url = "ws://127.0.0.1:" + std::to_string(port) + path;
    o.subprotocols = {"presence.esegece.com"};
    return o;
  }
  rt::blocking_client bc_;
};

struct fixture {
  explicit fixture(const std::function<void(presence::server&)>& setup = {},
                   presence::server_options options = {}, std::uint32_t heartbeat_ms = 0) {
    config.set("logger.console", caf::atom("none"));
    config.set("scheduler.max-threads", static_cast<caf::config_value::integer>(2));
    system = std::make_unique<caf::actor_system>(config);
    for (int attempt = 0;; ++attempt) {
      port = switchboard::test::free_port();
      rt::server_options so;
      so.threads = 2;
      so.heartbeat_interval_ms = heartbeat_ms;
      so.heartbeat_timeout_ms = heartbeat_ms;
      rt::binding b;
      b.port = port;
      so.bindings = {b};
      transport = std::make_unique<rt::server>(so);
      protocol = std::make_unique<presence::server>(*system, *transport, options);
      if (setup) setup(*protocol);
      protocol->attach("/presence");
      try {
        transport->start();
        break;
      } catch (const rt::config_error&) {
        protocol.reset();
        transport.reset();
        if (attempt == 5) throw;
      }
    }
  }
  ~fixture() {
    transport->stop();
    protocol.reset();  // its stop() only asks the channel actors to quit: they may still be
    system.reset();    // delivering through the transport, so they end before it does
    transport.reset();
  }

  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  std::unique_ptr<rt::server> transport;
  std::unique_ptr<presence::server> protocol;
  std::uint16_t port = 0;
};

// Waits until `pred` holds (registry state changes after the fan-out was sent).
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 3s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

// A WebSocket peer on a bare TCP socket: handshake and frames by hand, no ping answers.
class raw_peer {
 public:
  explicit raw_peer(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    const std::string req =
        "GET /presence HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: presence.esegece.com\r\n\r\n";
    BOOST_REQUIRE(::write(fd_, req.data(), req.size()) == static_cast<ssize_t>(req.size()));
    std::string head;
    char c;
    while (head.find("\r\n\r\n") == std::string::npos && ::read(fd_, &c, 1) == 1)
      head += c;
    BOOST_REQUIRE(head.rfind("HTTP/1.1 101", 0) == 0);
  }
  ~raw_peer() { ::close(fd_); }
  // One masked text frame (mask key 0: the payload goes as is).
  void send(const std::string& text) {
    std::string f;
    f += static_cast<char>(0x81);
    if (text.size() < 126) {
      f += static_cast<char>(0x80 | text.size());
    } else {
      f += static_cast<char>(0x80 | 126);
      f += static_cast<char>(text.size() >> 8);
      f += static_cast<char>(text.size() & 0xFF);
    }
    f.append(4, '\0');
    f += text;
    BOOST_REQUIRE(::write(fd_, f.data(), f.size()) == static_cast<ssize_t>(f.size()));
  }

 private:
  int fd_ = -1;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(presence_server)

BOOST_AUTO_TEST_CASE(session_and_new_member_to_everyone) {
  fixture f;
  peer a(f.port, "Ann");
  BOOST_CHECK_EQUAL(a.member_id, a.session);  // empty id: the session id
  peer b(f.port);
  b.send(
      R"({"jsonrpc":"2.0","method":"sgc@presence@member@new","member":{"id":"user-7","name":"Bob","info":"hi"}})");
  const auto self = b.next(method::member_new);
  BOOST_CHECK(*self.member == (presence::member{"user-7", "Bob", "hi"}));
  const auto seen = a.next(method::member_new);
  BOOST_CHECK(*seen.member == (presence::member{"user-7", "Bob", "hi"}));
  BOOST_CHECK_EQUAL(f.protocol->member_count(), 2u);
  const auto all = f.protocol->members();
  BOOST_REQUIRE_EQUAL(all.size(), 2u);
}

BOOST_AUTO_TEST_CASE(member_id_taken_is_error_1) {
  fixture f;
  peer a(f.port, "Ann", "shared-id");
  // The same connection twice, and another connection with the same id: both error 1.
  a.send(R"({"jsonrpc":"2.0","method":"sgc@presence@member@new","member":{"id":"other"}})");
  auto e = a.error();
  BOOST_CHECK_EQUAL(e.code, 1);
  BOOST_CHECK_EQUAL(e.text, "Member already exists.");
  peer b(f.port);
  b.send(
      R"({"jsonrpc":"2.0","method":"sgc@presence@member@new","member":{"id":"shared-id","name":"Eve"}})");
  const auto m = b.next(method::error_member_channel);
  BOOST_CHECK_EQUAL(m.error->code, 1);
  BOOST_CHECK_EQUAL(m.member->id, "shared-id");
  BOOST_CHECK_EQUAL(f.protocol->member_count(), 1u);
  BOOST_CHECK_EQUAL(f.protocol->members()[0].name, "Ann");
  a.expect_none(method::member_new);
}

BOOST_AUTO_TEST_CASE(another_connection_cannot_act_as_a_member) {
  fixture f;
  peer a(f.port, "Ann");
  peer b(f.port, "Bob");
  a.send(request("channel@member@new", a.member_id, channel("room")));
  a.next(method::channel_member_new);
  // B names A's member: every request is error 3, nothing happens to A.
  b.send(request("channel@member@new", a.member_id, channel("room")));
  BOOST_CHECK_EQUAL(b.error().code, 3);
  b.send(request("channel@member@remove", a.member_id, channel("room")));
  BOOST_CHECK_EQUAL(b.error().code, 3);
  b.send(request("publish@msg", a.member_id, channel("room") + R"(,"message":{"text":"x"})"));
  const auto pe = b.next(method::error_publish_msg);
  BOOST_CHECK_EQUAL(pe.error->code, 3);
  BOOST_CHECK_EQUAL(*pe.text, "x");
  b.send(request("member@remove", a.member_id));
  BOOST_CHECK_EQUAL(b.error().code, 3);
  b.send(request("get@members", a.member_id, channel("")));
  BOOST_CHECK_EQUAL(b.error().code, 3);
  b.send(request("member@update", a.member_id));
  BOOST_CHECK_EQUAL(b.error().code, 3);
  a.expect_none(method::publish_msg);
  BOOST_CHECK_EQUAL(f.protocol->members("room").size(), 1u);
  BOOST_CHECK_EQUAL(f.protocol->member_count(), 2u);
  // A connection without a member is not a member either.
  peer c(f.port);
  c.send(request("channel@member@new", "", channel("room")));
  BOOST_CHECK_EQUAL(c.error().code, 3);
}

BOOST_AUTO_TEST_CASE(join_and_leave_errors_and_audiences) {
  fixture f;
  peer a(f.port, "Ann");
  peer b(f.port, "Bob");
  peer c(f.port, "Cy");
  a.send(request("channel@member@new", a.member_id, channel("room")));
  auto j = a.next(method::channel_member_new);
  BOOST_CHECK_EQUAL(*j.channel, "room");
  BOOST_CHECK(*j.member == (presence::member{a.member_id, "Ann", ""}));
  b.send(request("channel@member@new", b.member_id, channel("room")));
  BOOST_CHECK_EQUAL(a.next(method::channel_member_new).member->id, b.member_id);
  BOOST_CHECK_EQUAL(b.next(method::channel_member_new).member->id, b.member_id);
  c.expect_none(method::channel_member_new);  // not in the channel
  // 11: already in it.
  a.send(request("channel@member@new", a.member_id, channel("room")));
  auto e = a.next(method::error_member_channel);
  BOOST_CHECK_EQUAL(e.error->code, 11);
  BOOST_CHECK_EQUAL(*e.channel, "room");
  BOOST_CHECK_EQUAL(e.member->name, "Ann");
  // 5: no such channel; 12: the channel exists, the member is not in it.
  c.send(request("channel@member@remove", c.member_id, channel("nowhere")));
  BOOST_CHECK_EQUAL(c.error().code, 5);
  c.send(request("channel@member@remove", c.member_id, channel("room")));
  BOOST_CHECK_EQUAL(c.error().code, 12);
  // Leave: to the channel's members, the leaver included; not to others (README: [D]).
  b.send(request("channel@member@remove", b.member_id, channel("room")));
  BOOST_CHECK_EQUAL(b.next(method::channel_member_remove).member->id, b.member_id);
  BOOST_CHECK_EQUAL(a.next(method::channel_member_remove).member->id, b.member_id);
  c.expect_none(method::channel_member_remove);
  BOOST_CHECK_EQUAL(f.protocol->members("room").size(), 1u);
  // The last member leaves: the channel is deleted ([D]).
  a.send(request("channel@member@remove", a.member_id, channel("room")));
  a.next(method::channel_member_remove);
  BOOST_CHECK(eventually([&] { return f.protocol->channels().empty(); }));
  a.send(request("channel@member@remove", a.member_id, channel("room")));
  BOOST_CHECK_EQUAL(a.error().code, 5);
}

BOOST_AUTO_TEST_CASE(publish_to_channel_and_everyone) {
  fixture f;
  peer a(f.port, "Ann");
  peer b(f.port, "Bob");
  peer c(f.port, "Cy");
  a.send(request("channel@member@new", a.member_id, channel("room")));
  a.next(method::channel_member_new);
  b.send(request("channel@member@new", b.member_id, channel("room")));
  b.next(method::channel_member_new);
  a.send(request("publish@msg", a.member_id, channel("room") + R"(,"message":{"text":"Hello"})"));
  for (peer* p : {&a, &b}) {
    const auto m = p->next(method::publish_msg);
    BOOST_CHECK_EQUAL(*m.text, "Hello");
    BOOST_CHECK_EQUAL(*m.channel, "room");
    BOOST_CHECK(*m.member == (presence::member{a.member_id, "Ann", ""}));
  }
  c.expect_none(method::publish_msg);
  // Channel "": everyone.
  c.send(request("publish@msg", c.member_id, channel("") + R"(,"message":{"text":{"k":1}})"));
  for (peer* p : {&a, &b, &c}) {
    const auto m = p->next(method::publish_msg);
    BOOST_CHECK_EQUAL(*m.text, R"({"k":1})");
    BOOST_CHECK_EQUAL(m.member->id, c.member_id);
  }
  // 5 and 12, as publish errors with the message.
  c.send(request("publish@msg", c.member_id, channel("nope") + R"(,"message":{"text":"t"})"));
  auto e = c.next(method::error_publish_msg);
  BOOST_CHECK_EQUAL(e.error->code, 5);
  BOOST_CHECK_EQUAL(*e.text, "t");
  c.send(request("publish@msg", c.member_id, channel("room") + R"(,"message":{"text":"t"})"));
  e = c.next(method::error_publish_msg);
  BOOST_CHECK_EQUAL(e.error->code, 12);
  BOOST_CHECK_EQUAL(e.error->text, "Subscription not exists.");
  a.expect_none(method::publish_msg);
}

BOOST_AUTO_TEST_CASE(hooks_deny_with_their_codes) {
  std::vector<std::string> seen;
  std::mutex mu;
  const auto note = [&](std::string s) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(std::move(s));
  };
  fixture f([&](presence::server& s) {
    s.on_before_new_member(
        [](const presence::peer&, const presence::member& m) { return m.name != "banned"; });
    s.on_before_new_channel([](const presence::peer&, const std::string& ch,
                               const presence::member&) { return ch != "no-create"; });
    s.on_before_join([](const presence::peer&, const std::string& ch, const presence::member&) {
      return ch != "closed";
    });
    s.on_before_publish([](const presence::peer&, const std::string& text, const std::string&,
                           const presence::member&) { return text != "spam"; });
    s.on_before_send_members([](const presence::peer&, const std::string& ch,
                                const presence::member&) { return ch != "secret"; });
    s.on_before_update_member(
        [](const presence::peer&, const presence::member& m) { return m.name != "banned"; });
    s.on_new_member(
        [&](const presence::peer&, const presence::member& m) { note("new " + m.name); });
    s.on_new_channel([&](const presence::peer&, const std::string& ch, const presence::member&) {
      note("channel " + ch);
    });
    s.on_join([&](const presence::peer&, const std::string& ch, const presence::member& m) {
      note("join " + ch + " " + m.name);
    });
    s.on_error([&](const presence::peer&, int code, const std::string&, const std::string&,
                   const presence::member&) { note("error " + std::to_string(code)); });
  });
  peer x(f.port);
  x.send(
      R"({"jsonrpc":"2.0","method":"sgc@presence@member@new","member":{"id":"","name":"banned"}})");
  auto e = x.error();
  BOOST_CHECK_EQUAL(e.code, 2);
  BOOST_CHECK_EQUAL(e.text, "Create New Member request has been denied.");
  BOOST_CHECK_EQUAL(f.protocol->member_count(), 0u);

  peer a(f.port, "Ann");
  peer b(f.port, "Bob");
  a.send(request("channel@member@new", a.member_id, channel("no-create")));
  BOOST_CHECK_EQUAL(a.error().code, 6);
  a.send(request("channel@member@new", a.member_id, channel("closed")));
  BOOST_CHECK_EQUAL(a.error().code, 10);
  BOOST_CHECK(f.protocol->channels().empty());
  a.send(request("channel@member@new", a.member_id, channel("room")));
  a.next(method::channel_member_new);
  a.send(request("publish@msg", a.member_id, channel("room") + R"(,"message":{"text":"spam"})"));
  auto pe = a.next(method::error_publish_msg);
  BOOST_CHECK_EQUAL(pe.error->code, 20);
  BOOST_CHECK_EQUAL(pe.error->text, "Publish Message request has been denied.");
  // A denial of a publish to everyone is error 20 too ([D]; the original drops it silently).
  a.send(request("publish@msg", a.member_id, channel("") + R"(,"message":{"text":"spam"})"));
  BOOST_CHECK_EQUAL(a.next(method::error_publish_msg).error->code, 20);
  b.expect_none(method::publish_msg);
  a.send(request("get@members", a.member_id, channel("secret")));
  e = a.error();
  BOOST_CHECK_EQUAL(e.code, 30);
  BOOST_CHECK_EQUAL(e.text, "Send Members request has been denied.");
  a.send(R"({"jsonrpc":"2.0","method":"sgc@presence@member@update","member":{"id":")" +
         a.member_id + R"(","name":"banned"}})");
  BOOST_CHECK_EQUAL(a.error().code, 4);
  std::lock_guard<std::mutex> lock(mu);
  for (const char* want : {"new Ann", "new Bob", "channel room", "join room Ann", "error 2",
                           "error 6", "error 10", "error 20", "error 30", "error 4"})
    BOOST_CHECK_MESSAGE(std::find(seen.begin(), seen.end(), want) != seen.end(), want);
}

BOOST_AUTO_TEST_CASE(get_members_of_a_channel_and_of_everyone) {
  fixture f;
  peer a(f.port, "Ann");
  peer b(f.port, "Bob");
  b.send(request("channel@member@new", b.member_id, channel("room")));
  b.next(method::channel_member_new);
  // No membership needed to list a channel (5.2).
  a.send(request("get@members", a.member_id, channel("room")));
  auto m = a.next(method::send_members);
  BOOST_CHECK_EQUAL(*m.channel, "room");
  BOOST_CHECK_EQUAL(m.member->id, a.member_id);
  BOOST_REQUIRE_EQUAL(m.members->size(), 1u);
  BOOST_CHECK((*m.members)[0] == (presence::member{b.member_id, "Bob", ""}));
  a.send(request("get@members", a.member_id, channel("")));
  m = a.next(method::send_members);
  BOOST_CHECK_EQUAL(m.members->size(), 2u);
  a.send(request("get@members", a.member_id, channel("nope")));
  BOOST_CHECK_EQUAL(a.error().code, 5);
}

BOOST_AUTO_TEST_CASE(invitations_and_responses) {
  fixture f;
  peer a(f.port, "Ann");
  peer b(f.port, "Bob");
  a.send(
      R"({"jsonrpc":"2.0","method":"sgc@presence@channel@invitation","channel":{"name":"new-room"},"member":)" +
      member_json(a.member_id) + R"(,"members":[)" + member_json(b.member_id) + "," +
      member_json("ghost") + "]}");
  const auto inv = b.next(method::channel_invitation);
  BOOST_CHECK_EQUAL(*inv.channel, "new-room");
  BOOST_CHECK(*inv.member == (presence::member{a.member_id, "Ann", ""}));
  BOOST_CHECK(!inv.members);
  const auto e = a.next(method::error_member_channel);  // the invitee that is not a member
  BOOST_CHECK_EQUAL(e.error->code, 3);
  BOOST_CHECK_EQUAL(e.member->id, "ghost");
  // The answer goes to the inviter.
  b.send(
      R"({"jsonrpc":"2.0","method":"sgc@presence@channel@invitation@response","channel":{"name":"new-room"},"member":)" +
      member_json(b.member_id) + R"(,"members":[)" + member_json(a.member_id) +
      R"(],"accept":true})");
  const auto r = a.next(method::invitation_response);
  BOOST_CHECK(*r.accept);
  BOOST_CHECK_EQUAL(*r.channel, "new-room");
  BOOST_CHECK(*r.member == (presence::member{b.member_id, "Bob", ""}));
  b.send(
      R"({"jsonrpc":"2.0","method":"sgc@presence@channel@invitation@response","channel":{"name":"x"},"member":)" +
      member_json(b.member_id) + R"(,"members":[{"id":"ghost"}],"accept":false})");
  BOOST_CHECK_EQUAL(b.error().code, 3);
}

BOOST_AUTO_TEST_CASE(member_update_and_explicit_remove) {
  fixture f;
  peer a(f.port, "Ann");
  peer b(f.port, "Bob");
  a.send(request("channel@member@new", a.member_id, channel("room")));
  a.next(method::channel_member_new);
  b.send(request("channel@member@new", b.member_id, channel("room")));
  a.next(method::channel_member_new);
  a.send(R"({"jsonrpc":"2.0","method":"sgc@presence@member@update","member":)" +
         member_json(a.member_id, "Anna", "away") + "}");
  BOOST_CHECK(*b.next(method::member_update).member ==
              (presence::member{a.member_id, "Anna", "away"}));
  BOOST_CHECK(eventually([&] { return f.protocol->members("room").size() == 2; }));
  b.send(request("get@members", b.member_id, channel("room")));
  const auto list = b.next(method::send_members);
  BOOST_CHECK(std::find(list.members->begin(), list.members->end(),
                        presence::member{a.member_id, "Anna", "away"}) != list.members->end());
  // member@remove: leave events to the channel, then member@remove to everyone.
  a.send(request("member@remove", a.member_id));
  const auto leave = b.next(method::channel_member_remove);
  BOOST_CHECK_EQUAL(leave.member->id, a.member_id);
  BOOST_CHECK_EQUAL(*leave.channel, "room");
  BOOST_CHECK_EQUAL(b.next(method::member_remove).member->id, a.member_id);
  BOOST_CHECK_EQUAL(a.next(method::member_remove).member->id, a.member_id);
  BOOST_CHECK(eventually([&] { return f.protocol->member_count() == 1; }));
  a.send(request("channel@member@new", a.member_id, channel("room")));
  BOOST_CHECK_EQUAL(a.error().code, 3);
  BOOST_CHECK(a.is_open());
}

BOOST_AUTO_TEST_CASE(close_removes_the_member_with_events) {
  fixture f;
  peer b(f.port, "Bob");
  {
    peer a(f.port, "Ann");
    a.send(request("channel@member@new", a.member_id, channel("room")));
    a.next(method::channel_member_new);
    b.send(request("channel@member@new", b.member_id, channel("room")));
    b.next(method::channel_member_new);
    a.close();
  }
  const auto leave = b.next(method::channel_member_remove);
  BOOST_CHECK_EQUAL(leave.member->name, "Ann");
  BOOST_CHECK_EQUAL(b.next(method::member_remove).member->name, "Ann");
  BOOST_CHECK(eventually([&] { return f.protocol->member_count() == 1; }));
  BOOST_CHECK_EQUAL(f.protocol->members("room").size(), 1u);
}

BOOST_AUTO_TEST_CASE(heartbeat_removes_a_silent_peer_in_time) {
  constexpr std::uint32_t heartbeat = 500;  // interval and timeout
  fixture f({}, {}, heartbeat);
  peer b(f.port, "Bob");
  b.send(request("channel@member@new", b.member_id, channel("room")));
  b.next(method::channel_member_new);
  raw_peer ghost(f.port);
  ghost.send(
      R"({"jsonrpc":"2.0","method":"sgc@presence@member@new","member":{"id":"ghost","name":"G"}})");
  ghost.send(request("channel@member@new", "ghost", channel("room")));
  BOOST_CHECK_EQUAL(b.next(method::channel_member_new).member->id, "ghost");
  // From here the ghost says nothing: no pong, no close frame, the socket stays open.
  const auto silent = std::chrono::steady_clock::now();
  const auto leave = b.next(method::channel_member_remove, 5s);
  BOOST_CHECK_EQUAL(leave.member->id, "ghost");
  BOOST_CHECK_EQUAL(b.next(method::member_remove, 5s).member->id, "ghost");
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - silent);
  // One interval plus the timeout, plus the sweep's granularity (a tick for each of the two
  // checks) and a little for the fan-out.
  const auto bound = std::chrono::milliseconds(2 * heartbeat + 2 * rt::worker::tick_ms + 250);
  BOOST_TEST_MESSAGE("silent peer removed after " << took.count() << " ms");
  BOOST_CHECK_LT(took.count(), bound.count());
  BOOST_CHECK_EQUAL(f.protocol->member_count(), 1u);
}

BOOST_AUTO_TEST_CASE(bad_input_is_answered_and_the_connection_stays) {
  fixture f;
  peer a(f.port, "Ann");
  a.send("{not json");
  auto e = a.error();
  BOOST_CHECK_EQUAL(e.code, presence::parse_error);
  a.send(R"({"jsonrpc":"2.0","method":"sgc@presence@who"})");
  e = a.error();
  BOOST_CHECK_EQUAL(e.code, presence::method_not_found);
  BOOST_CHECK(e.text.find("sgc@presence@who") != std::string::npos);
  a.send(R"({"jsonrpc":"2.0","method":"sgc@presence@channel@member@new","member":"x"})");
  BOOST_CHECK_EQUAL(a.error().code, presence::invalid_params);
  a.send(R"({"jsonrpc":"2.0","method":"sgc@presence@channel@member@new","member":{"id":")" +
         a.member_id + R"("}})");  // no channel name
  BOOST_CHECK_EQUAL(a.error().code, presence::invalid_params);
  a.send(R"({"method":"sgc@presence@session"})");
  BOOST_CHECK_EQUAL(a.error().code, presence::invalid_request);
  a.send(request("send@members", a.member_id));  // a server-to-client method
  BOOST_CHECK_EQUAL(a.error().code, presence::method_not_found);
  BOOST_CHECK(a.is_open());
  a.send(request("get@members", a.member_id, channel("")));
  BOOST_CHECK_EQUAL(a.next(method::send_members).members->size(), 1u);
}

BOOST_AUTO_TEST_CASE(base64_option_and_prefixed_input) {
  presence::server_options o;
  o.encode_base64 = true;
  fixture f({}, o);
  peer a(f.port);  // the session message already decoded through the prefix
  BOOST_CHECK_EQUAL(a.session.size(), 36u);
  // Input: any value may be prefixed, the method included.
  a.send(R"({"jsonrpc":"2.0","method":")" +
         presence::encode_base64_value("sgc@presence@member@new") + R"(","member":{"id":")" +
         presence::encode_base64_value("b64-user") + R"(","name":"plain"}})");
  const std::string raw = a.next_text();
  BOOST_CHECK(raw.rfind(R"({"jsonrpc":"2.0","method":"sgc@b64:)", 0) == 0);
  BOOST_CHECK(raw.find(presence::encode_base64_value("b64-user")) != std::string::npos);
  BOOST_CHECK(raw.find(presence::encode_base64_value("plain")) != std::string::npos);
  const auto m = presence::decode(raw).msg;
  BOOST_CHECK(m.method == method::member_new);
  BOOST_CHECK(*m.member == (presence::member{"b64-user", "plain", ""}));
}

BOOST_AUTO_TEST_CASE(acknowledgment) {
  presence::server_options o;
  o.acknowledgment.enabled = true;
  o.acknowledgment.interval = 100ms;
  o.acknowledgment.timeout = 200ms;
  fixture f({}, o);
  peer a(f.port);
  // A message with an id is acknowledged (request-shaped), whatever the server's option.
  a.send(
      R"({"jsonrpc":"2.0","method":"sgc@presence@member@new","member":{"id":"","name":"A"},"id":"c-1"})");
  const auto ack = a.next(method::acknowledgment);
  BOOST_CHECK_EQUAL(*ack.id, "c-1");
  // Everything the server sends carries an id; unacknowledged it comes again.
  const auto first = a.next(method::member_new);
  BOOST_REQUIRE(first.id);
  const auto again = a.next(method::member_new, 2s);
  BOOST_CHECK_EQUAL(*again.id, *first.id);
  // Acknowledged: after the copies already on the way, no more.
  a.send(presence::encode_acknowledgment(*first.id));
  a.expect_none(method::get_members, 400ms);  // drains
  a.expect_none(method::member_new, 600ms);
  // A client message sent twice with one id (its ack was late) is acknowledged twice and
  // processed once.
  const std::string pub =
      R"({"jsonrpc":"2.0","method":"sgc@presence@publish@msg","member":{"id":")" + a.session +
      R"("},"channel":{"name":""},"message":{"text":"once"},"id":"p-1"})";
  a.send(pub);
  a.send(pub);
  BOOST_CHECK_EQUAL(*a.next(method::acknowledgment).id, "p-1");
  BOOST_CHECK_EQUAL(*a.next(method::acknowledgment).id, "p-1");
  const auto got = a.next(method::publish_msg);
  BOOST_CHECK_EQUAL(*got.text, "once");
  a.send(presence::encode_acknowledgment(*got.id));
  a.expect_none(method::get_members, 300ms);  // drains copies sent before the ack landed
  a.send(pub);                                // still remembered
  BOOST_CHECK_EQUAL(*a.next(method::acknowledgment).id, "p-1");
  a.expect_none(method::publish_msg, 500ms);
}

BOOST_AUTO_TEST_CASE(server_api) {
  fixture f;
  peer a(f.port, "Ann");
  peer b(f.port, "Bob");
  a.send(request("channel@member@new", a.member_id, channel("room")));
  a.next(method::channel_member_new);
  BOOST_CHECK(
      eventually([&] { return f.protocol->channels() == std::vector<std::string>{"room"}; }));
  f.protocol->broadcast("to room", "room");
  auto m = a.next(method::publish_msg);
  BOOST_CHECK_EQUAL(*m.text, "to room");
  BOOST_CHECK(!m.member);
  b.expect_none(method::publish_msg);
  f.protocol->broadcast("to all");
  BOOST_CHECK_EQUAL(*a.next(method::publish_msg).text, "to all");
  BOOST_CHECK_EQUAL(*b.next(method::publish_msg).text, "to all");
  BOOST_CHECK_EQUAL(f.protocol->members("room").size(), 1u);
  BOOST_CHECK_EQUAL(f.protocol->members().size(), 2u);
  BOOST_CHECK(f.protocol->members("nope").empty());
}

BOOST_AUTO_TEST_SUITE_END()
