// codec.hpp: the default sgc protocol (subprotocol token `esegece.com`), JSON-RPC 2.0 with the
// sgc extensions: typed messages, a bounded decoder, and one encoder per message. Sans-I/O.
//
// Spec: spec/sgc-protocols.md sections 1 and 2 (the sgcWebSockets 2025.2 manual, wire shapes
// rebuilt from the ~2022 sources), JSON-RPC 2.0 (jsonrpc.org/specification), RFC 8259 (JSON).
// What this file owns: turning one WebSocket text message into one typed message and back.
// Sessions, subscriptions, QoS stores, queues and transactions belong to the server handler;
// this file has no I/O, clock, logging, Asio or CAF.
//
// The envelope (2.1). Every message is one JSON object; the encoders write its members in the
// order the original writes them (1.4), without spaces:
//
//   {"jsonrpc":"2.0", <body>, ["qos":"qosLevelN",] ["id":<id>]}
//   <body> = "method":"<name>"[,"params":<value>]       a request or a notification
//          | "result":<value>                            a response, or an sgc push/ack:
//                                                        "result":{"method":"sgc@...",...}
//          | "error":{"code":<int>,"message":"<text>"[,"data":<value>]}
//
// Messages (2.2), by what they look like on the wire. Client to server (request-shaped unless
// noted; the sgc@ methods carry their members in a params object):
//
//   sgc@subscribe, sgc@unsubscribe   channel                 subscribe, unsubscribe
//   sgc@unsubscribe_all              -                       unsubscribe_all
//   sgc@publish                      message, channel, queue publish
//   sgc@broadcast                    message, channel        broadcast
//   sgc@message                      message                 plain_message (also the server's
//                                                            WriteData, which is request-shaped)
//   sgc@session, sgc@protocol        -                       session_request, protocol_request
//   sgc@transaction/commit/rollback  channel                 transaction, commit, rollback
//   sgc@pubrel                       - (id required)         pubrel
//   "result":{"method":"sgc@acknowledgment"} (id required)   acknowledgment (both directions)
//   any other method                 params as given         rpc_request (with an id),
//                                                            notification (without)
// Server to client (result-shaped):
//   sgc@session {message: guid}, sgc@event {channel, message}, sgc@message {channel, message},
//   sgc@subscribe / sgc@unsubscribe {channel}, sgc@pubrec (id required): session, event,
//   broadcast_message, subscribed, unsubscribed, pubrec; any other result: rpc_result; an
//   error: rpc_error; and the bare text `esegece.com` (not JSON, the answer to sgc@protocol):
//   protocol_reply.
//
// Field rules, and the choices made where the manual is silent:
//   - qos lives in two places (2.1): params.qos (result.qos for result-shaped messages) is
//     read first, the top-level "qos" second; a message struct holds the effective level.
//     Encoders write it at the top level, and inside params too for the sgc@ requests (as the
//     Delphi client does), so a Delphi message re-encodes to its own bytes.
//   - ids keep their JSON type (string, number or null) and their exact token: the decoder
//     hands back the token's text, the encoders write it verbatim. (The original always
//     answers with a string; 2.1 [D].) No id member and "id":null are different things.
//   - payloads (publish and broadcast "message", RPC "params" and "result", error "data") are
//     raw_json: the exact text of one JSON value, never re-serialised, so numbers keep every
//     digit. sgc embeds text that looks like JSON raw (1.4); text from an application becomes
//     a payload through text_payload(), which embeds it raw only when it is a JSON object or
//     array and quotes it otherwise (1.4 [D]).
//   - the members the codec reads from params of sgc@ methods are checked (type, required,
//     unique) and a violation is -32602; RPC params and results belong to the application and
//     are only looked into for "qos" and "channel" (the transaction key of 2.10), which count
//     when they occur once with the right type and are ignored otherwise. Unknown members are
//     ignored everywhere.
//   - a result object naming an sgc@ push must have that push's members (bad_result
//     otherwise), except that "sgc@event" with an id is an RPC result: events never carry an
//     id, and the original routes such a result to OnEvent (2.2, routing consequences).
//   - include/exclude lists exist only in the server API (Publish, Broadcast: comma lists of
//     connection GUIDs, 1.2 and 2.5), not on the wire, so no message carries them.
//   - the event may carry a "sequence" member (an unsigned integer inside result, after
//     message): this project's extension for numbered channel history. It is written only
//     when the caller gives one, so an event without it is byte-identical to the original's.
//
// Limits (decode_options): a text longer than max_message_size (default 1 MiB) is refused
// before any parsing; nesting deeper than max_depth (default 64; the envelope is depth 1) stops
// the parser as soon as it is reached. RapidJSON parses iteratively (kParseIterativeFlag: no
// recursion) with UTF-8 validation, through a SAX handler that records only the members named
// above; nothing is built for the rest of the document. Any input, valid or not, gives a
// decode_result: on network input decode() never asserts or reads out of bounds, and throws
// nothing but std::bad_alloc.
//
// Errors are errc values (std::error_code, category "sgc") naming the broken rule;
// jsonrpc_code_for() gives the JSON-RPC code to answer with: -32700 (not JSON), -32600 (not a
// valid request: envelope, limits) or -32602 (bad params of an sgc@ method). -32601 is the
// dispatcher's: the decoder hands any method it does not know over as rpc_request or
// notification, by name. Whether to answer (the original never does; 2.12 [D] strict mode)
// is the server's choice.
//
// Thread safety: none needed; every function is pure, a decode_result belongs to its caller.
// Hot path: decode() once per received message, encode_event() once per publish (the text is
// shared by every subscriber, STYLE.md item 8). RapidJSON's work stack (the open containers
// and the string or number being read) lives in a 2 KiB buffer on the C++ stack, so decode()
// allocates nothing while the longest string in the message is under about 1.5 KiB and the
// strings it reads (method, channel, ...) have no escapes (measured: a 2 KB publish, no
// allocation; 3 KB, one; an escaped channel, two). Encoders append to the caller's string;
// encode_event(const event&) allocates exactly once. No benchmark in tests/bench/ yet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <variant>
#include <vector>

