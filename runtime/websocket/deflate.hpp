// deflate.hpp: permessage-deflate (RFC 7692), sans-I/O: negotiation, deflater, inflater.
//
// What this file owns. The extension's negotiation (section 7.1) as pure functions over the
// Sec-WebSocket-Extensions value, and the payload transformation (section 7.2) as two zlib
// streams that take a whole message and append to a caller-owned std::string. It does not
// frame: the connection sets RSV1 on the first frame of a compressed message (section 6), and
// the frame decoder already reports it as decode_event::compressed. No I/O, clock or logging.
//
// Negotiation (7.1). The header is a comma list of offers (RFC 6455 section 9.1), each
// `permessage-deflate *( ";" param [ "=" ( token | quoted-string ) ] )`, whitespace allowed
// around the separators (RFC 6455's implied *LWS), a quoted value unescaped before it is read
// (RFC 7230 section 3.2.6). The parameters, each at most once:
//
//   server_no_context_takeover   no value   the server resets its compressor per message
//   client_no_context_takeover   no value   the client resets its compressor per message
//   server_max_window_bits=N     8..15      the server's LZ77 window is at most 2^N bytes
//   client_max_window_bits[=N]   8..15      offer: "I accept a limit" (a value is a hint);
//                                           response: the client's window is at most 2^N
//
// N is a decimal integer without leading zeros. The server takes the first acceptable offer;
// an offer with an unknown or repeated parameter or a bad value is skipped, not an error
// (negotiate_server). The client fails the connection on a response that breaks a rule or
// does not answer its offer (accept_client, section 7.1 and RFC 6455 section 4.1).
//
// Window bits 8. zlib (1.2.9 and later) refuses windowBits 8 for a raw deflate stream. When 8
// is negotiated for our compressor we run it with 9, as zlib itself does for its wrapped
// format, and this stays within the agreement: zlib's deflate never emits a distance above
// its window minus MIN_LOOKAHEAD (262 bytes), so a 512-byte window references at most 250
// bytes back, inside the peer's 256-byte window (tested: inflating with 8 what we deflated).
// Our inflater runs at exactly the negotiated size; zlib's inflate accepts 8. (zlib checks a
// distance against the window only where it reaches back past the current output buffer:
// into an earlier message, or across one of the inflater's output steps of 4 KiB and up.)
//
// Transformation (7.2). deflater: raw deflate (negative windowBits), Z_SYNC_FLUSH at the end of
// the message, then the trailing 0x00 0x00 0xff 0xff removed (7.2.1); an empty message is the
// single byte 0x00 (7.2.3.6). inflater: the message followed by 0x00 0x00 0xff 0xff (7.2.2),
// inflated in steps straight into the caller's string, never past max_size: a 1 KiB bomb that
// would inflate to 1 GiB stops after max_size bytes of work, and the string's capacity never
// grows past max_size. A message may contain final blocks (BFINAL, 7.2.3.4); the stream is
// restarted with its window kept, at most max_final_blocks times per message (each restart
// copies the window, so an unbounded count would let 2 input bytes cost 64 KiB of copying).
// A message must end between blocks, as the empty stored block of 7.2.1 step 2 makes it; one
// that stops inside a block is corrupt. Two leniencies for real senders: a message that ends
// right after a final block (no empty stored block after it), and an empty payload, which
// zlib-based senders produce for an empty message after a flush, are both accepted. With
// no_context_takeover negotiated for a direction, its stream is reset after each message
// (deflateReset / inflateReset: no allocation); otherwise the window carries over.
//
// Memory per connection (zlib 1.2.13, x86-64, measured through memory() below, which counts
// every block zlib allocates; zlib documents deflate as (1 << (windowBits + 2)) +
// (1 << (memLevel + 9)) plus its state, inflate as 1 << windowBits plus about 7 KiB):
//
//   deflater, window 15:  memLevel 1: 135 KiB   2: 136   4: 142   8: 262   9: 390 KiB
//   deflater, window 9:   memLevel 1:   9 KiB   8: 136 KiB
//   inflater:             window 15: 39 KiB   9: 7.6 KiB   8: 7.4 KiB
//
// So a connection compressing both ways with the defaults (window 15, memLevel 1) holds 174
// KiB once it has used both streams (301 KiB at zlib's default memLevel 8); 10,000 such
// connections hold 1.7 GiB. Streams are created on first use, so a connection that
// negotiated the extension but exchanges only uncompressed messages holds nothing.
//
// memLevel sizes the deflater's hash table (2^(memLevel+7) chains over the whole window) and
// its symbol buffer (a block every 2^(memLevel+6) symbols). At 1 the chains are long, which
// costs little on text and a lot on incompressible bytes. Measured, 1 MiB messages, g++ -O2:
//
//   level 6, memLevel 1:  JSON-like text 35 MB/s (ratio 0.159)   random bytes  1.9 MB/s
//   level 6, memLevel 8:  JSON-like text 40 MB/s (ratio 0.142)   random bytes   50 MB/s
//   level 1, memLevel 1:  JSON-like text 95 MB/s (ratio 0.219)   random bytes   12 MB/s
//   level 1, memLevel 8:  JSON-like text 182 MB/s (ratio 0.194)  random bytes   53 MB/s
//
// Random bytes also grow by 3.9% at memLevel 1 (stored blocks of 128 bytes). So with the
// memLevel 1 default, send payloads that are already compressed (images, archives, binary
// blobs) without RSV1: compression is chosen per message (section 6), the caller decides.
//
// Ways to spend less, each with its cost (figures: one 322-byte JSON message sent repeatedly,
// g++ -O2, this project's 2-core machine):
//   - A smaller window (server_max_window_bits / client_max_window_bits): 2^N bytes of history
//     instead of 32 KiB, at a worse ratio when messages repeat beyond the window.
//   - no_context_takeover: each message compresses on its own. Here 51 bytes per message
//     instead of 7 with context takeover, and 2.3 to 2.9 us to deflate instead of 1.3 to 1.5.
//     With release_after_message as well, the stream is freed after each message and set up
//     again for the next (0.2 to 0.9 us more per message to deflate, 0.1 us to inflate), so
//     an idle connection holds nothing.
//   - With server_no_context_takeover a compressed message depends on nothing but itself, so
//     one deflater per io thread (a thread_local `deflater` configured with
//     no_context_takeover) can serve every such connection on that thread, and a broadcast
//     can be compressed once for all subscribers (compress_once, STYLE.md item 8). This does
//     not hold with context takeover: each connection's stream must see exactly the messages
//     its peer saw.
//   An inflater can be shared the same way only when the peer resets per message
//   (client_no_context_takeover, seen from a server).
//
// Errors are deflate_errc values (std::error_code, category "websocket.deflate"); the client's
// negotiation failures fail the connection, data-path failures map to a close code through
// close_code_for(). A corrupt stream closes with 1007 (invalid frame payload data, what
// Autobahn expects), an inflated message above max_size with 1009.
//
// Thread safety: none. A deflater, an inflater or a deflate_state belongs to one connection
// and is used by the thread that runs it. The negotiation functions are pure.
//
// Hot path: deflater::deflate_message and inflater::inflate_message run once per compressed
// message. Neither allocates in steady state beyond growing the caller's string (the rare
// final-block restart copies the window through a temporary).
#pragma once

