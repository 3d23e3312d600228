#include "actors/channel.hpp"

#include "runtime/server.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>

#include <unordered_map>
#include <vector>

namespace switchboard::actors {
namespace {

struct channel_state {
  std::string channel_name;
  runtime::server* server = nullptr;
  std::unordered_map<connection_id, runtime::connection_ptr> subscribers;
  // Subscribers as a list for fan-out, rebuilt only after the set changed.
  std::vector<runtime::connection_ptr> targets;
  bool targets_stale = false;
  static inline const char* name = "channel";
};

channel_actor::behavior_type channel(channel_actor::stateful_pointer<channel_state> self,
                                     std::string name, runtime::server* server) {
  self->state.channel_name = std::move(name);
  self->state.server = server;
  return {
      [self](subscribe_atom, const runtime::connection_ptr& c) {
        if (self->state.subscribers.emplace(c->id(), c).second) self->state.targets_stale = true;
      },
      [self](unsubscribe_atom, connection_id id) {
        if (self->state.subscribers.erase(id) > 0) self->state.targets_stale = true;
      },
      [self](publish_atom, const runtime::shared_buffer& frame) {
        auto& s = self->state;
        if (s.targets_stale) {
          s.targets.clear();
          for (const auto& [id, c] : s.subscribers)
            s.targets.push_back(c);
          s.targets_stale = false;
        }
        if (!s.targets.empty()) s.server->fanout(s.targets, frame);
      },
      [self](count_atom) -> std::uint64_t { return self->state.subscribers.size(); },
  };
}

}  // namespace

channel_actor spawn_channel(caf::actor_system& system, std::string name, runtime::server& server) {
  return system.spawn(channel, std::move(name), &server);
}

}  // namespace switchboard::actors