namespace switchboard::protocols::sgc {

// The Sec-WebSocket-Protocol token (1.1), and the raw-text answer to sgc@protocol (2.2).
inline constexpr std::string_view subprotocol = "esegece.com";

// ---- Errors ---------------------------------------------------------------------------------

enum class errc {
  // Limits, checked before and while parsing.
  message_too_large = 1,  // the text is longer than max_message_size: -32600
  too_deep,               // objects and arrays nested deeper than max_depth: -32600
  // RFC 8259.
  invalid_json,  // not exactly one well-formed JSON text in UTF-8: -32700
  // The envelope (2.1, JSON-RPC 2.0 section 4).
  not_an_object,     // the text is an array (a batch: not supported) or a scalar: -32600
  duplicate_member,  // a member the codec reads occurs twice (envelope, result, error): -32600
  bad_version,       // "jsonrpc" is missing or not "2.0": -32600
  bad_id,            // "id" is not a string, a number or null: -32600
  bad_qos,           // the top-level "qos" is not "qosLevel0", "qosLevel1" or "qosLevel2": -32600
  bad_method,        // "method" is not a string (or escapes a lone surrogate): -32600
  missing_body,      // none of "method", "result", "error": -32600
  ambiguous_body,    // more than one of them: -32600
  missing_id,        // sgc@pubrel, sgc@acknowledgment or sgc@pubrec without an id: -32600
  bad_error,         // "error" is not {"code":integer,"message":string[,"data":value]}: -32600
  bad_result,        // an sgc@ push in "result" lacks a member or has one of the wrong type: -32600
  // Params of the sgc@ methods (2.2).
  bad_params,       // params of an sgc@ method is not an object: -32602
  duplicate_param,  // a member the codec reads occurs twice in params of an sgc@ method: -32602
  missing_channel,  // sgc@subscribe, sgc@unsubscribe or sgc@publish without "channel": -32602
  bad_channel,      // "channel" is not a string (or escapes a lone surrogate): -32602
  missing_message,  // sgc@publish, sgc@broadcast or sgc@message without "message": -32602
  bad_params_qos,   // params "qos" of an sgc@ method is not a qos level: -32602
  bad_queue,        // params "queue" of sgc@publish is not a queue level: -32602
};

// Category "sgc"; default_error_condition() maps the two limits to std::errc::message_size,
// bad params to std::errc::invalid_argument and the rest to std::errc::protocol_error.
const std::error_category& sgc_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), sgc_category()};
}

// JSON-RPC 2.0 error codes (section 5.1).
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;
inline constexpr int server_error = -32000;

// The JSON-RPC code a server answers a decoding error with: -32700, -32600 or -32602.
int jsonrpc_code_for(errc e) noexcept;

