// sgc_actors: application actors composed with the default sgc protocol.
//
//   build/bin/sgc_actors 127.0.0.1:9000
//   then, with any sgc client (offer subprotocol esegece.com at ws://127.0.0.1:9000/sgc),
//   subscribe to "prices" and to "chat.lobby", and publish to "chat.lobby".
//
// Three actors: a ticker publishes a price to "prices" every second; a moderator sees every
// client publish to "chat.*" before fan-out, masks a word and drops shouting; an audit actor
// subscribed to "chat.lobby" logs what the room really saw, with its sequence numbers.
#include "actors/hub.hpp"
#include "protocols/sgc/server.hpp"

#include <caf/event_based_actor.hpp>

#include <cctype>
#include <cstdio>
#include <memory>
#include <string>

namespace sb = switchboard::actors;
namespace sgc = switchboard::protocols::sgc;
using tick_atom = caf::atom_constant<caf::atom("tick")>;

int main(int argc, char** argv) {
  sb::hub_options options;
  if (argc > 1) options.server.bindings = {switchboard::runtime::parse_binding(argv[1])};
  sb::hub hub(options);
  sgc::server protocol(hub.system(), hub.server());
  protocol.attach("/sgc");

  auto ticker = hub.system().spawn([&protocol](caf::event_based_actor* self) -> caf::behavior {
    self->send(self, tick_atom::value, 0);
    return {[self, &protocol](tick_atom, int n) {
      protocol.publish(R"({"sym":"EURUSD","px":)" + std::to_string(1.08 + (n % 10) / 1000.0) + "}",
                       "prices", sgc::queue_level::level1);  // late subscribers get the last
      self->delayed_send(self, std::chrono::seconds(1), tick_atom::value, n + 1);
    }};
  });

  auto moderator = hub.system().spawn([&protocol](caf::event_based_actor*) -> caf::behavior {
    return {[&protocol](sgc::moderate_atom, const std::string& channel, std::string json,
                        const std::string& publisher, std::uint8_t queue) {
      std::size_t upper = 0;
      for (char c : json)
        upper += std::isupper(static_cast<unsigned char>(c)) ? 1 : 0;
      if (json.size() > 8 && upper * 2 > json.size()) {
        std::printf("moderator: dropped a shout from %s\n", publisher.c_str());
        return;
      }
      for (auto at = json.find("darn"); at != std::string::npos; at = json.find("darn"))
        json.replace(at, 4, "****");
      protocol.publish_json(json, channel, static_cast<sgc::queue_level>(queue));
    }};
  });
  protocol.moderate("chat.*", moderator);

  auto audit = hub.system().spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](sgc::event_atom, const std::string& channel, const std::string& json,
               std::uint64_t sequence) {
      std::printf("audit: %s #%llu %s\n", channel.c_str(),
                  static_cast<unsigned long long>(sequence), json.c_str());
    }};
  });
  protocol.subscribe_actor("chat.lobby", audit);

  hub.on_stopped([&] {
    for (const auto& a : {ticker, moderator, audit})
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    protocol.stop();
  });
  hub.run();  // until Ctrl-C
}
