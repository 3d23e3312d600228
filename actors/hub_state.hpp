// hub_state.hpp: the hub's insides, shared by the hub and the connection actors (not public).
#pragma once

#include "actors/channel.hpp"
#include "actors/federation.hpp"
#include "actors/group_registry.hpp"
#include "actors/hub.hpp"
#include "runtime/server.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <atomic>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace switchboard::actors {

// The hub's handler for its WebSocket paths: turns io-thread events into actor messages.
class hub_bridge final : public runtime::websocket_handler {
 public:
  explicit hub_bridge(hub::state& s) : state_(s) {}
  void on_open(const runtime::connection_ptr& c) override;
  void on_message(const runtime::connection_ptr& c, runtime::websocket::opcode op,
                  std::string_view payload) override;
  void on_close(const runtime::connection_ptr& c, std::uint16_t code,
                std::string_view reason) override;

 private:
  hub::state& state_;
};

// /broadcast: every message received goes to every client of /broadcast (on every node when
// the hub is federated).
class broadcast_bridge final : public runtime::websocket_handler {
 public:
  broadcast_bridge(runtime::server& s, const std::atomic<hub_federation*>& f)
      : server_(s), federation_(f) {}
  void on_message(const runtime::connection_ptr& c, runtime::websocket::opcode op,
                  std::string_view payload) override;

 private:
  runtime::server& server_;
  const std::atomic<hub_federation*>& federation_;
};

struct hub::state {
  explicit state(hub_options o);

  hub_options options;
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  std::vector<std::function<void()>> on_stopped;
  std::unique_ptr<runtime::server> server;

  hub::connect_handler on_connect;
  hub::message_handler on_message;
  hub::disconnect_handler on_disconnect;
  group_removed_handler on_group_removed;

  hub_bridge bridge{*this};
  runtime::echo_handler echo;
  std::unique_ptr<broadcast_bridge> broadcaster;

  group_registry_actor registry;
  std::mutex channels_mutex;
  std::unordered_map<std::string, channel_actor> channels;
  actors::groups groups{*this};
  std::atomic<hub_federation*> federation{nullptr};
  bool started = false;
  bool stopped = false;

  // The channel actor for a name, spawned on first use.
  channel_actor channel(const std::string& name);
  // The actor of an open connection of the hub's paths, or an invalid handle.
  caf::actor actor_of(connection_id id, runtime::connection_ptr* conn = nullptr);
};

// Attached to each hub connection: its actor.
struct actor_attachment final : runtime::connection_attachment {
  explicit actor_attachment(caf::actor a) : self(std::move(a)) {}
  caf::actor self;
};

// The connection actor (connection_actor.cpp).
caf::actor spawn_connection_actor(hub::state& s, const runtime::connection_ptr& c);

}  // namespace switchboard::actors