// The standard text for a JSON-RPC error code ("Parse error", "Invalid Request", ...); for
// -32601 the original's "Method not found. The method does not exist / is not available."
// (2.2); "Server error" for -32099..-32000 and "" for codes the specification does not name.
std::string_view jsonrpc_error_text(int code) noexcept;

// ---- Field types ----------------------------------------------------------------------------

enum class qos_level : std::uint8_t { level0, level1, level2 };    // "qosLevel0".. (2.8)
enum class queue_level : std::uint8_t { level0, level1, level2 };  // "queueLevel0".. (2.9)

std::string_view to_string(qos_level level) noexcept;    // "qosLevel0", ...
std::string_view to_string(queue_level level) noexcept;  // "queueLevel0", ...

// A JSON-RPC id as its exact JSON token. Decoded ids are views into the decoded text.
struct request_id {
  enum class kind : std::uint8_t { none, string, number, null };
  kind type = kind::none;
  // The token as on the wire, quotes and escapes included ("\"7f3a\"", "42", "1.0e2", "null");
  // empty for none. Two ids are the same id when their tokens are byte-equal.
  std::string_view json;

  bool present() const noexcept { return type != kind::none; }

  // An id from a token, typed by its first character. Precondition (asserted): `token` is one
  // well-formed JSON string, number or null, without surrounding whitespace. For a string
  // such as a GUID, build the token with append_json_string() first.
  static request_id from_json(std::string_view token) noexcept;

  friend bool operator==(const request_id& a, const request_id& b) noexcept {
    return a.type == b.type && a.json == b.json;
  }
  friend bool operator!=(const request_id& a, const request_id& b) noexcept { return !(a == b); }
};

// A payload: one JSON value kept as its exact text (1.4). Decoded payloads are views into the
// decoded text; encoders copy `json` verbatim, so it must be one well-formed JSON value
// (asserted in debug builds). Empty `json`: absent.
struct raw_json {
  std::string_view json;

  bool present() const noexcept { return !json.empty(); }
  bool is_string() const noexcept { return !json.empty() && json.front() == '"'; }

  // What an sgc application sees (1.4): a string's characters between the quotes with the
  // escapes left in, any other value's JSON text. A view into `json`.
  std::string_view sgc_text() const noexcept;

  // The decoded text: a string unescaped, any other value's JSON text. Allocates.
  std::string text() const;

  friend bool operator==(const raw_json& a, const raw_json& b) noexcept { return a.json == b.json; }
  friend bool operator!=(const raw_json& a, const raw_json& b) noexcept { return !(a == b); }
};

// The writing rule for text an application publishes, sends or answers with (1.4 [D]): the
// text itself when it is a JSON object or array, else the text as a JSON string, assigned to
// `storage`. The result views `text` or `storage`. Precondition: `text` is UTF-8.
raw_json text_payload(std::string_view text, std::string& storage);

// True when `text` is exactly one well-formed JSON value (surrounding whitespace allowed).
bool is_json_value(std::string_view text);

// Appends `s` as a JSON string: quotes, `"` and `\` escaped, control characters as \b \f \n
// \r \t or \u00XX, everything else as is (`/` and non-ASCII unescaped: readers of the
// original accept both forms, 1.4). Precondition: `s` is UTF-8.
void append_json_string(std::string& out, std::string_view s);

// ---- Messages -------------------------------------------------------------------------------
//
// Strings (channel, method, guid, error text) are unescaped: views into the decoded text, or
// into the decode_result's own storage when the wire form had escapes. Every struct compares
// by value. `qos` is the effective level (absent when the message names none), `id` absent
// when the message has none.

// Client to server.

// sgc@subscribe; a reply per channel (2.4)
struct subscribe {
  std::string_view channel;  // one name, a comma list or a mask (2.4)
  std::optional<qos_level> qos;
  request_id id;
  friend bool operator==(const subscribe& a, const subscribe& b) noexcept {
    return std::tie(a.channel, a.qos, a.id) == std::tie(b.channel, b.qos, b.id);
  }
};

// sgc@unsubscribe
struct unsubscribe {
  std::string_view channel;
  std::optional<qos_level> qos;
  request_id id;
  friend bool operator==(const unsubscribe& a, const unsubscribe& b) noexcept {
    return std::tie(a.channel, a.qos, a.id) == std::tie(b.channel, b.qos, b.id);
  }
};

