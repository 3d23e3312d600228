// rfc6455.hpp: the WebSocket protocol's vocabulary (RFC 6455): opcodes, close codes, limits.
//
// Everything here is plain data shared by the frame codec, the handshake and the connection
// code above them. No I/O, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace switchboard::runtime::websocket {

// RFC 6455 section 5.2. Values 3-7 and 11-15 are reserved and rejected by the decoder.
enum class opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

constexpr bool is_control(opcode op) {
  return (static_cast<std::uint8_t>(op) & 0x8) != 0;
}

// Close status codes, RFC 6455 section 7.4.1 and the IANA registry.
namespace close_code {
constexpr std::uint16_t normal = 1000;
constexpr std::uint16_t going_away = 1001;
constexpr std::uint16_t protocol_error = 1002;
constexpr std::uint16_t unsupported_data = 1003;
constexpr std::uint16_t no_status = 1005;  // never on the wire: the close frame had no code
constexpr std::uint16_t abnormal = 1006;   // never on the wire: no close frame at all
constexpr std::uint16_t invalid_payload = 1007;
constexpr std::uint16_t policy_violation = 1008;
constexpr std::uint16_t message_too_big = 1009;
constexpr std::uint16_t mandatory_extension = 1010;
constexpr std::uint16_t internal_error = 1011;
constexpr std::uint16_t service_restart = 1012;
constexpr std::uint16_t try_again_later = 1013;
constexpr std::uint16_t bad_gateway = 1014;
}  // namespace close_code

// True for a code a peer may put in a close frame (section 7.4): the registered codes that are
// not reserved for local use, and the 3000-4999 ranges for libraries and applications.
constexpr bool is_valid_wire_close_code(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

// Wire limits of the protocol itself (not configuration).
constexpr std::size_t max_control_payload = 125;  // section 5.5
constexpr std::size_t max_frame_header = 14;      // 2 + 8 (64-bit length) + 4 (mask key)

}  // namespace switchboard::runtime::websocket
