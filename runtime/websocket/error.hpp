// error.hpp: the WebSocket codec's error codes, one per broken rule (Beast style).
//
// Each errc names the exact rule a peer broke, for logs; close_code_for() maps it to the close
// status the connection answers with (1002 protocol error, 1007 bad UTF-8, 1009 too big), so
// callers branch on the reaction while logs keep the cause.
#pragma once

#include <cstdint>
#include <system_error>

namespace switchboard::runtime::websocket {

enum class errc {
  bad_opcode = 1,           // reserved opcode 3-7 or 11-15 (5.2)
  reserved_bits_set,        // RSV1-3 set without an extension that defines them (5.2)
  unmasked_client_frame,    // a client frame without a mask (5.1)
  masked_server_frame,      // a server frame with a mask (5.1)
  fragmented_control,       // a control frame with FIN clear (5.5)
  control_too_long,         // a control frame payload over 125 bytes (5.5)
  non_minimal_length,       // a length not in its shortest encoding (5.2)
  length_msb_set,           // a 64-bit length with its most significant bit set (5.2)
  unexpected_continuation,  // a continuation frame with no message in progress (5.4)
  expected_continuation,    // a new data frame while a fragmented message is open (5.4)
  message_too_big,          // the message exceeds the configured maximum size
  invalid_utf8,             // a text message or close reason that is not UTF-8 (8.1)
  bad_close_payload,        // a close payload of exactly one byte (5.5.1)
  bad_close_code,           // a close code that may not appear on the wire (7.4)
};

const std::error_category& websocket_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), websocket_category()};
}

// The close code a connection sends when the peer broke the rule `e`.
std::uint16_t close_code_for(errc e) noexcept;

}  // namespace switchboard::runtime::websocket

template <>
struct std::is_error_code_enum<switchboard::runtime::websocket::errc> : std::true_type {};