// sgc@unsubscribe_all; no reply on the wire
struct unsubscribe_all {
  std::optional<qos_level> qos;
  request_id id;
  friend bool operator==(const unsubscribe_all& a, const unsubscribe_all& b) noexcept {
    return std::tie(a.qos, a.id) == std::tie(b.qos, b.id);
  }
};

// sgc@publish (2.5)
struct publish {
  std::string_view channel;
  raw_json message;                  // required
  std::optional<queue_level> queue;  // absent: queueLevel0 (2.9)
  std::optional<qos_level> qos;
  request_id id;  // the client's QoS 1/2 message id
  friend bool operator==(const publish& a, const publish& b) noexcept {
    return std::tie(a.channel, a.message, a.queue, a.qos, a.id) ==
           std::tie(b.channel, b.message, b.queue, b.qos, b.id);
  }
};

// sgc@broadcast from a client (2.5)
struct broadcast {
  std::string_view channel;  // "" (also when absent): every connection of the protocol
  raw_json message;          // required
  std::optional<qos_level> qos;
  request_id id;
  friend bool operator==(const broadcast& a, const broadcast& b) noexcept {
    return std::tie(a.channel, a.message, a.qos, a.id) ==
           std::tie(b.channel, b.message, b.qos, b.id);
  }
};

// sgc@message, request-shaped: a client's send(text) (OnMessage on the server), and also the
// server's WriteData to one connection (2.2).
struct plain_message {
  raw_json message;  // required
  std::optional<qos_level> qos;
  request_id id;
  friend bool operator==(const plain_message& a, const plain_message& b) noexcept {
    return std::tie(a.message, a.qos, a.id) == std::tie(b.message, b.qos, b.id);
  }
};

// Any method the codec does not know, with an id (2.6).
struct rpc_request {
  std::string_view method;
  raw_json params;  // absent when the request has none
  // Derived when decoding, ignored when encoding: params.channel when params is an object
  // with exactly one member "channel" and it is a string, else "" (the transaction key, 2.10).
  std::string_view channel;
  std::optional<qos_level> qos;  // params.qos (when a qos level, once), else top-level
  request_id id;                 // present
  friend bool operator==(const rpc_request& a, const rpc_request& b) noexcept {
    return std::tie(a.method, a.params, a.channel, a.qos, a.id) ==
           std::tie(b.method, b.params, b.channel, b.qos, b.id);
  }
};

// Any method the codec does not know, without an id (2.6).
struct notification {
  std::string_view method;
  raw_json params;
  std::string_view channel;  // as in rpc_request
  std::optional<qos_level> qos;
  friend bool operator==(const notification& a, const notification& b) noexcept {
    return std::tie(a.method, a.params, a.channel, a.qos) ==
           std::tie(b.method, b.params, b.channel, b.qos);
  }
};

// sgc@session: "send me the session message again" (2.7)
struct session_request {
  std::optional<qos_level> qos;
  request_id id;
  friend bool operator==(const session_request& a, const session_request& b) noexcept {
    return std::tie(a.qos, a.id) == std::tie(b.qos, b.id);
  }
};

// sgc@transaction: start one for (connection, channel) (2.10)
struct transaction {
  std::string_view channel;  // "" when absent
  std::optional<qos_level> qos;
  request_id id;
  friend bool operator==(const transaction& a, const transaction& b) noexcept {
    return std::tie(a.channel, a.qos, a.id) == std::tie(b.channel, b.qos, b.id);
  }
};

// sgc@commit (2.10)
struct commit {
  std::string_view channel;  // "" when absent
  std::optional<qos_level> qos;
  request_id id;
  friend bool operator==(const commit& a, const commit& b) noexcept {
    return std::tie(a.channel, a.qos, a.id) == std::tie(b.channel, b.qos, b.id);
  }
};

// sgc@rollback (2.10)
struct rollback {
  std::string_view channel;  // "" when absent
  std::optional<qos_level> qos;
  request_id id;
  friend bool operator==(const rollback& a, const rollback& b) noexcept {
    return std::tie(a.channel, a.qos, a.id) == std::tie(b.channel, b.qos, b.id);
  }
};

// sgc@pubrel: release the QoS 2 message stored under id (2.8)
struct pubrel {
  std::optional<qos_level> qos;
  request_id id;  // present
  friend bool operator==(const pubrel& a, const pubrel& b) noexcept {
    return std::tie(a.qos, a.id) == std::tie(b.qos, b.id);
  }
};

