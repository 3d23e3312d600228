// handshake.hpp: the WebSocket opening handshake (RFC 6455 sections 4.1 and 4.2).
//
// Pure functions over the request's fields: no parser, no socket. The HTTP layer parses the
// request (with Beast's parser) and fills a handshake_request of views into it; check_request()
// names the first rule the request breaks, and the HTTP layer answers with the status that
// error maps to (400, 403 or 426 with Sec-WebSocket-Version: 13). accept_key() computes the
// Sec-WebSocket-Accept value (SHA-1 over key + GUID, base64).
//
// The client side: make_client_key() draws the request's key, check_response() names the
// first rule of section 4.1 a 101 response breaks (the client then fails the connection).
#pragma once

#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace switchboard::runtime::websocket {

struct handshake_request {
  std::string_view method;             // "GET"
  unsigned version = 11;               // HTTP version times ten
  std::string_view host;               // Host
  std::string_view upgrade;            // Upgrade
  std::string_view connection;         // Connection
  std::string_view key;                // Sec-WebSocket-Key
  std::string_view websocket_version;  // Sec-WebSocket-Version
  std::string_view protocols;          // Sec-WebSocket-Protocol (comma list, may repeat merged)
  std::string_view extensions;         // Sec-WebSocket-Extensions
  std::string_view origin;             // Origin
  bool has_hixie_keys = false;         // Sec-WebSocket-Key1/Key2: the pre-RFC draft 76
  unsigned key_count = 1;              // Sec-WebSocket-Key fields seen (at most one: 11.3.1)
};

enum class handshake_errc {
  not_get = 1,            // 400 (method other than GET)
  bad_http_version,       // 400 (older than HTTP/1.1)
  missing_host,           // 400
  no_upgrade,             // 400 (Upgrade lacks the "websocket" token)
  no_connection_upgrade,  // 400 (Connection lacks the "upgrade" token)
  bad_key,                // 400 (missing, or not base64 of 16 bytes)
  unsupported_version,    // 426 with Sec-WebSocket-Version: 13
  draft_hixie76,          // 400 (draft-76 handshake; not supported)
  origin_not_allowed,     // 403
  // Client side: the server's 101 response (section 4.1, the client's checks 2 to 6).
  response_no_upgrade,             // Upgrade is not "websocket"
  response_no_connection_upgrade,  // Connection lacks "upgrade"
  bad_accept,                      // Sec-WebSocket-Accept does not match our key
  unexpected_subprotocol,          // a subprotocol we did not offer, or more than one
};

const std::error_category& handshake_category() noexcept;
inline std::error_code make_error_code(handshake_errc e) noexcept {
  return {static_cast<int>(e), handshake_category()};
}

// The HTTP status a failed handshake answers with.
unsigned status_for(handshake_errc e) noexcept;

// True when the request asks for a WebSocket upgrade at all (Upgrade: websocket). Requests
// that do not are plain HTTP; requests that do and fail check_request() get an error status.
bool is_upgrade(const handshake_request& r) noexcept;

// Checks every rule of section 4.2.1. An empty `allowed_origins` allows any origin; otherwise
// the Origin header must equal one entry (case-insensitive) or the request is refused.
std::error_code check_request(const handshake_request& r,
                              const std::vector<std::string>& allowed_origins = {});

// Sec-WebSocket-Accept for a client key (section 4.2.2, step 5.4).
std::string accept_key(std::string_view key);

// A fresh Sec-WebSocket-Key: 16 random bytes (OpenSSL's CSPRNG), base64 (section 4.1).
std::string make_client_key();

struct handshake_response {
  std::string_view upgrade;     // Upgrade
  std::string_view connection;  // Connection
  std::string_view accept;      // Sec-WebSocket-Accept
  std::string_view protocol;    // Sec-WebSocket-Protocol ("" when absent)
};

// Checks a 101 response to a request that sent `key` and offered `protocols`.
std::error_code check_response(const handshake_response& r, std::string_view key,
                               const std::vector<std::string>& protocols);

// Splits a comma-separated header list into trimmed, non-empty elements (RFC 7230 #rule).
std::vector<std::string_view> split_list(std::string_view list);

// Case-insensitive ASCII comparison, and "does the comma list contain this token".
bool iequals(std::string_view a, std::string_view b) noexcept;
bool list_contains(std::string_view list, std::string_view token) noexcept;

}  // namespace switchboard::runtime::websocket

template <>
struct std::is_error_code_enum<switchboard::runtime::websocket::handshake_errc> : std::true_type {};
