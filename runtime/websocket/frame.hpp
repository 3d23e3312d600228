// frame.hpp: the RFC 6455 frame codec, sans-I/O and zero-copy.
//
// Wire layout (section 5.2):
//
//    0                   1                   2                   3
//   |F|R|R|R| opcode|M| len7 |  extended length (0, 2 or 8 bytes)  | mask key (0 or 4) | payload
//   |I|S|S|S|  (4)  |A| (7)  |  len7 = 126 -> 16-bit, 127 -> 64-bit
//   |N|V|V|V|       |S|      |
//
// decoder turns received bytes into whole messages and control frames. It never touches a
// socket: the caller hands it a mutable buffer (it unmasks in place), gets one event per call
// and the number of bytes consumed, and calls again with the rest. Three kinds of outcome, as
// STYLE.md asks: need_more (all input absorbed, nothing complete yet), an event (a message, a
// ping, a pong or a close; `consumed` marks where the next frame starts), or an error (the
// errc names the broken rule; close_code_for() gives the close status to answer with).
//
// Memory: a partial frame header waits in a 14-byte array. A message that arrives whole in one
// buffer is returned as a view into that buffer (no copy). Only a fragmented message, or a
// frame that spans buffers, is copied into a buffer the decoder holds while that message is in
// flight; it is released when the message completes, so an idle connection holds nothing.
//
// Limits: max_message_size is checked against each frame header before its payload is read, so
// an oversized message fails at once (close 1009) instead of after buffering. Text is validated
// as UTF-8 as it arrives (fail fast, also across fragments); permessage-deflate messages (RSV1)
// are validated by the layer that inflates them.
//
// Hot path: decode() and mask() run for every received byte; see tests/bench/.
#pragma once

#include "runtime/websocket/error.hpp"
#include "runtime/websocket/rfc6455.hpp"
#include "runtime/websocket/utf8.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::runtime::websocket {

enum class role : std::uint8_t { server, client };

// XORs `size` bytes with the 4-byte masking key, starting at key position `offset % 4` (5.3).
void mask(std::uint8_t* data, std::size_t size, const std::array<std::uint8_t, 4>& key,
          std::size_t offset = 0) noexcept;

// Writes a frame header into `out` (at least max_frame_header bytes) and returns its length.
// `key` is null for an unmasked (server) frame.
std::size_t encode_header(std::uint8_t* out, opcode op, bool fin, std::uint64_t payload_size,
                          const std::array<std::uint8_t, 4>* key = nullptr,
                          bool rsv1 = false) noexcept;

// Appends a whole frame (header and payload, masked with `key` when given) to `out`.
void append_frame(std::string& out, opcode op, std::string_view payload, bool fin = true,
                  const std::array<std::uint8_t, 4>* key = nullptr, bool rsv1 = false);

// The payload of one whole unmasked frame as encode_header() wrote it (a server's shared
// frame), or an empty view when `frame` is not exactly one such frame.
std::string_view unmasked_frame_payload(std::string_view frame) noexcept;

// The payload of a close frame: the code in network order, then the UTF-8 reason, cut to fit
// the 125-byte control limit on a code point boundary. A code of 0 means "no code" (empty).
std::string encode_close_payload(std::uint16_t code, std::string_view reason);

struct decoder_options {
  role local_role = role::server;  // a server expects masked frames, a client unmasked ones
  std::uint64_t max_message_size = 16u << 20;  // bytes, summed over fragments; 0 = no limit
  bool allow_rsv1 = false;  // permessage-deflate negotiated: RSV1 marks a compressed message
  // Also report each non-final frame of an uncompressed fragmented message as it completes
  // (decode_event::fragment); the whole message still follows as decode_event::message.
  bool report_fragments = false;
};

struct decode_event {
  enum kind_type : std::uint8_t { need_more, message, fragment, ping, pong, close, error };
  kind_type kind = need_more;
  opcode op = opcode::continuation;  // for message: text or binary
  bool compressed = false;           // message had RSV1 set: payload is still deflated
  std::uint16_t close_code = 0;      // for close: the code, or 1005 when the frame had none
  errc error_code{};                 // for error
  std::size_t consumed = 0;          // input bytes used by this call
  // message, ping, pong: the payload; fragment: the frame's payload; close: the reason. Valid until
  // the next decode() call and for as long as the caller's input buffer is unchanged.
  std::string_view payload;
};

class decoder {
 public:
  explicit decoder(decoder_options options = {}) : options_(options) {}

  // Consumes bytes from [data, data + size), unmasking them in place. Returns one event.
  // After an error the decoder is unusable: the connection must be failed.
  decode_event decode(std::uint8_t* data, std::size_t size);

  // True while a fragmented message is open (between its first and final frame).
  bool in_message() const noexcept { return in_message_; }
  // Between frames with no message open: a fresh decoder with the same options would go on
  // exactly as this one (so a caller may drop it and decode the next bytes with a new one).
  bool idle() const noexcept { return header_size_ == 0 && !in_payload_ && !in_message_; }

  // Heap bytes held for messages and control frames in flight (for memory accounting and
  // tests); 0 for an idle decoder. Storage is released on the decode() call after the event
  // that used it.
  std::size_t buffered() const noexcept;

  void set_options(const decoder_options& options) noexcept { options_ = options; }
  const decoder_options& options() const noexcept { return options_; }

 private:
  decode_event read_header(std::uint8_t* data, std::size_t size);
  decode_event read_payload(std::uint8_t* data, std::size_t size);
  decode_event fail(errc e, std::size_t consumed);
  decode_event finish_control(std::string_view payload, std::size_t consumed);

  decoder_options options_;

  // Frame being read.
  std::array<std::uint8_t, max_frame_header> header_{};  // a header cut across buffers
  std::uint8_t header_size_ = 0;                         // bytes of it held in header_
  bool in_payload_ = false;                              // header parsed, payload bytes still due
  bool frame_fin_ = false;                               // FIN of the current frame
  opcode frame_op_{};                                    // opcode of the current frame
  bool frame_masked_ = false;                            // the current frame carries a mask key
  std::array<std::uint8_t, 4> mask_key_{};
  std::uint64_t frame_remaining_ = 0;  // payload bytes of the current frame still due
  std::uint64_t frame_offset_ = 0;     // payload bytes of the current frame already seen
  std::size_t frame_start_ = 0;        // where the current data frame begins in message_

  // Data message being assembled.
  bool in_message_ = false;  // a fragmented message is open
  opcode message_op_{};      // text or binary
  bool message_compressed_ = false;
  std::uint64_t message_size_ = 0;  // payload bytes of the open message so far
  utf8_validator utf8_;
  std::string message_;  // assembled payload, used only when a message spans frames or buffers
  std::string control_;  // a control payload cut across buffers (at most 125 bytes)
  bool release_message_ = false;  // message_ was handed out: clear it on the next call
};

}  // namespace switchboard::runtime::websocket
