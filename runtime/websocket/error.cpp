#include "runtime/websocket/error.hpp"

#include "runtime/websocket/rfc6455.hpp"

#include <string>

namespace switchboard::runtime::websocket {
namespace {

struct category final : std::error_category {
  const char* name() const noexcept override { return "websocket"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::bad_opcode:
        return "reserved opcode";
      case errc::reserved_bits_set:
        return "reserved bits set without a negotiated extension";
      case errc::unmasked_client_frame:
        return "client frame is not masked";
      case errc::masked_server_frame:
        return "server frame is masked";
      case errc::fragmented_control:
        return "control frame is fragmented";
      case errc::control_too_long:
        return "control frame payload exceeds 125 bytes";
      case errc::non_minimal_length:
        return "payload length is not minimally encoded";
      case errc::length_msb_set:
        return "64-bit payload length has its high bit set";
      case errc::unexpected_continuation:
        return "continuation frame without a message";
      case errc::expected_continuation:
        return "new message before the last one finished";
      case errc::message_too_big:
        return "message exceeds the maximum size";
      case errc::invalid_utf8:
        return "invalid UTF-8 in text";
      case errc::bad_close_payload:
        return "close frame payload of one byte";
      case errc::bad_close_code:
        return "close code not allowed on the wire";
    }
    return "unknown websocket error";
  }
};

}  // namespace

const std::error_category& websocket_category() noexcept {
  static const category instance;
  return instance;
}

std::uint16_t close_code_for(errc e) noexcept {
  switch (e) {
    case errc::invalid_utf8:
      return close_code::invalid_payload;
    case errc::message_too_big:
      return close_code::message_too_big;
    default:
      return close_code::protocol_error;
  }
}

}  // namespace switchboard::runtime::websocket