#include "runtime/websocket/frame.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace switchboard::runtime::websocket {

enum class deflate_errc {
  // Negotiation, client side: the response breaks a rule of section 7.1 or does not answer the
  // offer, so the client fails the connection (RFC 6455 section 4.1; no close frame is sent).
  malformed_response = 1,              // not `extension *( ";" param )` (RFC 6455 9.1)
  unexpected_extension,                // an extension that was not offered (RFC 6455 9.1)
  duplicate_extension,                 // permessage-deflate accepted twice
  unknown_parameter,                   // a parameter RFC 7692 does not define (7.1)
  duplicate_parameter,                 // a parameter given twice (7.1)
  invalid_parameter_value,             // bits not 8..15, a value on a flag, none (7.1)
  missing_server_no_context_takeover,  // offered, not accepted (7.1.1.1)
  server_window_too_large,             // above the offered limit, or missing (7.1.2.1)
  // Data path.
  inflate_failed,         // the payload is not a valid DEFLATE stream (7.2.2): close 1007
  inflate_too_big,        // the inflated message exceeds max_size: close 1009
  too_many_final_blocks,  // more BFINAL blocks in one message than allowed (7.2.3.4): 1008
  zlib_error,             // zlib could not set up a stream (out of memory): close 1011
};

const std::error_category& deflate_category() noexcept;

inline std::error_code make_error_code(deflate_errc e) noexcept {
  return {static_cast<int>(e), deflate_category()};
}