// "result":{"method":"sgc@acknowledgment"}: sent by both sides for a message with an id
// (2.7). A request-shaped {"method":"sgc@acknowledgment"} decodes to it as well.
struct acknowledgment {
  std::optional<qos_level> qos;
  request_id id;  // present
  friend bool operator==(const acknowledgment& a, const acknowledgment& b) noexcept {
    return std::tie(a.qos, a.id) == std::tie(b.qos, b.id);
  }
};

// sgc@protocol; answered with protocol_reply
struct protocol_request {
  std::optional<qos_level> qos;
  request_id id;
  friend bool operator==(const protocol_request& a, const protocol_request& b) noexcept {
    return std::tie(a.qos, a.id) == std::tie(b.qos, b.id);
  }
};

// Server to client.

// result sgc@session: on connect and on request (2.7)
struct session {
  std::string_view guid;  // the connection's GUID ("message")
  std::optional<qos_level> qos;
  request_id id;  // the original sends the GUID as the id too
  friend bool operator==(const session& a, const session& b) noexcept {
    return std::tie(a.guid, a.qos, a.id) == std::tie(b.guid, b.qos, b.id);
  }
};

// result sgc@event: a publish delivered to a subscriber (2.5); no qos, no id
struct event {
  std::string_view channel;
  raw_json message;                       // required
  std::optional<std::uint64_t> sequence;  // this project's extension; absent: not written
  friend bool operator==(const event& a, const event& b) noexcept {
    return std::tie(a.channel, a.message, a.sequence) == std::tie(b.channel, b.message, b.sequence);
  }
};

// result sgc@message: a broadcast delivered (2.5)
struct broadcast_message {
  std::string_view channel;      // "" for a broadcast to everyone (also when absent)
  raw_json message;              // required
  std::optional<qos_level> qos;  // the original copies a client broadcast's qos and id here
  request_id id;
  friend bool operator==(const broadcast_message& a, const broadcast_message& b) noexcept {
    return std::tie(a.channel, a.message, a.qos, a.id) ==
           std::tie(b.channel, b.message, b.qos, b.id);
  }
};

// result sgc@subscribe: one per channel subscribed (2.4)
struct subscribed {
  std::string_view channel;
  std::optional<qos_level> qos;  // the request's, echoed
  request_id id;                 // the request's, echoed
  friend bool operator==(const subscribed& a, const subscribed& b) noexcept {
    return std::tie(a.channel, a.qos, a.id) == std::tie(b.channel, b.qos, b.id);
  }
};

// result sgc@unsubscribe (2.4)
struct unsubscribed {
  std::string_view channel;
  std::optional<qos_level> qos;
  request_id id;
  friend bool operator==(const unsubscribed& a, const unsubscribed& b) noexcept {
    return std::tie(a.channel, a.qos, a.id) == std::tie(b.channel, b.qos, b.id);
  }
};

// result sgc@pubrec: QoS 2 message stored, send sgc@pubrel (2.8)
struct pubrec {
  std::optional<qos_level> qos;
  request_id id;  // present
  friend bool operator==(const pubrec& a, const pubrec& b) noexcept {
    return std::tie(a.qos, a.id) == std::tie(b.qos, b.id);
  }
};

// Any other result: an RPC's (2.6).
struct rpc_result {
  raw_json result;               // required
  std::optional<qos_level> qos;  // result.qos (when a qos level, once), else top-level
  request_id id;                 // the request's; absent only from a broken peer
  friend bool operator==(const rpc_result& a, const rpc_result& b) noexcept {
    return std::tie(a.result, a.qos, a.id) == std::tie(b.result, b.qos, b.id);
  }
};

// An error response (2.6).
struct rpc_error {
  std::int64_t code = 0;
  std::string_view message;
  raw_json data;  // absent: not written (the original omits an empty data)
  std::optional<qos_level> qos;
  request_id id;
  friend bool operator==(const rpc_error& a, const rpc_error& b) noexcept {
    return std::tie(a.code, a.message, a.data, a.qos, a.id) ==
           std::tie(b.code, b.message, b.data, b.qos, b.id);
  }
};

// The bare text `esegece.com`, not JSON: the answer to sgc@protocol (2.2).
struct protocol_reply {
  friend bool operator==(const protocol_reply&, const protocol_reply&) noexcept { return true; }
};

