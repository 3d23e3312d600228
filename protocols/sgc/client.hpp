// client.hpp: the client side of the default sgc protocol (subprotocol `esegece.com`;
// spec/sgc-protocols.md section 2, the TsgcWSPClient_sgc API of 2.11), on a
// runtime::websocket_client.
//
//   sgc::client_options o;
//   o.transport.url = "ws://127.0.0.1:8080/sgc";
//   o.transport.reconnect.enabled = true;                 // the watchdog (runtime/client.hpp)
//   sgc::client_events ev;
//   ev.on_event = [](std::string_view channel, std::string_view text, std::uint64_t seq) {...};
//   sgc::client c{o, ev};
//   c.subscribe("news");                                   // sent once open, and on reconnect
//   c.connect();
//   c.publish("Hello", "news", sgc::queue_level::level2, sgc::qos_level::level2);
//   auto reply = c.rpc("sum", "[1,2]").get();              // not from an event handler
//
// What it owns: one io thread (an io_pool of one worker, as runtime::blocking_client), the
// websocket_client on it, and the protocol state, touched on that thread only:
//   - the subscriptions the application asked for (names and patterns, comma lists split),
//     each name with the last event sequence seen on it;
//   - the QoS list (2.8): publishes with qos level 1 or 2 not acknowledged yet;
//   - the RPCs waiting for their result or error (2.6), by id.
// Messages are built with codec.hpp's encoders and read with its decoder.
//
// Protocol behaviour, in the original client's terms (2.2-2.10):
//   - ids are fresh GUIDs (8-4-4-4-12 upper-case hex), sent as JSON strings;
//   - the session, RPC results and RPC errors that carry an id are acknowledged (2.7);
//   - QoS 1: the publish carries an id and stays in the QoS list until the server's ACK; QoS 2:
//     PUBLISH, the server's PUBREC, then PUBREL until the ACK. Every qos_interval the items
//     older than qos_timeout (counted from their first send, not refreshed: 2.8) are sent
//     again: a QoS 1 or unreleased QoS 2 item as its PUBLISH, a released QoS 2 item as its
//     PUBREL. A publish with qos level 1 or 2 made while the connection is down waits in the
//     list and goes out when it opens.
//   - on every open (the first and each reconnect of the watchdog, connect_info::reconnected)
//     the client subscribes again to every name and pattern, one request per name, adding
//     params "since" (the last sequence seen on that name) when it saw one, so the server
//     replays what was missed (protocols/sgc/README.md, "recovery since a sequence"); then it
//     sends every item of the QoS list again as its PUBLISH (a QoS 2 item goes through PUBREC
//     and PUBREL again: the server's completed-id window makes the delivery exactly once).
//     A confirmation with "recovered":false fires on_gap: the history did not reach back and
//     the application must resync the channel its own way.
//   - RPCs are not re-sent: a call still waiting when the connection ends gets an rpc_reply
//     with code rpc_disconnected (the server keys RPC ids by connection, so no answer can come
//     on the next one), and a call made while the connection is down gets it at once.
//   - the server rolls back an open transaction when the connection ends (2.10); the client
//     does not start it again.
//
// Balancer: with balancer_url set, the client asks the balancer for a node before every
// attempt (on its io thread, bounded by balancer_timeout_ms) and falls back to fallback_urls
// in turn; the watchdog's delays apply between attempts as usual.
//
// Threads: every member may be called from any thread; the work is posted to the io thread,
// in call order. Events run on the io thread, one at a time; a string_view argument is valid
// during the call only. Do not wait on an rpc() future inside an event handler (the reply
// would need the same thread). A call still queued for the io thread when the client is
// destroyed never runs: its future ends with std::future_error (broken_promise).
//
// Lifetime: not copyable or movable. The destructor closes the connection (waiting up to the
// transport's close_timeout_ms for the close handshake) and joins the io thread; no event runs
// after it returns. Errors go to on_error as std::error_code: sgc::errc for a message that
// did not decode, std::errc::not_connected for a message dropped because the connection is
// down, std::errc::no_buffer_space for backpressure or a full QoS list, and the transport's
// codes for a failed connection attempt.
#pragma once

#include "protocols/sgc/codec.hpp"
#include "runtime/client.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace switchboard::protocols::sgc {

// The code of the rpc_reply a call gets when its connection ended before the answer, or was
// down when it was made. Client-side; outside the range the server answers with.
inline constexpr int rpc_disconnected = -32010;

struct client_options {
  // URL, reconnect watchdog, TLS, heartbeat... `subprotocols` is replaced by {"esegece.com"}.
  runtime::client_options transport;
  qos_level qos = qos_level::level0;              // QoS.Level: publishes without their own level
  std::chrono::milliseconds qos_interval{60000};  // QoS.Interval: the retry timer's period
  std::chrono::milliseconds qos_timeout{300000};  // QoS.Timeout: an item's age before resending
  std::size_t max_pending_qos = 10000;  // QoS 1/2 publishes awaiting their ACK; past it: refused
  decode_options codec;                 // limits on what the server sends

  // Following a load balancer (the daemon's --role balancer, cluster/balancer.hpp): before
  // each connect and reconnect, GET <balancer_url>/lb/node and connect to the node it names,
  // with the path and query of transport.url. When the balancer does not answer in
  // balancer_timeout_ms (or has no live node), the next of fallback_urls (full ws:// URLs,
  // round robin); with none, transport.url itself.
  std::string balancer_url;  // "http://127.0.0.1:8080"; "" = off
  std::vector<std::string> fallback_urls;
  std::uint32_t balancer_timeout_ms = 2000;
};