// The close code a connection sends for a data-path error (negotiation errors happen before
// the connection is open and get 1002, which is never sent).
std::uint16_t close_code_for(deflate_errc e) noexcept;

// This endpoint's configuration: what it asks for and accepts, and the local zlib settings.
// Defaults are RFC 7692's (window 15 and context takeover both ways) and memLevel 1.
struct deflate_options {
  // Server: always reset our compressor per message (added to the response unasked).
  // Client: ask the server to reset its compressor (offer server_no_context_takeover).
  bool server_no_context_takeover = false;
  // Server: ask the client to reset its compressor (added to the response; also added when
  // the client offered it). Client: reset our compressor per message and say so in the offer.
  bool client_no_context_takeover = false;
  // Server: the largest window our compressor uses (stated in the response when below 15 or
  // when the offer limits it). Client: below 15, offer server_max_window_bits with it.
  std::uint8_t server_max_window_bits = 15;
  // Server: the window we ask the client to stay within; sent only to a client whose offer
  // has client_max_window_bits (others keep 15 and are still accepted). Client: our
  // compressor's window; the offer always carries client_max_window_bits, with this value
  // when below 15.
  std::uint8_t client_max_window_bits = 15;
  int compression_level = 6;  // zlib level 0 (store) .. 9; not negotiated
  int mem_level = 1;          // zlib memLevel 1 (least memory) .. 9; not negotiated
  // With no_context_takeover for a direction: free its zlib stream after each message instead
  // of resetting it (no memory held between messages; a stream set-up per message).
  bool release_after_message = false;
  std::uint16_t max_final_blocks = 16;  // BFINAL blocks accepted per received message (7.2.3.4)
};

// The name of the first option out of range ("mem_level", ...), or nullptr when all are valid.
// For the configuration loader, which rejects bad settings by name at startup.
const char* invalid_option(const deflate_options& options) noexcept;

// The agreed parameters, as the response states them. A window of 0 means "not stated", which
// is 15 (window_bits()). Both ends build their deflate_state from this and their options.
struct deflate_params {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  std::uint8_t server_max_window_bits = 0;  // 8..15, or 0: not stated
  std::uint8_t client_max_window_bits = 0;  // 8..15, or 0: not stated

  friend bool operator==(const deflate_params& a, const deflate_params& b) noexcept {
    return a.server_no_context_takeover == b.server_no_context_takeover &&
           a.client_no_context_takeover == b.client_no_context_takeover &&
           a.server_max_window_bits == b.server_max_window_bits &&
           a.client_max_window_bits == b.client_max_window_bits;
  }
  friend bool operator!=(const deflate_params& a, const deflate_params& b) noexcept {
    return !(a == b);
  }
};

// The window a stated value means: 15 when not stated.
constexpr int window_bits(std::uint8_t stated) noexcept {
  return stated == 0 ? 15 : stated;
}

// Server (7.1): picks the first acceptable permessage-deflate offer of the request's
// Sec-WebSocket-Extensions value and returns the parameters to answer with, or nullopt when
// there is none (the connection then runs without compression; that is not an error). Offers
// of other extensions and invalid offers are skipped.
std::optional<deflate_params> negotiate_server(std::string_view offers,
                                               const deflate_options& local);

// The response's Sec-WebSocket-Extensions value for negotiated parameters, e.g.
// "permessage-deflate; server_no_context_takeover; client_max_window_bits=10".
std::string format_response(const deflate_params& params);

// Client: the offer for the request's Sec-WebSocket-Extensions, e.g.
// "permessage-deflate; client_max_window_bits".
std::string format_offer(const deflate_options& local);

struct deflate_accept_result {
  std::error_code error;                 // set: fail the connection
  std::optional<deflate_params> params;  // engaged when the server accepted the offer
};

// Client (7.1): checks the response's Sec-WebSocket-Extensions value (empty when the header
// is absent) against the offer format_offer(offered) made. No permessage-deflate in it: no
// error, no params (the server declined). A response that breaks a rule or answers something
// not offered: the error names the rule. A client_max_window_bits above the offered value is
// taken as the offered value (we never exceed what we offered).
deflate_accept_result accept_client(std::string_view response, const deflate_options& offered);

// Compresses whole messages for one direction of one connection. Not thread-safe.
class deflater {
 public:
  // window_bits 8..15 (8 runs as 9, see the file comment), level 0..9, mem_level 1..9; checked
  // by assertion (validate configuration with invalid_option). The zlib stream is created on
  // the first deflate_message().
  explicit deflater(int window_bits = 15, bool no_context_takeover = false, int level = 6,
                    int mem_level = 1, bool release_after_message = false);
  ~deflater();
  deflater(deflater&&) noexcept;
  deflater& operator=(deflater&&) noexcept;

