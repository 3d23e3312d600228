// server.hpp: the server side of the default sgc protocol (subprotocol `esegece.com`;
// spec/sgc-protocols.md sections 1 and 2), attached to a route of a runtime::server.
//
//   caf::actor_system system{cfg};
//   runtime::server transport{options};
//   sgc::server sgc{system, transport};
//   sgc.attach("/sgc");                                 // answers "esegece.com" when offered
//   sgc.on_rpc("sum", [](const sgc::peer&, sgc::rpc_call call) { call.result("3"); });
//   transport.start();
//   ...
//   transport.stop();                                   // before the sgc server goes
//
// What it does, in the order of the processing pipeline (2.3):
//   - on open: the session message (the connection's GUID, generated here), then the replay
//     of channel "" (2.7, 2.9);
//   - raw-message hook (handled: stop), decode (codec.hpp); a decoding error is ANSWERED with
//     a JSON-RPC error (-32700, -32600, -32602) and the connection stays open (2.1 [D]);
//   - QoS 2 (2.8): store + PUBREC, PUBREL releases once; completed ids are remembered
//     (qos_store.hpp), so a PUBLISH+PUBREL re-sent after a lost ACK is not processed twice;
//   - every message with an id gets the ACK first (2.3 step 4.1; a publish once it is handed
//     to fan-out or stored in a transaction), then transactions (2.10),
//     then the dispatch table: subscribe/unsubscribe (comma lists, patterns), publish,
//     broadcast, sgc@message, session, protocol, RPCs and notifications (2.4-2.6).
//
// Channels (2.4, 2.5, 2.9) are actors (channel.hpp), one per name, created on first
// subscribe or on a publish with a queue level above 0, and dropped again when they have no
// direct subscriber and no retained queue (so memory follows live subscriptions). A pattern
// subscription ("news*", "news.?"; actors/pattern.hpp) also matches channels created later
// (the original expands a mask only against existing channels: 2.4 [D]). A publish to a
// pattern name goes to every existing matching channel, or to the literal name when none
// matches (2.4). A connection subscribed by name and by pattern gets each event once.
//
// Decisions where the original is silent or wrong, all [D]:
//   - before-subscribe denial, the per-connection subscription limit and an unknown method
//     are answered with a JSON-RPC error (codes below), not silence;
//   - a client sgc@broadcast is delivered as a clean sgc@message (channel, message): the
//     sender's id and qos do not leak into every copy (2.5);
//   - events carry "sequence" (per channel, from 1; channel_options::event_sequence), and a
//     subscribe may ask for what it missed with params "since" (README.md);
//   - an open transaction is rolled back when its connection closes (2.10);
//   - the QoS 2 store is server-wide, keyed by (user or peer address, id) (qos_store.hpp).
//
// Federated (set_federation, federation.hpp; the cluster's sgc_bridge sets it): publishes are
// logged cluster-wide and delivered by every node when the log hands them back (sequences are
// the cluster's), a client publish's ACK waits until the cluster has it (cluster_unavailable
// when it cannot take it), broadcasts and write() reach other nodes' connections, and an RPC
// no local handler serves is answered by the node that has one. Without a federation all of
// this is the single-node behaviour above, unchanged.
//
// Threads: configure (attach, on_*) before the runtime server starts. The hooks and RPC
// handlers run on the connection's io thread, one message at a time per connection; they must
// not block (hand slow work elsewhere and answer through rpc_call, which any thread may use).
// publish(), broadcast(), write(), clear_queue(), subscribers() and connections() are safe
// from any thread. Lifetime: the actor system and the runtime server must outlive this object,
// and the runtime server must be stopped before it is destroyed (on_close calls into it).
#pragma once

#include "protocols/sgc/atoms.hpp"
#include "protocols/sgc/codec.hpp"
#include "protocols/sgc/federation.hpp"
#include "protocols/sgc/qos_store.hpp"
#include "runtime/connection.hpp"

#include <caf/actor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::runtime {
class server;
}