// GET <balancer_url>/lb/node: the chosen node's WebSocket base URL ("ws://127.0.0.1:8081"),
// or "" with `why` set. Blocks up to timeout_ms.
std::string ask_balancer(const std::string& balancer_url, std::uint32_t timeout_ms,
                         std::string* why = nullptr);

// One RPC's answer (2.6).
struct rpc_reply {
  std::string id;  // the request's id, a GUID
  bool ok = false;
  std::string result;     // ok: the result as JSON text ("3", "\"text\"", "{...}")
  std::int64_t code = 0;  // !ok: the error code (rpc_disconnected: no answer will come)
  std::string message;    // !ok: the error text
  std::string data;       // !ok: the error's data as JSON text, "" when absent

  // ok: the result as an sgc application sees it (raw_json::text(): a string unescaped,
  // anything else its JSON text).
  std::string result_text() const;
};

// What a subscribe confirmation said (2.4, and the "since" extension).
struct subscription_info {
  bool resumed = false;        // the request carried "since" (a resubscribe after a reconnect)
  std::uint64_t since = 0;     // resumed: the last sequence the client had seen
  std::uint64_t sequence = 0;  // resumed: the channel's last sequence on the server
  bool recovered = true;       // resumed: every event after `since` is being replayed
};

using rpc_callback = std::function<void(const rpc_reply&)>;

// All optional; all run on the io thread.
struct client_events {
  std::function<void(const runtime::connect_info&)> on_connect;  // after resubscribing
  std::function<void(std::uint16_t code, std::string_view reason)> on_disconnect;
  // The session message (2.7): on connect and after get_session().
  std::function<void(std::string_view guid)> on_session;
  // A publish delivered (sgc@event). `text`: raw_json::text() of the message; `sequence`: the
  // server's per-channel number, 0 when the event carried none.
  std::function<void(std::string_view channel, std::string_view text, std::uint64_t sequence)>
      on_event;
  // A broadcast (sgc@message result, `channel` "" for everyone) or the server's WriteData
  // (request-shaped sgc@message, `channel` "").
  std::function<void(std::string_view channel, std::string_view text)> on_message;
  std::function<void(std::string_view channel, const subscription_info&)> on_subscribed;
  std::function<void(std::string_view channel)> on_unsubscribed;
  // A resubscribe's confirmation said "recovered":false: events after `since` are missing.
  std::function<void(std::string_view channel, std::uint64_t since, std::uint64_t sequence)> on_gap;
  // Replies to calls made without a callback, and replies whose id is unknown (an error the
  // server sends for a request without an id, such as a denied subscription, has id "").
  std::function<void(const rpc_reply&)> on_rpc_result;
  std::function<void(const rpc_reply&)> on_rpc_error;
  // Every sgc@acknowledgment: a QoS publish, an RPC (acked before its answer), ...
  std::function<void(std::string_view id)> on_acknowledgment;
  std::function<void(const std::error_code& ec, const std::string& what)> on_error;
  // Every text message before it is decoded (OnRawMessage, 1.7); true: handled, stop there.
  std::function<bool(std::string_view text)> on_raw_message;
};

class client {
 public:
  // Throws runtime::config_error for a bad URL (runtime/client.hpp), a qos_interval or
  // qos_timeout below 1 ms, or a max_pending_qos of 0.
  client(client_options options, client_events events);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Connects (again, after close()); with transport.reconnect the watchdog keeps it open.
  void connect();
  // Closes and stops the watchdog. Subscriptions and the QoS list are kept for connect().
  void close(std::uint16_t code = runtime::websocket::close_code::normal, std::string reason = {});

  // --- Publish and subscribe (2.4, 2.5, 2.9) ---------------------------------------------
  // `text` as text_payload() says (raw when a JSON object or array, else a JSON string).
  // Returns the id for qos level 1 or 2 (on_acknowledgment reports it), "" for level 0.
  std::string publish(std::string_view text, std::string_view channel,
                      queue_level queue = queue_level::level0,
                      std::optional<qos_level> qos = std::nullopt);
  // `channels`: a name, a pattern ("news*") or a comma list of them. Remembered for
  // reconnects; sent now when open, else on the next open.
  void subscribe(std::string_view channels);
  void unsubscribe(std::string_view channels);
  void unsubscribe_all();  // the server sends no confirmation (2.2)
  void broadcast(std::string_view text, std::string_view channel = {});  // "": everyone
  void write(std::string_view text);                                     // sgc@message

  // --- RPC (2.6) -------------------------------------------------------------------------
  // `params` as text_payload() says; "" sends none. The reply (or rpc_disconnected) is
  // delivered once, to `done` on the io thread (null: to on_rpc_result / on_rpc_error).
  // Returns the id.
  std::string rpc(std::string_view method, std::string_view params, rpc_callback done);
  std::future<rpc_reply> rpc(std::string_view method, std::string_view params = {});
  void notify(std::string_view method, std::string_view params = {});

  // --- Session and transactions (2.7, 2.10) ----------------------------------------------
  void get_session();
  void start_transaction(std::string_view channel = {});
  void commit(std::string_view channel = {});
  void rollback(std::string_view channel = {});

  // --- State, from any thread ------------------------------------------------------------
  bool is_open() const;
  std::string session_id() const;   // the last session GUID, "" before the first
  std::size_t pending_qos() const;  // QoS 1/2 publishes not acknowledged yet

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace switchboard::protocols::sgc
