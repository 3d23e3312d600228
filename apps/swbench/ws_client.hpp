// ws_client.hpp: the client side of RFC 6455 for swbench, sans-I/O.
//
// Handshake (section 4.1): make_handshake_key() and make_handshake_request() build the GET;
// parse_handshake_response() checks status 101, Upgrade, Connection and Sec-WebSocket-Accept
// (4.2.2 item 5 / 4.1 client requirements) and rejects extensions or subprotocols we did not
// offer. Frames (5.2): encode_frame_header() and mask_copy() write client frames, always masked
// (5.3); decode_frame() reads server frames, never masked (5.1).
//
// permessage-deflate (RFC 7692), for --deflate: the request offers
// "permessage-deflate; client_max_window_bits" (we accept any window limit for our compressor),
// and parse_handshake_response() then requires the server to accept it and reads the
// parameters it answered with (section 7.1) into deflate_params; a response that declines the
// offer fails the handshake, since a benchmark asked to compress must not quietly measure
// uncompressed traffic. decode_frame() accepts RSV1 on the first frame of a data message when
// the caller says the extension is in use (section 6). The compression itself is in pmd.hpp.
//
// Why not runtime/websocket/: swbench checks the server, so it does not share the server's codec
// (a bug there would be agreed with here, and the handshake accept key in particular is computed
// independently). It is also smaller than a general codec: swbench only ever sends ASCII payloads
// it built itself, so it needs no UTF-8 validation and no per-connection decoder state.
// decode_frame() decodes one whole frame from the caller's buffer and reports need_more while the
// frame is incomplete; the caller keeps the partial frame (client_loop's spill).
//
// Results follow STYLE.md rule 2: need_more (nothing consumed), done (`consumed` bytes used), or
// error (the errc names the broken rule).
//
// Hot path: mask_copy() and decode_frame() run once per message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace switchboard::swbench {

// RFC 6455 section 5.2.
enum class ws_opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

constexpr bool is_control(ws_opcode op) {
  return (static_cast<std::uint8_t>(op) & 0x8) != 0;
}

enum class ws_errc : std::uint8_t {
  ok = 0,
  // Handshake response (section 4.1, "the client MUST fail the WebSocket Connection").
  bad_status_line,        // not "HTTP/1.1 NNN ..."
  status_not_101,         // the server refused the upgrade
  missing_upgrade,        // no "Upgrade: websocket"
  missing_connection,     // no "Connection: upgrade"
  bad_accept,             // Sec-WebSocket-Accept absent or wrong
  unrequested_extension,  // Sec-WebSocket-Extensions although we offered none
  unrequested_protocol,   // Sec-WebSocket-Protocol although we offered none
  response_too_big,       // no end of headers within max_handshake_response bytes
  // Frames (section 5).
  reserved_bits_set,    // RSV1-3 without a negotiated extension (5.2)
  bad_opcode,           // reserved opcode (5.2)
  masked_server_frame,  // a server must not mask (5.1)
  fragmented_control,   // control frame without FIN (5.5)
  control_too_big,      // control payload over 125 bytes (5.5)
  non_minimal_length,   // length not in its shortest encoding (5.2)
  frame_too_big,        // over the caller's limit
  bad_continuation,     // continuation with no message open, or a new message inside one
  // permessage-deflate (RFC 7692) and TLS.
  extension_declined,  // we offered permessage-deflate and the response does not accept it
  bad_extension,       // the response's permessage-deflate parameters break section 7.1
  inflate_failed,      // a compressed message is not a valid DEFLATE stream (7.2.2)
  deflate_failed,      // zlib failed to set up or run our compressor
  tls_failed,          // the TLS handshake or a record failed (see the connection's tls_error)
};

const char* to_string(ws_errc e) noexcept;

enum class decode_status : std::uint8_t { need_more, done, error };

constexpr std::size_t max_handshake_response = 16 * 1024;
constexpr std::size_t max_client_frame_header = 14;  // 2 + 8 (64-bit length) + 4 (mask key)
constexpr std::size_t max_control_payload = 125;

// A Sec-WebSocket-Key and the Sec-WebSocket-Accept the server must answer with (4.2.2).
struct handshake_key {
  char key[25];     // base64 of 16 random bytes, NUL-terminated
  char accept[29];  // base64(SHA-1(key + GUID)), NUL-terminated
};

// Builds a key from 128 bits of randomness and computes its expected accept value.
handshake_key make_handshake_key(std::uint64_t random_hi, std::uint64_t random_lo);

// The upgrade request for `path` on `host` (the Host header value, "host:port"), offering
// permessage-deflate when `offer_deflate` is set.
std::string make_handshake_request(const std::string& host, const std::string& path,
                                   const handshake_key& key, bool offer_deflate = false);

// What the server answered to our permessage-deflate offer (RFC 7692 section 7.1). A window not
// stated in the response is 15.
struct deflate_params {
  bool accepted = false;  // the response holds permessage-deflate
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  std::uint8_t server_max_window_bits = 15;  // the server compresses within 2^N bytes
  std::uint8_t client_max_window_bits = 15;  // we must compress within 2^N bytes
};

struct handshake_result {
  decode_status status = decode_status::need_more;
  ws_errc error = ws_errc::ok;
  std::size_t consumed = 0;  // done: bytes of the response head; frames may follow them
};

// Parses the server's response head from [data, data + size). need_more until the blank line
// arrives (an error past max_handshake_response bytes). With `deflate` null, any
// Sec-WebSocket-Extensions header is an error (we offered none); otherwise the response must
// accept the permessage-deflate offer, and *deflate receives its parameters.
handshake_result parse_handshake_response(const char* data, std::size_t size,
                                          const handshake_key& key,
                                          deflate_params* deflate = nullptr);

// Writes a masked client frame header into `out` (at least max_client_frame_header bytes) and
// returns its length. The mask key goes on the wire in the byte order it has in memory, which is
// the order mask_copy() applies it in. `rsv1` marks a compressed message (RFC 7692 section 6).
std::size_t encode_frame_header(std::uint8_t* out, ws_opcode op, bool fin,
                                std::uint64_t payload_size, std::uint32_t mask_key,
                                bool rsv1 = false) noexcept;

// dst[i] = src[i] ^ key byte (i % 4), eight bytes per step. dst and src may be equal.
void mask_copy(std::uint8_t* dst, const std::uint8_t* src, std::size_t size,
               std::uint32_t mask_key) noexcept;

struct frame_view {
  ws_opcode op = ws_opcode::continuation;
  bool fin = false;
  bool rsv1 = false;                      // compressed message (only when allowed, see below)
  const std::uint8_t* payload = nullptr;  // into the caller's buffer
  std::size_t size = 0;
};

struct frame_result {
  decode_status status = decode_status::need_more;
  ws_errc error = ws_errc::ok;
  std::size_t consumed = 0;  // done: header + payload
  frame_view frame;          // done: valid while the caller's buffer is unchanged
};

// Decodes one whole server frame from the start of [data, data + size). A header error is
// reported as soon as the header bytes are there, before the payload arrives. Payloads over
// `max_payload` fail with frame_too_big. RSV1 is accepted on text, binary and continuation
// frames when `allow_rsv1` (permessage-deflate negotiated; the caller checks that only a
// message's first frame carries it) and is an error otherwise; RSV2 and RSV3 always are.
frame_result decode_frame(const std::uint8_t* data, std::size_t size, std::size_t max_payload,
                          bool allow_rsv1 = false) noexcept;

}  // namespace switchboard::swbench