using message =
    std::variant<subscribe, unsubscribe, unsubscribe_all, publish, broadcast, plain_message,
                 rpc_request, notification, session_request, transaction, commit, rollback, pubrel,
                 acknowledgment, protocol_request, session, event, broadcast_message, subscribed,
                 unsubscribed, pubrec, rpc_result, rpc_error, protocol_reply>;

// The method a message carries on the wire: "sgc@subscribe", an RPC's own name, ...; "" for
// rpc_result, rpc_error and protocol_reply.
std::string_view method_name(const message& m) noexcept;

// ---- Decoding -------------------------------------------------------------------------------

inline constexpr std::size_t default_max_message_size = 1024 * 1024;
inline constexpr std::uint16_t default_max_depth = 64;

struct decode_options {
  std::size_t max_message_size = default_max_message_size;  // bytes; longer texts: error
  std::uint16_t max_depth = default_max_depth;  // 2..1024; the envelope object is depth 1
};

// The name of the first option out of range ("max_message_size" when 0, "max_depth" outside
// 2..1024), or nullptr. For the configuration loader, which rejects bad settings by name.
const char* invalid_option(const decode_options& options) noexcept;

// One decoded message, or why there is none. Move-only; the views in `msg`, `id` and `method`
// point into the decoded text and into storage this object owns (strings that had escapes),
// so they stay valid while both live, across moves of this object.
class decode_result {
 public:
  // Whole messages in, so there is no need_more (STYLE.md item 2).
  enum kind_type : std::uint8_t { done, error };

  kind_type kind = error;
  message msg;                 // done: the message
  std::error_code error_code;  // error: an sgc::errc
  int jsonrpc_code = 0;        // error: jsonrpc_code_for(error_code)
  // error: the request's id when the text was a JSON object with a valid id (answer with it;
  // absent: answer with null, JSON-RPC section 5), and its method when it had a valid one.
  request_id id;
  std::string_view method;

  bool ok() const noexcept { return kind == done; }

 private:
  friend decode_result decode(std::string_view text, const decode_options& options);
  std::vector<std::unique_ptr<char[]>> storage_;  // unescaped strings, one block each
};

// Decodes one message (a whole WebSocket text message). Errors: every errc.
decode_result decode(std::string_view text, const decode_options& options = {});

// ---- Encoding -------------------------------------------------------------------------------
//
// Each appends one message to `out`, members in the original's order, no whitespace. Strings
// are escaped with append_json_string(); ids and payloads are copied verbatim.

void encode_subscribe(const subscribe& m, std::string& out);
void encode_unsubscribe(const unsubscribe& m, std::string& out);
void encode_unsubscribe_all(const unsubscribe_all& m, std::string& out);
void encode_publish(const publish& m, std::string& out);
void encode_broadcast(const broadcast& m, std::string& out);
void encode_plain_message(const plain_message& m, std::string& out);
void encode_rpc_request(const rpc_request& m, std::string& out);  // precondition: id present
void encode_notification(const notification& m, std::string& out);
void encode_session_request(const session_request& m, std::string& out);
void encode_transaction(const transaction& m, std::string& out);
void encode_commit(const commit& m, std::string& out);
void encode_rollback(const rollback& m, std::string& out);
void encode_pubrel(const pubrel& m, std::string& out);                  // precondition: id
void encode_acknowledgment(const acknowledgment& m, std::string& out);  // precondition: id
void encode_protocol_request(const protocol_request& m, std::string& out);
void encode_session(const session& m, std::string& out);
void encode_event(const event& m, std::string& out);
void encode_broadcast_message(const broadcast_message& m, std::string& out);
void encode_subscribed(const subscribed& m, std::string& out);
void encode_unsubscribed(const unsubscribed& m, std::string& out);
void encode_pubrec(const pubrec& m, std::string& out);  // precondition: id present
void encode_rpc_result(const rpc_result& m, std::string& out);
void encode_rpc_error(const rpc_error& m, std::string& out);
void encode_protocol_reply(const protocol_reply& m, std::string& out);  // appends esegece.com

// Any message, through the encoder of its type.
void encode(const message& m, std::string& out);

// The fan-out encoder: the whole event text in a string of exactly its size (one allocation),
// built once per publish and shared by every subscriber's transport (STYLE.md item 8):
//   {"jsonrpc":"2.0","result":{"method":"sgc@event","channel":"news","message":"Hello"}}
std::string encode_event(const event& m);

}  // namespace switchboard::protocols::sgc

template <>
struct std::is_error_code_enum<switchboard::protocols::sgc::errc> : std::true_type {};