  // Appends the compressed form of the whole message `payload` to `out`: the payload of a
  // frame with RSV1 set (or of a fragmented message's frames, RSV1 on the first only).
  // Errors: zlib_error (the stream could not be allocated; `out` is unchanged).
  std::error_code deflate_message(std::string_view payload, std::string& out);

  // Heap bytes held by the zlib stream (0 before first use and after a release).
  std::size_t memory() const noexcept;

 private:
  struct stream;
  std::unique_ptr<stream> stream_;  // created on first use; z_stream must not move
  int window_bits_;                 // as run by zlib: 9..15
  int level_;
  int mem_level_;
  bool no_context_takeover_;    // reset (or release) after each message
  bool release_after_message_;  // release instead of reset
};

// Decompresses whole messages for one direction of one connection. Not thread-safe.
class inflater {
 public:
  // window_bits 8..15: the peer's window as negotiated. The zlib stream is created on the
  // first inflate_message().
  explicit inflater(int window_bits = 15, bool no_context_takeover = false,
                    bool release_after_message = false, std::uint16_t max_final_blocks = 16);
  ~inflater();
  inflater(inflater&&) noexcept;
  inflater& operator=(inflater&&) noexcept;

  // Inflates the whole compressed message `payload` (the frames' payloads concatenated) and
  // appends the result to `out`, writing at most max_size bytes (0: no limit; pass the
  // connection's maximum message size, which the frame decoder applied to the compressed
  // size only); out.capacity() grows to at most out.size() + max_size (sizes on entry). An
  // empty payload is the empty message (zlib-based senders send nothing for it after a
  // flush; 0x00 of 7.2.3.6 is one encoding, not the only one). Errors: inflate_failed (1007),
  // inflate_too_big (1009), too_many_final_blocks (1008), zlib_error (1011). On error `out` is
  // truncated back to its size on entry and the inflater is unusable (the connection fails).
  std::error_code inflate_message(std::string_view payload, std::string& out, std::size_t max_size);

  // Heap bytes held by the zlib stream (0 before first use and after a release).
  std::size_t memory() const noexcept;

 private:
  struct stream;
  std::error_code run(std::string_view payload, std::string& out, std::size_t start,
                      std::size_t max_size);

  std::unique_ptr<stream> stream_;  // created on first use; z_stream must not move
  int window_bits_;                 // 8..15
  bool no_context_takeover_;        // reset (or release) after each message
  bool release_after_message_;      // release instead of reset
  std::uint16_t max_final_blocks_;  // BFINAL restarts allowed per message
};

// One connection's compression state: wr_ compresses what this endpoint sends, rd_ inflates
// what it receives, each configured from the negotiated parameters for its direction (ours
// are the server_* ones on a server, the client_* ones on a client) and the local options.
// Our compressor also resets per message when we offered or required that locally.
class deflate_state {
 public:
  deflate_state(role local_role, const deflate_params& params, const deflate_options& local);

  // See deflater::deflate_message.
  std::error_code deflate_message(std::string_view payload, std::string& out) {
    return wr_.deflate_message(payload, out);
  }
  // See inflater::inflate_message. The caller validates UTF-8 of a text message afterwards.
  std::error_code inflate_message(std::string_view payload, std::string& out,
                                  std::size_t max_size) {
    return rd_.inflate_message(payload, out, max_size);
  }

  std::size_t memory() const noexcept { return wr_.memory() + rd_.memory(); }

 private:
  deflater wr_;  // what we send
  inflater rd_;  // what we receive
};

// Compresses `payload` once with a fresh stream, for a broadcast to every connection whose
// negotiated parameters say our side resets per message (server_no_context_takeover for a
// server) and whose window for our side is at least the one used here (taken from `params`
// and `local` as deflate_state does). Returns the RSV1 payload; empty only when zlib could not
// allocate its stream (a compressed message is never empty). Allocates and frees a stream.
std::string compress_once(std::string_view payload, const deflate_params& params,
                          const deflate_options& local = {}, role local_role = role::server);

}  // namespace switchboard::runtime::websocket

template <>
struct std::is_error_code_enum<switchboard::runtime::websocket::deflate_errc> : std::true_type {};
