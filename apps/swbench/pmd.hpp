// pmd.hpp: permessage-deflate (RFC 7692) message compression for swbench --deflate, on zlib.
//
// message_deflater compresses what swbench sends: raw deflate (negative windowBits), the whole
// message then Z_SYNC_FLUSH, and the trailing 0x00 0x00 0xff 0xff removed (section 7.2.1); an
// empty message becomes the single byte 0x00 (7.2.3.6). message_inflater inflates what the
// server sends with RSV1: the payload, then the four bytes 0x00 0x00 0xff 0xff appended as a
// second input (7.2.2, no copy), into a caller's buffer, never past a size limit. A final
// block (BFINAL, 7.2.3.4) restarts the stream, with the window carried over when the context
// is taken over; a message that ends with one gets no four bytes appended. Context takeover
// is what the handshake agreed, per direction: with client_no_context_takeover our deflater
// resets after each message, with server_no_context_takeover our inflater does (deflateReset /
// inflateReset: no allocation).
//
// Windows: our deflater runs with client_max_window_bits from the response (15 when not
// stated); zlib refuses 8 for raw deflate, so 8 runs as 9, which still never references more
// than 250 bytes back (zlib keeps MIN_LOOKAHEAD, 262 bytes, out of its window), within 2^8.
// Our inflater runs with server_max_window_bits.
//
// swbench's own settings (not negotiated): level 6 and memLevel 8, zlib's defaults. They only
// change swbench's CPU time and the bytes the server inflates, not what the server has to do
// to compress. Memory per connection at
// window 15: about 262 KiB for the deflater and 39 KiB for the inflater (zlib's formula), so
// 1,000 connections hold about 300 MB in swbench.
//
// Thread safety: none; each connection owns its streams and is served by one loop.
// Hot path: compress() and inflate() run once per message each.
#pragma once

#include "apps/swbench/byte_buffer.hpp"
#include "apps/swbench/ws_client.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>

namespace switchboard::swbench {

class message_deflater {
 public:
  // Throws std::bad_alloc when zlib cannot set up its stream.
  message_deflater(int window_bits, bool no_context_takeover, int level, int mem_level);
  ~message_deflater();
  message_deflater(const message_deflater&) = delete;
  message_deflater& operator=(const message_deflater&) = delete;

  // Replaces `out` with the RSV1 payload for the message [data, data + size). False if zlib
  // failed (then the connection is unusable).
  bool compress(const std::uint8_t* data, std::size_t size, byte_buffer& out);

 private:
  struct stream;
  std::unique_ptr<stream> z_;  // z_stream must not move: it points into itself
  bool no_context_takeover_;
};

class message_inflater {
 public:
  // Throws std::bad_alloc when zlib cannot set up its stream.
  message_inflater(int window_bits, bool no_context_takeover);
  ~message_inflater();
  message_inflater(const message_inflater&) = delete;
  message_inflater& operator=(const message_inflater&) = delete;

  // Replaces `out` with the message the RSV1 payload [data, data + size) inflates to. Errors:
  // inflate_failed (not a valid stream), frame_too_big (more than max_size bytes).
  ws_errc inflate(const std::uint8_t* data, std::size_t size, byte_buffer& out,
                  std::size_t max_size);

 private:
  struct stream;
  bool restart();  // after a final block: a fresh stream, with the window when taken over

  std::unique_ptr<stream> z_;
  int window_bits_;
  bool no_context_takeover_;
};

// One connection's compression, configured from the negotiated parameters.
struct pmd_state {
  pmd_state(const deflate_params& params, int level, int mem_level)
      : tx(params.client_max_window_bits, params.client_no_context_takeover, level, mem_level),
        rx(params.server_max_window_bits, params.server_no_context_takeover) {}
  message_deflater tx;  // what we send
  message_inflater rx;  // what the server sends
};

}  // namespace switchboard::swbench
