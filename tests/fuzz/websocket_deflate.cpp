// websocket_deflate.cpp: libFuzzer target for permessage-deflate (runtime/websocket/deflate.hpp).
// Calls only the codec: no sockets, no Asio.
//
// Input layout:
//   byte 0   stream settings: bits 0-2 window bits - 8 (8..15), bit 3 no_context_takeover,
//            bits 4-5 inflate bound (see bounds[] below), bit 6 compression level 1 instead
//            of 6, bit 7 memLevel 8 instead of 1.
//   byte 1   local negotiation options: bit 0 server_no_context_takeover, bit 1
//            client_no_context_takeover, bits 2-4 server_max_window_bits - 8, bits 5-7
//            client_max_window_bits - 8.
//   then     the data, used three ways: as a Sec-WebSocket-Extensions value (offers for
//            negotiate_server, a response for accept_client), as the payload of a compressed
//            message (inflated twice on one stream, so the second sees the first's window),
//            and as a message to compress and inflate again.
// The codec takes whole messages, so there is no chunking byte (STYLE.md item 11 applies to
// the frame decoder's target).
//
// The invariants checked (a violation is __builtin_trap, i.e. a crash):
//   - negotiate_server: stated windows are 0 or 8..15, never above our own limits; its answer,
//     formatted, is accepted by a client that offered format_offer({}) and gives the same
//     parameters back;
//   - accept_client: an error and parameters never come together; accepted parameters,
//     formatted again, are accepted again with the same result;
//   - inflate_message: success writes at most the bound; an error leaves the string as it was
//     and is one of inflate_failed, inflate_too_big, too_many_final_blocks; the string's
//     capacity never exceeds the bound; a bounded result agrees with an unbounded one (same
//     bytes when within the bound, inflate_too_big when above it);
//   - deflate_message then inflate_message at the same window gives the message back, twice
//     in a row (the second with the first in the window unless no_context_takeover), and the
//     compressed form of an empty message is 0x00.
#include "runtime/websocket/deflate.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ws = switchboard::runtime::websocket;

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

namespace {

constexpr std::size_t bounds[4] = {16, 125, 4096, 65536};

// Far above anything 4 KiB of input can legitimately inflate to in a few steps, yet small
// enough to keep each run fast: DEFLATE's best ratio is about 1032:1.
constexpr std::size_t unbounded = std::size_t{8} << 20;

bool valid_window(std::uint8_t stated) {
  return stated == 0 || (stated >= 8 && stated <= 15);
}

void check_negotiation(std::string_view text, const ws::deflate_options& local) {
  const std::optional<ws::deflate_params> p = ws::negotiate_server(text, local);
  if (p) {
    FUZZ_CHECK(valid_window(p->server_max_window_bits));
    FUZZ_CHECK(valid_window(p->client_max_window_bits));
    FUZZ_CHECK(ws::window_bits(p->server_max_window_bits) <= local.server_max_window_bits);
    FUZZ_CHECK(p->server_no_context_takeover || !local.server_no_context_takeover);
    const ws::deflate_accept_result client = ws::accept_client(ws::format_response(*p), {});
    FUZZ_CHECK(!client.error);
    FUZZ_CHECK(client.params && *client.params == *p);
  }

  const ws::deflate_accept_result r = ws::accept_client(text, local);
  FUZZ_CHECK(!(r.error && r.params));
  if (r.params) {
    FUZZ_CHECK(valid_window(r.params->server_max_window_bits));
    FUZZ_CHECK(valid_window(r.params->client_max_window_bits));
    const ws::deflate_accept_result again =
        ws::accept_client(ws::format_response(*r.params), local);
    FUZZ_CHECK(!again.error && again.params && *again.params == *r.params);
  }
}

// Inflates `payload` twice on one stream with the bound, and twice on another without it.
void check_inflate(std::string_view payload, int bits, bool no_context_takeover,
                   std::size_t bound) {
  ws::inflater bounded(bits, no_context_takeover);
  ws::inflater open(bits, no_context_takeover);
  for (int round = 0; round < 2; ++round) {
    std::string out;
    const std::error_code ec = bounded.inflate_message(payload, out, bound);
    FUZZ_CHECK(out.capacity() <= bound);  // every bound is above the small-string buffer
    if (ec) {
      FUZZ_CHECK(out.empty());
      FUZZ_CHECK(ec == ws::deflate_errc::inflate_failed ||
                 ec == ws::deflate_errc::inflate_too_big ||
                 ec == ws::deflate_errc::too_many_final_blocks);
    } else {
      FUZZ_CHECK(out.size() <= bound);
    }

    std::string all = "prefix";  // bytes already there stay, and the bound is for new ones
    const std::error_code open_ec = open.inflate_message(payload, all, unbounded);
    FUZZ_CHECK(all.compare(0, 6, "prefix") == 0);
    if (open_ec) FUZZ_CHECK(all == "prefix");
    if (!open_ec && all.size() - 6 <= bound) {
      FUZZ_CHECK(!ec && out == std::string_view(all).substr(6));
    } else if (!open_ec) {
      FUZZ_CHECK(ec == ws::deflate_errc::inflate_too_big);
    }
    if (ec || open_ec) return;  // the streams are unusable after an error
  }
}

void check_round_trip(std::string_view message, int bits, bool no_context_takeover, int level,
                      int mem_level) {
  ws::deflater d(bits, no_context_takeover, level, mem_level);
  ws::inflater i(bits, no_context_takeover);
  for (int round = 0; round < 2; ++round) {
    std::string compressed;
    FUZZ_CHECK(!d.deflate_message(message, compressed));
    FUZZ_CHECK(!compressed.empty());
    if (message.empty()) FUZZ_CHECK(compressed == std::string(1, '\0'));
    std::string out;
    FUZZ_CHECK(!i.inflate_message(compressed, out, message.size()));
    FUZZ_CHECK(out == message);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const int bits = 8 + (data[0] & 0x07);
  const bool no_context_takeover = (data[0] & 0x08) != 0;
  const std::size_t bound = bounds[(data[0] >> 4) & 0x03];
  const int level = (data[0] & 0x40) ? 1 : 6;
  const int mem_level = (data[0] & 0x80) ? 8 : 1;

  ws::deflate_options local;
  local.server_no_context_takeover = (data[1] & 0x01) != 0;
  local.client_no_context_takeover = (data[1] & 0x02) != 0;
  local.server_max_window_bits = static_cast<std::uint8_t>(8 + ((data[1] >> 2) & 0x07));
  local.client_max_window_bits = static_cast<std::uint8_t>(8 + ((data[1] >> 5) & 0x07));

  const std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
  check_negotiation(rest, local);
  check_inflate(rest, bits, no_context_takeover, bound);
  check_round_trip(rest, bits, no_context_takeover, level, mem_level);
  return 0;
}
