// codec.hpp: the sgc Presence protocol (subprotocol `presence.esegece.com`): one typed message
// per WebSocket text message and back, the `sgc@b64:` value encoding, the numbered errors.
// Sans-I/O: no sockets, clocks, Asio or CAF.
//
// Spec: spec/sgc-protocols.md section 5 (wire shapes rebuilt from the ~2022 sources), 1.5 (the
// base64 option), RFC 8259 (JSON). What this file owns: text <-> message. Members, channels,
// invitations and acknowledgment timers belong to the server and the client.
//
// The envelope (5.1) is request-shaped in both directions, sections optional:
//
//   {"jsonrpc":"2.0","method":"sgc@presence@...",
//    ["member":{"id","name","info"}], ["channel":{"name"}], ["message":{"text"}],
//    ["error":{"code":<int>,"text"}], ["members":[{"id","name","info"},...]],
//    ["accept":true|false], ["id":"<ack id>"]}
//
// So a message is one flat struct (`message`) whose sections are optional, not a variant: the
// same sections mean the same thing in every method. The encoder writes the sections present,
// in the order the digest shows for that method (encode(): the order table in codec.cpp), so
// the digest's examples come out byte for byte.
//
// Field rules, and the choices made where the digest is silent:
//   - every string value may be `sgc@b64:` + base64 (1.5); the decoder decodes any value with
//     the prefix, everywhere (method and ids included), and leaves the others as they are. Its
//     base64 is the standard alphabet; padding may be missing and CR, LF, tab and space are
//     skipped (encoders that wrap lines). Anything else after the prefix, or decoded bytes that
//     are not UTF-8, is errc::bad_base64;
//   - encode(..., base64 = true) writes every string value that way except the jsonrpc value
//     (the method name included, 1.5); ack ids too;
//   - the original embeds text that looks like JSON raw (1.4), so a value may arrive as an
//     object, an array, a number or a boolean where a string is expected: the decoder keeps
//     its JSON text (null reads as ""). The encoder writes message.text and member.info raw
//     when they are a JSON object or array (and base64 is off), every other value as a string,
//     so an application's JSON payload keeps its shape (1.4 [D]);
//   - a section of the wrong type ("member":3), a members array with a non-object, an
//     error.code that is not an integer or an accept that is not a boolean is
//     errc::bad_section, and so is a string escaping a lone surrogate (not UTF-8); null for
//     any section means absent; unknown members are skipped; a
//     member the codec reads occurring twice in one object is errc::duplicate_member;
//   - a method the codec does not know decodes fine, as method::unknown with its name: the
//     server answers it with method_not_found (the connection stays open).
//
// Limits (decode_options): a text longer than max_message_size is refused before parsing;
// nesting deeper than max_depth stops the parser there. RapidJSON parses iteratively (no
// recursion), validating UTF-8, through a SAX handler that keeps only the members above.
// decode() never asserts or reads out of bounds on any input and throws only std::bad_alloc.
//
// Errors: errc values (category "presence"); protocol_error_code() gives the code the server
// answers with (codes below): -32700 not JSON, -32600 bad envelope or limits, -32602 a bad
// section or sgc@b64 value.
//
// Thread safety: every function is pure. Hot path: encode() once per fan-out (the frame is
// shared by every recipient); decode() once per received message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <unordered_set>
#include <vector>

namespace switchboard::protocols::presence {

// The Sec-WebSocket-Protocol token (1.1).
inline constexpr std::string_view subprotocol = "presence.esegece.com";
// The prefix of a base64-encoded string value (1.5).
inline constexpr std::string_view base64_prefix = "sgc@b64:";

// ---- Error codes ------------------------------------------------------------------------------

// The numbered errors of 5.2, sent in error.code (error_text() gives the exact texts).
inline constexpr int member_exists = 1;         // "Member already exists."
inline constexpr int new_member_denied = 2;     // "Create New Member request has been denied."
inline constexpr int member_not_exists = 3;     // "Member not exists."
inline constexpr int update_member_denied = 4;  // ours: member@update denied by the hook
inline constexpr int channel_not_exists = 5;    // "Channel not exists"
inline constexpr int new_channel_denied = 6;    // "Create New Channel request has been denied."
inline constexpr int subscription_denied = 10;  // "Create Subscription request has been denied."
inline constexpr int subscription_exists = 11;  // "Subscription already exists."
inline constexpr int subscription_not_exists = 12;  // "Subscription not exists."
inline constexpr int publish_denied = 20;           // "Publish Message request has been denied."
inline constexpr int send_members_denied = 30;      // "Send Members request has been denied." [D]
// Text that is not a presence message ([D]: the original ignores it). The JSON-RPC 2.0 codes,
// sent in error.code of sgc@presence@error@member@channel.
inline constexpr int parse_error = -32700;       // not JSON (or not UTF-8)
inline constexpr int invalid_request = -32600;   // not the envelope, too long, too deep
inline constexpr int method_not_found = -32601;  // a method the server does not handle
inline constexpr int invalid_params = -32602;    // a section of the wrong type, bad sgc@b64

// The text of a code above ("" for others).
std::string_view error_text(int code) noexcept;

enum class errc {
  message_too_large = 1,  // longer than max_message_size: invalid_request
  too_deep,               // nesting deeper than max_depth: invalid_request
  invalid_json,           // not one well-formed JSON text in UTF-8: parse_error
  not_an_object,          // the text is not a JSON object: invalid_request
  bad_version,            // "jsonrpc" missing or not "2.0": invalid_request
  bad_method,             // "method" missing or not a string: invalid_request
  duplicate_member,       // a member the codec reads occurs twice in one object: invalid_request
  bad_section,            // a section or field of the wrong type (see above): invalid_params
  bad_base64,             // an sgc@b64: value that is not base64 of UTF-8: invalid_params
};

const std::error_category& presence_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), presence_category()};
}

