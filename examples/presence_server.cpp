// presence_server: a small presence backend (protocols/presence/server.hpp) with hooks.
//
//   build/bin/presence_server 127.0.0.1:9000
//   then connect presence clients (subprotocol presence.esegece.com) to
//   ws://127.0.0.1:9000/presence: the C++ client (protocols/presence/client.hpp) or the JS one.
//
// The hooks: names must be 1-32 characters and not "admin"; channels starting with "staff."
// are created and joined only by members whose info is "staff"; publishes longer than 1000
// characters are refused; the member list of "staff." channels is for staff only. A silent
// client is dropped by the heartbeat (5 s ping, 5 s for the pong) and leaves every list.
// Every minute the server tells everyone how many members are online.
#include "actors/hub.hpp"
#include "protocols/presence/server.hpp"

#include <caf/event_based_actor.hpp>

#include <cstdio>
#include <string>

namespace sb = switchboard::actors;
namespace presence = switchboard::protocols::presence;
using tick_atom = caf::atom_constant<caf::atom("tick")>;

namespace {

bool staff_only(const std::string& channel) {
  return channel.rfind("staff.", 0) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  sb::hub_options options;
  if (argc > 1) options.server.bindings = {switchboard::runtime::parse_binding(argv[1])};
  options.server.heartbeat_interval_ms = 5000;
  options.server.heartbeat_timeout_ms = 5000;
  sb::hub hub(options);
  presence::server server(hub.system(), hub.server());
  server.attach("/presence");

  const auto staff = [](const presence::member& m) { return m.info == "staff"; };
  server.on_before_new_member([](const presence::peer&, const presence::member& m) {
    return !m.name.empty() && m.name.size() <= 32 && m.name != "admin";
  });
  server.on_before_update_member([](const presence::peer&, const presence::member& m) {
    return !m.name.empty() && m.name.size() <= 32 && m.name != "admin";
  });
  server.on_before_new_channel(
      [staff](const presence::peer&, const std::string& channel, const presence::member& m) {
        return !staff_only(channel) || staff(m);
      });
  server.on_before_join(
      [staff](const presence::peer&, const std::string& channel, const presence::member& m) {
        return !staff_only(channel) || staff(m);
      });
  server.on_before_publish([](const presence::peer&, const std::string& text, const std::string&,
                              const presence::member&) { return text.size() <= 1000; });
  server.on_before_send_members(
      [staff](const presence::peer&, const std::string& channel, const presence::member& m) {
        return !staff_only(channel) || staff(m);
      });

  server.on_new_member([](const presence::peer& p, const presence::member& m) {
    std::printf("+ %s (%s) from session %s\n", m.name.c_str(), m.id.c_str(), p.guid.c_str());
  });
  server.on_join([](const presence::peer&, const std::string& channel, const presence::member& m) {
    std::printf("  %s joined %s\n", m.name.c_str(), channel.c_str());
  });
  server.on_leave([](const presence::peer&, const std::string& channel, const presence::member& m) {
    std::printf("  %s left %s\n", m.name.c_str(), channel.c_str());
  });
  server.on_remove_member([](const presence::peer&, const presence::member& m) {
    std::printf("- %s\n", m.name.c_str());
  });
  server.on_error([](const presence::peer& p, int code, const std::string& text,
                     const std::string& channel, const presence::member&) {
    std::printf("  error %d (%s) for %s on '%s'\n", code, text.c_str(), p.guid.c_str(),
                channel.c_str());
  });

  auto census = hub.system().spawn([&server](caf::event_based_actor* self) -> caf::behavior {
    self->delayed_send(self, std::chrono::minutes(1), tick_atom::value);
    return {[self, &server](tick_atom) {
      server.broadcast(std::to_string(server.member_count()) + " members online");
      self->delayed_send(self, std::chrono::minutes(1), tick_atom::value);
    }};
  });

  hub.on_stopped([&] {
    caf::anon_send_exit(census, caf::exit_reason::user_shutdown);
    server.stop();
  });
  hub.run();  // until Ctrl-C
}
