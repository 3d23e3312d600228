// client_test.cpp: tests of protocols/presence/client.hpp against the real presence server
// (protocols/presence/server.hpp on a runtime::server, loopback): every flow through the C++
// client's API and events, every error code a client can trigger, reconnect (re-announce and
// rejoin), the base64 option and acknowledgment.
#include "protocols/presence/client.hpp"
#include "protocols/presence/server.hpp"

#include "runtime/server.hpp"
#include "support/ws_client.hpp"

#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace presence = switchboard::protocols::presence;
namespace rt = switchboard::runtime;
using namespace std::chrono_literals;

namespace {

struct fixture {
  explicit fixture(const std::function<void(presence::server&)>& setup = {},
                   presence::server_options options = {}) {
    config.set("logger.console", caf::atom("none"));
    config.set("scheduler.max-threads", static_cast<caf::config_value::integer>(2));
    system = std::make_unique<caf::actor_system>(config);
    for (int attempt = 0;; ++attempt) {
      port = switchboard::test::free_port();
      rt::server_options so;
      so.threads = 2;
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

// A client with every event recorded as a line of text.
class member_client {
 public:
  member_client(std::uint16_t port, const std::string& name,
                const std::function<void(presence::client_options&)>& tune = {},
                bool accept_invitations = true) {
    presence::client_options o;
    o.transport.url = "ws://127.0.0.1:" + std::to_string(port) + "/presence";
    o.transport.reconnect.enabled = true;
    o.transport.reconnect.initial_delay_ms = 50;
    o.name = name;
    if (tune) tune(o);
    presence::client_events ev;
    ev.on_session = [this](std::string_view s) { add("session " + std::string(s)); };
    ev.on_new_member = [this](const presence::member& m) { add("new " + m.name); };
    ev.on_remove_member = [this](const presence::member& m) { add("remove " + m.name); };
    ev.on_member_update = [this](const presence::member& m) {
      add("update " + m.name + " " + m.info);
    };
    ev.on_join = [this](std::string_view ch, const presence::member& m) {
      add("join " + std::string(ch) + " " + m.name);
    };
    ev.on_leave = [this](std::string_view ch, const presence::member& m) {
      add("leave " + std::string(ch) + " " + m.name);
    };
    ev.on_message = [this](std::string_view text, std::string_view ch, const presence::member& m) {
      add("msg " + std::string(ch) + " " + m.name + ": " + std::string(text));
    };
    ev.on_members = [this](std::string_view ch, const std::vector<presence::member>& ms) {
      std::vector<std::string> names;
      for (const auto& m : ms)
        names.push_back(m.name);
      std::sort(names.begin(), names.end());
      std::string line = "members " + std::string(ch) + ":";
      for (const auto& n : names)
        line += " " + n;
      add(line);
    };
    ev.on_error = [this](int code, std::string_view, std::string_view ch, const presence::member&) {
      add("error " + std::to_string(code) + " " + std::string(ch));
    };
    ev.on_invitation = [this, accept_invitations](std::string_view ch, const presence::member& m) {
      add("invited " + std::string(ch) + " by " + m.name);
      return accept_invitations;
    };
    ev.on_invitation_response = [this](std::string_view ch, const presence::member& m, bool ok) {
      add("answer " + std::string(ch) + " " + m.name + (ok ? " yes" : " no"));
    };
    c = std::make_unique<presence::client>(o, ev);
  }

  // The client goes first: its io thread may still report events into the members below.
  ~member_client() { c.reset(); }

  void add(std::string line) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.push_back(std::move(line));
    }
    changed_.notify_all();
  }
  // Waits until `line` was recorded `times` times.
  void wait_for(const std::string& line, std::size_t times = 1) {
    std::unique_lock<std::mutex> lock(mutex_);
    const bool ok = changed_.wait_for(lock, 10s, [&] {
      return static_cast<std::size_t>(std::count(lines_.begin(), lines_.end(), line)) >= times;
    });
    BOOST_REQUIRE_MESSAGE(ok, "no \"" << line << "\" (x" << times << ")");
  }
  std::size_t count(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<std::size_t>(std::count(lines_.begin(), lines_.end(), line));
  }
  // Connects and waits for its own member@new.
  void start(std::size_t times = 1) {
    c->connect();
    wait_for("new " + name(), times);
  }
  std::string name() const { return name_hint; }

  std::unique_ptr<presence::client> c;
  std::string name_hint;

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
};

std::unique_ptr<member_client> make(std::uint16_t port, const std::string& name,
                                    const std::function<void(presence::client_options&)>& tune = {},
                                    bool accept = true) {
  auto m = std::make_unique<member_client>(port, name, tune, accept);
  m->name_hint = name;
  return m;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(presence_client)

BOOST_AUTO_TEST_CASE(every_flow) {
  fixture f;
  auto ann = make(f.port, "Ann");
  auto bob = make(f.port, "Bob");
  ann->start();
  BOOST_CHECK_EQUAL(ann->c->member_id(), ann->c->session_id());
  bob->start();
  ann->wait_for("new Bob");
  // Join: both see it.
  ann->c->join("room");
  ann->wait_for("join room Ann");
  bob->c->join("room");
  ann->wait_for("join room Bob");
  bob->wait_for("join room Bob");
  // Publish to the channel and to everyone.
  ann->c->publish("Hello", "room");
  bob->wait_for("msg room Ann: Hello");
  ann->wait_for("msg room Ann: Hello");
  bob->c->publish("{\"a\":1}");
  ann->wait_for("msg  Bob: {\"a\":1}");
  // Members.
  ann->c->get_members("room");
  ann->wait_for("members room: Ann Bob");
  ann->c->get_members();
  ann->wait_for("members : Ann Bob");
  // Update.
  bob->c->update("Bobby", "busy");
  ann->wait_for("update Bobby busy");
  // Invite: Bob accepts, joins, Ann gets the answer and the join.
  ann->c->invite("lounge", bob->c->member_id());
  bob->wait_for("invited lounge by Ann");
  ann->wait_for("answer lounge Bobby yes");
  ann->c->join("lounge");
  ann->wait_for("join lounge Ann");
  for (int i = 0; i < 300 && f.protocol->members("lounge").size() != 2; ++i)
    std::this_thread::sleep_for(10ms);
  BOOST_CHECK_EQUAL(f.protocol->members("lounge").size(), 2u);
  // Leave.
  bob->c->leave("room");
  ann->wait_for("leave room Bobby");
  bob->wait_for("leave room Bobby");
  // Remove: leave events, then remove to everyone.
  bob->c->remove_member();
  ann->wait_for("leave lounge Bobby");
  ann->wait_for("remove Bobby");
  BOOST_CHECK_EQUAL(f.protocol->member_count(), 1u);
  // And back.
  bob->c->new_member();
  ann->wait_for("new Bobby");
}

BOOST_AUTO_TEST_CASE(rejected_invitation) {
  fixture f;
  auto ann = make(f.port, "Ann");
  auto bob = make(f.port, "Bob", {}, false);
  ann->start();
  bob->start();
  ann->c->invite("lounge", bob->c->member_id());
  ann->wait_for("answer lounge Bob no");
  BOOST_CHECK(f.protocol->channels().empty());
}

BOOST_AUTO_TEST_CASE(every_error_code_a_client_can_trigger) {
  fixture f([](presence::server& s) {
    s.on_before_new_member(
        [](const presence::peer&, const presence::member& m) { return m.name != "banned"; });
    s.on_before_new_channel([](const presence::peer&, const std::string& ch,
                               const presence::member&) { return ch != "no-create"; });
    s.on_before_join([](const presence::peer&, const std::string& ch, const presence::member&) {
      return ch != "closed";
    });
    s.on_before_publish([](const presence::peer&, const std::string& t, const std::string&,
                           const presence::member&) { return t != "spam"; });
    s.on_before_send_members([](const presence::peer&, const std::string& ch,
                                const presence::member&) { return ch != "secret"; });
    s.on_before_update_member(
        [](const presence::peer&, const presence::member& m) { return m.name != "banned"; });
  });
  auto ann = make(f.port, "Ann", [](presence::client_options& o) { o.member_id = "ann-id"; });
  ann->start();
  // 1: the id is taken by another connection.
  auto eve = make(f.port, "Eve", [](presence::client_options& o) { o.member_id = "ann-id"; });
  eve->c->connect();
  eve->wait_for("error 1 ");
  // 3: without a member every request is refused.
  eve->c->get_members();
  eve->wait_for("error 3 ");
  // 2.
  auto bad = make(f.port, "banned");
  bad->c->connect();
  bad->wait_for("error 2 ");
  // 6, 10 (and the refused joins are forgotten).
  ann->c->join("no-create");
  ann->wait_for("error 6 no-create");
  ann->c->join("closed");
  ann->wait_for("error 10 closed");
  // 11.
  ann->c->join("room");
  ann->wait_for("join room Ann");
  ann->c->join("room");
  ann->wait_for("error 11 room");
  // 5, 12 (a channel Ann is not in), 20, 30, 4, 3 (an invitee that is no member).
  ann->c->get_members("nowhere");
  ann->wait_for("error 5 nowhere");
  auto bob = make(f.port, "Bob");
  bob->start();
  bob->c->publish("x", "room");
  bob->wait_for("error 12 room");
  bob->c->leave("room");  // not in it: 12 as well
  bob->wait_for("error 12 room", 2);
  ann->c->publish("spam", "room");
  ann->wait_for("error 20 room");
  ann->c->get_members("secret");
  ann->wait_for("error 30 secret");
  ann->c->update("banned", "");
  ann->wait_for("error 4 ");
  ann->c->invite("room", "ghost");
  ann->wait_for("error 3 room");
  // 5 on leave.
  bob->c->leave("nowhere");
  bob->wait_for("error 5 nowhere");
}

BOOST_AUTO_TEST_CASE(reconnect_reannounces_and_rejoins) {
  std::mutex mu;
  std::vector<rt::connection_ptr> conns;
  fixture f([&](presence::server& s) {
    s.on_new_member([&](const presence::peer& p, const presence::member& m) {
      if (m.name != "Ann") return;
      std::lock_guard<std::mutex> lock(mu);
      conns.push_back(p.connection);
    });
  });
  auto ann = make(f.port, "Ann", [](presence::client_options& o) { o.info = "i"; });
  auto bob = make(f.port, "Bob");
  bob->start();
  ann->start();
  bob->c->join("room");
  bob->wait_for("join room Bob");
  ann->c->join("room");
  ann->c->join("hall");
  bob->wait_for("join room Ann");
  // The server drops Ann's connection; the watchdog reconnects, Ann comes back everywhere.
  {
    std::lock_guard<std::mutex> lock(mu);
    BOOST_REQUIRE_EQUAL(conns.size(), 1u);
    conns[0]->close(1011, "test");
    conns.clear();
  }
  bob->wait_for("remove Ann");
  bob->wait_for("new Ann", 2);
  bob->wait_for("join room Ann", 2);
  BOOST_REQUIRE([&] {
    for (int i = 0; i < 300; ++i) {
      if (f.protocol->members("hall").size() == 1 && f.protocol->members("room").size() == 2)
        return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }());
  const auto all = f.protocol->members();
  BOOST_REQUIRE_EQUAL(all.size(), 2u);
  for (const auto& m : all)
    if (m.name == "Ann") {
      BOOST_CHECK_EQUAL(m.info, "i");
      BOOST_CHECK_EQUAL(m.id, ann->c->session_id());  // the new session's id
    }
}

BOOST_AUTO_TEST_CASE(base64_and_acknowledgment_end_to_end) {
  presence::server_options so;
  so.encode_base64 = true;
  so.acknowledgment.enabled = true;
  so.acknowledgment.interval = 100ms;
  so.acknowledgment.timeout = 200ms;
  fixture f({}, so);
  const auto tune = [](presence::client_options& o) {
    o.encode_base64 = true;
    o.acknowledgment.enabled = true;
    o.acknowledgment.interval = 100ms;
    o.acknowledgment.timeout = 200ms;
  };
  auto ann = make(f.port, "Ann é", tune);
  auto bob = make(f.port, "Bob", tune);
  ann->start();
  bob->start();
  ann->c->join("rüm");
  ann->wait_for("join rüm Ann é");
  bob->c->join("rüm");
  ann->wait_for("join rüm Bob");
  bob->c->publish("{\"x\":\"ü\"}", "rüm");
  ann->wait_for("msg rüm Bob: {\"x\":\"ü\"}");
  // Both sides acknowledge: nothing stays unacknowledged, and nothing was delivered twice.
  std::this_thread::sleep_for(500ms);
  BOOST_CHECK_EQUAL(ann->c->unacknowledged(), 0u);
  BOOST_CHECK_EQUAL(bob->c->unacknowledged(), 0u);
  BOOST_CHECK_EQUAL(ann->count("msg rüm Bob: {\"x\":\"ü\"}"), 1u);
  BOOST_CHECK_EQUAL(ann->count("join rüm Bob"), 1u);
}

BOOST_AUTO_TEST_SUITE_END()