// The code the server answers a decoding error with: parse_error, invalid_request or
// invalid_params.
int protocol_error_code(errc e) noexcept;

// ---- Messages ---------------------------------------------------------------------------------

enum class method : std::uint8_t {
  session,                // server: the connection's GUID in message.text
  member_new,             // both: join the presence / a member joined
  member_remove,          // both: leave the presence / a member left
  member_update,          // both (ours): a member's name and info changed
  channel_member_new,     // both: join a channel / a member joined a channel
  channel_member_remove,  // both: leave a channel / a member left a channel
  publish_msg,            // both: publish / a publish delivered
  get_members,            // client: ask for a channel's (or everyone's) members
  send_members,           // server: the answer, in `members`
  channel_invitation,     // both: invite `members` to `channel` / an invitation
  invitation_response,    // both (ours, 5.2 [D]): the invitee's answer, `accept`
  error_member_channel,   // server: an error, in `error`
  error_publish_msg,      // server: a publish error, with the message ([D], 5.2)
  acknowledgment,         // both: the ack of a message that carried `id` (5.3)
  unknown,                // any other name (method_name says which)
};

// "sgc@presence@member@new", ...; "" for unknown.
std::string_view to_string(method m) noexcept;
method method_from_name(std::string_view name) noexcept;

struct member {
  std::string id, name, info;
  friend bool operator==(const member& a, const member& b) noexcept {
    return std::tie(a.id, a.name, a.info) == std::tie(b.id, b.name, b.info);
  }
  friend bool operator!=(const member& a, const member& b) noexcept { return !(a == b); }
};

struct error_info {
  std::int64_t code = 0;
  std::string text;
  friend bool operator==(const error_info& a, const error_info& b) noexcept {
    return a.code == b.code && a.text == b.text;
  }
};

// One message. Strings are decoded (unescaped, sgc@b64 undone). Absent sections are nullopt.
struct message {
  presence::method method = presence::method::unknown;
  std::string method_name;                 // the name as received (for unknown); "" when
                                           // encoding a known method
  std::optional<presence::member> member;  // "member"
  std::optional<std::string> channel;      // "channel":{"name"}
  std::optional<std::string> text;         // "message":{"text"}
  std::optional<error_info> error;         // "error":{"code","text"}
  std::optional<std::vector<presence::member>> members;  // "members":[...]
  std::optional<bool> accept;                            // "accept" (invitation response)
  std::optional<std::string> id;                         // "id": acknowledgment id (5.3)

  friend bool operator==(const message& a, const message& b) noexcept {
    return std::tie(a.method, a.method_name, a.member, a.channel, a.text, a.error, a.members,
                    a.accept, a.id) == std::tie(b.method, b.method_name, b.member, b.channel,
                                                b.text, b.error, b.members, b.accept, b.id);
  }
};

// ---- Decoding ---------------------------------------------------------------------------------

inline constexpr std::size_t default_max_message_size = 1024 * 1024;
inline constexpr std::uint16_t default_max_depth = 64;

struct decode_options {
  std::size_t max_message_size = default_max_message_size;
  std::uint16_t max_depth = default_max_depth;  // 2..1024; the envelope object is depth 1
};

struct decode_result {
  message msg;                 // ok(): the message
  std::error_code error_code;  // !ok(): an errc
  int code = 0;                // !ok(): protocol_error_code(error)
  bool ok() const noexcept { return !error_code; }
};

decode_result decode(std::string_view text, const decode_options& options = {});

// ---- Encoding ---------------------------------------------------------------------------------

// Appends `m` to `out`. Precondition: strings are UTF-8; method is not unknown unless
// method_name is set. `base64`: every string value but "2.0" as sgc@b64: (1.5).
void encode(const message& m, std::string& out, bool base64 = false);
std::string encode(const message& m, bool base64 = false);

// `encoded` (an encode() result) with "id":"<id>" added as its last member: the fan-out
// encodes a message once and gives each recipient its own ack id (5.3).
std::string with_id(std::string_view encoded, std::string_view id, bool base64 = false);

// The request-shaped acknowledgment of `id` (5.3).
std::string encode_acknowledgment(std::string_view id, bool base64 = false);

// ---- Acknowledgment ids ---------------------------------------------------------------------

// The ids of the last `capacity` messages received with an id (5.3): a message sent again
// because its acknowledgment was late is acknowledged again but not processed twice.
class id_window {
 public:
  explicit id_window(std::size_t capacity = 1024) : capacity_(capacity) {}
  // True when `id` is in the window; else adds it (dropping the oldest when full).
  bool seen(const std::string& id);

 private:
  std::size_t capacity_;
  std::deque<std::string> order_;
  std::unordered_set<std::string> ids_;
};

// ---- Values -----------------------------------------------------------------------------------

// "sgc@b64:" + base64(`text`) (1.5).
std::string encode_base64_value(std::string_view text);
// A value as received: without the prefix it is copied; with it, decoded. False (out
// unspecified) when the rest is not base64 of UTF-8 text.
bool decode_base64_value(std::string_view value, std::string& out);

// True when `text` is exactly one JSON object or array, without surrounding whitespace (so
// the text survives the trip as it is): the encoder then writes it raw.
bool is_json_container(std::string_view text);

// Appends `s` as a JSON string (quotes, `"` `\` and control characters escaped). Precondition:
// `s` is UTF-8.
void append_json_string(std::string& out, std::string_view s);

}  // namespace switchboard::protocols::presence

template <>
struct std::is_error_code_enum<switchboard::protocols::presence::errc> : std::true_type {};
