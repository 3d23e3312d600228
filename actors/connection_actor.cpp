// connection_actor.cpp: one actor per WebSocket connection of the hub's paths.
//
// It owns what the connection belongs to (channels; groups live in the registry, which it
// tells on close) and, in dispatch::actor mode, runs the application's handlers one at a time
// in message order: opened, then every text/binary message, then closed. Messages arrive from
// the connection's io thread (hub_bridge) and from any thread through the hub (subscribe).
#include "actors/hub_state.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <set>

namespace switchboard::actors {
namespace {

struct connection_state {
  runtime::connection_ptr conn;
  hub::state* owner = nullptr;
  std::set<std::string> channels;
  static inline const char* name = "connection";
};

caf::behavior connection_behavior(caf::stateful_actor<connection_state>* self,
                                  runtime::connection_ptr conn, hub::state* hub) {
  self->state.conn = std::move(conn);
  self->state.owner = hub;
  const bool in_actor = hub->options.mode == dispatch::actor;
  return {
      [self, in_actor](opened_atom) {
        auto& s = self->state;
        connection handle(s.conn);
        if (in_actor && s.owner->on_connect) s.owner->on_connect(handle);
      },
      [self](text_atom, std::string& data) {
        auto& s = self->state;
        connection handle(s.conn);
        if (s.owner->on_message)
          s.owner->on_message(handle, message(runtime::websocket::opcode::text, std::move(data)));
      },
      [self](binary_atom, std::string& data) {
        auto& s = self->state;
        connection handle(s.conn);
        if (s.owner->on_message)
          s.owner->on_message(handle, message(runtime::websocket::opcode::binary, std::move(data)));
      },
      [self](subscribe_atom, const std::string& channel) {
        auto& s = self->state;
        if (!s.conn->is_open() || !s.channels.insert(channel).second) return;
        self->send(s.owner->channel(channel), subscribe_atom::value, s.conn);
      },
      [self](unsubscribe_atom, const std::string& channel) {
        auto& s = self->state;
        if (s.channels.erase(channel) == 0) return;
        self->send(s.owner->channel(channel), unsubscribe_atom::value, s.conn->id());
      },
      [self, in_actor](closed_atom, std::uint16_t code, const std::string& reason) {
        auto& s = self->state;
        const connection_id id = s.conn->id();
        for (const auto& channel : s.channels)
          self->send(s.owner->channel(channel), unsubscribe_atom::value, id);
        self->send(s.owner->registry, remove_all_atom::value, id);
        if (in_actor && s.owner->on_disconnect) {
          connection handle(s.conn);
          s.owner->on_disconnect(handle, code, reason);
        }
        s.conn.reset();
        self->quit();
      },
  };
}

}  // namespace

caf::actor spawn_connection_actor(hub::state& s, const runtime::connection_ptr& c) {
  return s.system->spawn(connection_behavior, c, &s);
}

}  // namespace switchboard::actors