namespace switchboard::protocols::sgc {

// Error codes this server answers with beyond the JSON-RPC ones (codec.hpp), in the range
// JSON-RPC 2.0 section 5.1 leaves to implementations. "data" names the channel.
inline constexpr int subscription_denied = -32001;  // the before-subscribe hook said no
inline constexpr int subscription_limit = -32002;   // max_subscriptions reached
inline constexpr int transaction_full = -32003;     // max_transaction_messages reached
// Federated (federation.hpp): the cluster is unreachable and the outbox of publishes waiting
// for it is full; the publish was not taken (no ACK).
inline constexpr int cluster_unavailable = -32004;

struct server_options {
  decode_options codec;  // max_message_size (default 1 MiB): longer texts get -32600
  // Subscriptions per connection (names and patterns together); past it: subscription_limit.
  std::size_t max_subscriptions = 1000;
  // Level 2 queue of each channel (2.9 [D]: the original keeps everything forever).
  std::size_t queue_max_count = 1000;
  std::chrono::milliseconds queue_max_age{std::chrono::hours(1)};
  bool event_sequence = true;  // write "sequence" in sgc@event (needed for "since")
  qos_store_options qos2;      // exactly-once window
  // Messages one transaction may hold; past it: transaction_full (the message is dropped).
  std::size_t max_transaction_messages = 1000;
};

// A connection as hooks see it. An RPC handler serving a call from a client of another node
// (federated) gets a peer with that client's GUID and no connection.
struct peer {
  std::string guid;  // the session id (2.7), also the include/exclude name (1.2)
  runtime::connection_ptr connection;
  // The HTTP-authenticated user ("" without a connection).
  const std::string& user() const;
};

// One RPC (2.6), answered once with result() or error() from any thread. Copyable; copies
// share the answer (the second answer is refused). Answers to a closed connection are dropped.
class rpc_call {
 public:
  rpc_call(const peer& p, std::string method, std::string params, std::string id_json);
  // A call whose answer (the encoded JSON-RPC text) goes to `sink` instead of a connection:
  // a call forwarded from another node (federated).
  using answer_sink = std::function<void(std::string text)>;
  rpc_call(std::string guid, std::string method, std::string params, std::string id_json,
           answer_sink sink);

  const std::string& guid() const noexcept;
  const std::string& method() const noexcept;
  // The params as JSON text (raw_json: what the client sent), "" when the request had none.
  const std::string& params() const noexcept;
  // The request id as its JSON token ("\"7f3a\"", "42").
  const std::string& id() const noexcept;

  // `text` is sent as the text_payload() rule says: raw when a JSON object or array, else a
  // JSON string. False when already answered or the connection is gone.
  bool result(std::string_view text);
  // `json` must be one JSON value (a number, true, ...); false when it is not.
  bool result_json(std::string_view json);
  // `text` "" means the code's standard text; `data` is sent as a JSON string when set.
  bool error(int code, std::string_view text = {}, std::string_view data = {});
  // An answer already encoded (another node's handler answered): sent as it is.
  bool answer_encoded(std::string text);

 private:
  struct state;
  bool send(std::string text);
  std::shared_ptr<state> state_;
};

class server final : public runtime::websocket_handler, public runtime::stream_handler {
 public:
  using connect_hook = std::function<void(const peer&)>;
  // True: handled, processing stops (OnRawMessage, 1.7).
  using raw_message_hook = std::function<bool(const peer&, std::string_view text)>;
  // False: deny (answered with subscription_denied). Gets each name of a comma list, and a
  // pattern as written.
  using before_subscribe_hook = std::function<bool(const peer&, const std::string& channel)>;
  using subscription_hook = std::function<void(const peer&, const std::string& channel)>;
  // sgc@message: the message as the application sees it (raw_json::text(): a string
  // unescaped, anything else its JSON text).
  using message_hook = std::function<void(const peer&, const std::string& text)>;
  // A method without an id: its name and params JSON text ("" without params).
  using notification_hook =
      std::function<void(const peer&, const std::string& method, const std::string& params)>;
  using disconnect_hook = std::function<void(const peer&, std::uint16_t code)>;
  using rpc_handler = std::function<void(const peer&, rpc_call)>;
  // False: the method is answered -32601 as if unknown (RPCAuthentication, 2.6).
  using rpc_authorizer = std::function<bool(const peer&, const std::string& method)>;

  server(caf::actor_system& system, runtime::server& transport, server_options options = {});
  ~server() override;
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // --- Before the runtime server starts ----------------------------------------------------
  // Adds a WebSocket route on `path` whose selector answers `esegece.com` when offered.
  void attach(const std::string& path);
  // Server-Sent Events (an addition, not in the original): GET <prefix><channel> streams the
  // channel's publishes to an EventSource as `id: <sequence>` and `data: <message as JSON>`;
  // a Last-Event-ID header (EventSource sends it when it reconnects) replays what was missed
  // from the channel's queue, and an event named "recovery" with data `false` says the
  // history no longer reaches back that far. The before-subscribe hook is asked first (a
  // denial answers 403). `prefix` ends with '/', e.g. "/sse/".
  void attach_sse(const std::string& prefix);
  // The selector attach() uses: "esegece.com" when offered, else "".
  static std::string select_subprotocol(const std::vector<std::string_view>& offered);

  void on_connect(connect_hook h);
  void on_raw_message(raw_message_hook h);
  void on_before_subscribe(before_subscribe_hook h);
  void on_subscribe(subscription_hook h);
  void on_unsubscribe(subscription_hook h);
  void on_message(message_hook h);
  void on_notification(notification_hook h);
  void on_disconnect(disconnect_hook h);
  void on_rpc(std::string method, rpc_handler h);
  void authorize_rpc(rpc_authorizer h);

