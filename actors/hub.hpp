// hub.hpp: the public facade an application holds.
//
//   switchboard::actors::hub hub;                       // 127.0.0.1:8080 by default
//   hub.on_message([](auto& c, const auto& m) { c.send(m.text()); });
//   hub.run();                                          // until SIGINT / SIGTERM
//
// The hub owns the server (runtime) and the actor system (CAF). Every WebSocket connection on
// the hub's paths gets a connection actor that owns its memberships and runs the application's
// handlers one at a time, off the io threads (dispatch::actor, the default: a slow handler
// delays only its own connection). With dispatch::io_thread the handlers run on the io thread
// instead (the manual's neNoSync: fastest, but a handler must never block).
//
// Channels are server-side subscriptions: broadcast(msg, channel) reaches the connections
// subscribed to it. Groups (groups()) are named sets of connections with wildcard broadcast
// ("Room*") and a removed event when a member disconnects. Broadcasts encode the frame once
// and queue the same buffer on every target, one post per io thread.
//
// Cluster (federation.hpp): with a hub_federation set (cluster/hub_bridge.hpp does it),
// broadcast(), broadcast(text, channel), groups().broadcast() and the /broadcast endpoint
// reach the connections of every node, each once; the local_* methods are what the bridge
// calls with another node's broadcast (this node only). Group membership stays with the node
// of the connection: groups().members() and names() answer for this node (the cluster bridge
// asks every node for the cluster-wide view).
//
// Threads: set handlers and routes before start(); everything else is safe from any thread.
#pragma once

#include "actors/connection.hpp"
#include "runtime/config.hpp"
#include "runtime/http/message.hpp"

#include <caf/fwd.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::runtime {
class server;
}

namespace switchboard::actors {

enum class dispatch : std::uint8_t {
  actor,      // handlers run in the connection's actor (default)
  io_thread,  // handlers run on the connection's io thread; they must not block
};

struct hub_options {
  runtime::server_options server;
  dispatch mode = dispatch::actor;
  // WebSocket paths the application's handlers serve ("/*": every path no other route takes).
  std::vector<std::string> paths{"/*"};
  bool echo_endpoint = true;       // /echo: every message comes back with its opcode
  bool broadcast_endpoint = true;  // /broadcast: every message goes to all /broadcast clients
  std::size_t actor_threads = 0;   // CAF scheduler threads; 0 = one per hardware thread
};

class groups;
class hub_federation;

class hub {
 public:
  using connect_handler = std::function<void(connection&)>;
  using message_handler = std::function<void(connection&, const message&)>;
  using disconnect_handler =
      std::function<void(connection&, std::uint16_t code, std::string_view reason)>;

  explicit hub(hub_options options = {});
  ~hub();
  hub(const hub&) = delete;
  hub& operator=(const hub&) = delete;

  // --- Before start() ---------------------------------------------------------------------
  void on_connect(connect_handler h);
  void on_message(message_handler h);
  // After the connection is gone: `code` is the close code (1006 if the socket just ended).
  void on_disconnect(disconnect_handler h);
  // Plain HTTP route (exact path, or "/prefix/*"); runs on the io thread.
  void on_http(std::string path, runtime::http_handler h);
  // Runs in stop(), after every connection is closed and before the actor system goes: a
  // protocol attached to server() and system() ends its actors here.
  void on_stopped(std::function<void()> h);

  void start();
  // Closes every connection with 1001, waits for the close handshakes (bounded), stops.
  void stop();
  // start(), then block until SIGINT or SIGTERM, then stop().
  void run();

  // --- Any thread -------------------------------------------------------------------------
  // To one connection; false when it is not open (here).
  bool send(connection_id id, std::string_view text);
  bool send_binary(connection_id id, std::string_view data);
  bool close(connection_id id, std::uint16_t code = 1000, std::string reason = {});
  // To every connection of the hub's paths.
  void broadcast(std::string_view text);
  // To the connections subscribed to `channel`.
  void broadcast(std::string_view text, const std::string& channel);
  void subscribe(connection_id id, const std::string& channel);
  void unsubscribe(connection_id id, const std::string& channel);
  // Subscribers of a channel now (asks the channel actor; blocks briefly).
  std::size_t subscribers(const std::string& channel);

  // --- Cluster (federation.hpp) -------------------------------------------------------------
  // The bridge that carries broadcasts to the other nodes; null: this node only. The object
  // must outlive the hub or be unset first.
  void federate(hub_federation* f);
  // Another node's broadcasts, delivered here only (never passed on to the federation).
  void local_broadcast(std::string_view text);
  void local_broadcast(std::string_view text, const std::string& channel);
  void local_group_broadcast(const std::string& group_or_pattern, std::string_view text);
  // To every /broadcast client here (binary when op says so).
  void local_endpoint_broadcast(runtime::websocket::opcode op, std::string_view payload);

  actors::groups& groups();
  runtime::server& server();
  caf::actor_system& system();

  struct state;

 private:
  std::unique_ptr<state> state_;
};

// Named sets of connections (the manual's TsgcWSGroups). A connection leaves every group when
// it disconnects, and each removal fires on_removed.
class groups {
 public:
  using removed_handler = std::function<void(const std::string& group, connection_id id)>;

  explicit groups(hub::state& s) : state_(s) {}
  void add(const std::string& group, connection_id id);
  void remove(const std::string& group, connection_id id);
  // To every member of the groups the name or pattern ("Room*", "room-?") matches; a
  // connection in several matching groups receives the message once (on every node when the
  // hub is federated).
  void broadcast(const std::string& group_or_pattern, std::string_view text);
  // Members now, on this node (blocks briefly).
  std::vector<connection_id> members(const std::string& group);
  std::vector<std::string> names();
  // Runs in the group registry actor; set before start().
  void on_removed(removed_handler h);

 private:
  hub::state& state_;
};

}  // namespace switchboard::actors