  // --- Application actors (any thread) -----------------------------------------------------
  // Application code composes CAF actors with the protocol (messages in atoms.hpp): an actor
  // subscribed to a channel (its exact name) receives every publish to it as
  //   (event_atom, std::string channel, std::string message_json, std::uint64_t sequence)
  // and publishes, broadcasts or writes to connections with the members below, from any
  // thread. It stays subscribed until unsubscribe_actor() (which also lets an idle channel go).
  void subscribe_actor(const std::string& channel, const caf::actor& subscriber);
  void unsubscribe_actor(const std::string& channel, const caf::actor& subscriber);
  // Client publishes to a channel matching `pattern` ("chat.*") go to `moderator` instead of
  // straight to the subscribers, as
  //   (moderate_atom, std::string channel, std::string message_json, std::string guid,
  //    std::uint8_t queue_level)
  // and the moderator publishes what it lets through (as given or changed) with publish_json():
  // the original's OnBeforePublish as an actor, so filtering never blocks an io thread.
  // Server-side publishes are never diverted. The first matching pattern wins; set moderators
  // before the runtime server starts.
  void moderate(const std::string& pattern, const caf::actor& moderator);

  // --- Any thread --------------------------------------------------------------------------
  // Publish (2.5): `text` as text_payload() says; exclude/include are comma lists of GUIDs.
  void publish(std::string_view text, const std::string& channel,
               queue_level queue = queue_level::level0, std::string_view exclude = {},
               std::string_view include = {});
  // The same for a payload that is already JSON (a message_json an actor received): sent as
  // it is. False, and nothing sent, when `json` is not exactly one JSON value.
  bool publish_json(std::string_view json, const std::string& channel,
                    queue_level queue = queue_level::level0, std::string_view exclude = {},
                    std::string_view include = {});
  // Broadcast (2.5): an sgc@message to every connection of this server ("") or to the
  // subscribers of `channel`.
  void broadcast(std::string_view text, const std::string& channel = {},
                 std::string_view exclude = {}, std::string_view include = {});
  // WriteData (2.2): the request-shaped sgc@message to one connection; false when unknown.
  bool write(const std::string& guid, std::string_view text);
  // ClearQueue (2.9): true when the channel had retained events. Blocks briefly.
  bool clear_queue(const std::string& channel);
  // Connections subscribed to `channel` (by name or pattern) now. Blocks briefly.
  std::size_t subscribers(const std::string& channel);
  std::size_t connections() const;
  // Stops every channel actor (the destructor does it too). Idempotent.
  void stop();
  const server_options& options() const noexcept;

  // --- Cluster side (federation.hpp; cluster/sgc_bridge.hpp calls these) -------------------
  // Before the runtime server starts: from then on publishes, broadcasts, writes to unknown
  // GUIDs and RPCs nobody here serves go through `f`. Set once; it stays for this object's
  // life (a federation that goes away turns its members into no-ops).
  void set_federation(std::shared_ptr<federation> f);
  // Any thread. A publish the cluster could not log yet: to this node's subscribers of
  // `channel` now, without a sequence (not stored: the log stores it when it is back).
  void deliver_now(const std::string& channel, std::string payload, queue_level queue,
                   const target_filter& filter);
  // Any thread. Another node's broadcast (2.5), to this node's connections only.
  void deliver_broadcast(const std::string& channel, std::string_view payload,
                         const target_filter& filter);
  // Any thread. Another node's WriteData to a connection of this node; false when unknown.
  bool deliver_write(const std::string& guid, std::string_view payload);
  // Any thread (the handler runs on the caller's thread). Another node's client calls a
  // method: false when no handler here serves it (the caller answers -32601).
  bool serve_rpc(rpc_call call);
  // The RPC methods with a handler here, and the GUIDs of this node's connections.
  std::vector<std::string> rpc_methods() const;
  std::vector<std::string> guids() const;
  // The cluster link is back: each channel reads the log after its last sequence.
  void resync();

  // --- runtime::websocket_handler (io threads) ---------------------------------------------
  void on_open(const runtime::connection_ptr& c) override;
  void on_message(const runtime::connection_ptr& c, runtime::websocket::opcode op,
                  std::string_view payload) override;
  void on_close(const runtime::connection_ptr& c, std::uint16_t code,
                std::string_view reason) override;

  // --- runtime::stream_handler (io threads): Server-Sent Events ------------------------------
  bool on_request(const runtime::connection_ptr& c, const runtime::http_request& r,
                  runtime::http_response& response) override;
  void on_close(const runtime::connection_ptr& c) override;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace switchboard::protocols::sgc
