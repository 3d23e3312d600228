// deflate_test.cpp: tests of runtime/websocket/deflate.hpp, permessage-deflate (RFC 7692).
//
// The drills of STYLE.md item 10 for a whole-message codec: the examples of RFC 7692 section
// 7.2.3 byte for byte (deflate output where zlib produces it, inflate of every form); round
// trips of random and repetitive data from 0 bytes to 1 MiB for every window 8..15, with and
// without context takeover, several messages per stream; negotiation tables for the server
// (valid, invalid, duplicate, unknown, quoted and multiple offers) and the client (every rule
// of section 7.1 the response can break) and both sides agreeing for every pair of option
// sets; the output bound at the limit and one past it (also when the message ends exactly at
// the bound across an output step), a 64 MiB bomb against a 1 MiB bound with the output
// capacity checked; window 8 run as 9 and inflated at 8; corrupt and truncated streams;
// every deflate_errc with its message and close code; memory accounting.
#include "runtime/websocket/deflate.hpp"

#include "runtime/websocket/rfc6455.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ws = switchboard::runtime::websocket;
using ws::deflate_errc;
using ws::deflate_options;
using ws::deflate_params;

namespace {

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list)
    s.push_back(static_cast<char>(b));
  return s;
}

std::string hex(std::string_view s) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (!out.empty()) out += ' ';
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// Data that compresses like messages do: words from a small vocabulary (matches at every
// distance up to the window), with runs of random bytes mixed in when `noisy`.
std::string sample(std::size_t size, std::mt19937& rng, bool noisy) {
  static const char* const words[] = {"{\"id\":", "\"price\":", "\"qty\":",         ",",
                                      "}",        "EURUSD",     "1.0842",           " ",
                                      "channel",  "subscribe",  "\xce\xb1\xce\xb2", "42"};
  std::string s;
  s.reserve(size);
  while (s.size() < size) {
    if (noisy && rng() % 4 == 0) {
      const std::size_t n = rng() % 64;
      for (std::size_t i = 0; i < n; ++i)
        s.push_back(static_cast<char>(rng()));
    } else {
      s += words[rng() % std::size(words)];
    }
  }
  s.resize(size);
  return s;
}

std::string random_bytes(std::size_t size, std::mt19937& rng) {
  std::string s(size, '\0');
  for (char& c : s)
    c = static_cast<char>(rng());
  return s;
}

std::string deflated(ws::deflater& d, std::string_view payload) {
  std::string out;
  BOOST_REQUIRE(!d.deflate_message(payload, out));
  return out;
}

// Inflates with a fresh string and returns the error; the result goes to `out`.
std::error_code inflated(ws::inflater& i, std::string_view payload, std::string& out,
                         std::size_t max_size = 0) {
  out.clear();
  return i.inflate_message(payload, out, max_size);
}

// "none" when no offer was accepted, else the response header.
std::string server_answer(std::string_view offers, const deflate_options& local = {}) {
  const std::optional<deflate_params> p = ws::negotiate_server(offers, local);
  return p ? ws::format_response(*p) : "none";
}

deflate_options opts(bool snct, bool cnct, int smwb = 15, int cmwb = 15) {
  deflate_options o;
  o.server_no_context_takeover = snct;
  o.client_no_context_takeover = cnct;
  o.server_max_window_bits = static_cast<std::uint8_t>(smwb);
  o.client_max_window_bits = static_cast<std::uint8_t>(cmwb);
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(websocket_deflate)

// ---- RFC 7692 section 7.2.3 -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(hello_one_block_rfc7692_7_2_3_1) {
  ws::deflater d;
  const std::string c = deflated(d, "Hello");
  BOOST_TEST(hex(c) == hex(bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})));
  ws::inflater i;
  std::string out;
  BOOST_TEST(!inflated(i, c, out));
  BOOST_TEST(out == "Hello");
}

BOOST_AUTO_TEST_CASE(shared_sliding_window_rfc7692_7_2_3_2) {
  ws::deflater d;  // context takeover: the second "Hello" is a back reference
  BOOST_TEST(hex(deflated(d, "Hello")) == hex(bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})));
  BOOST_TEST(hex(deflated(d, "Hello")) == hex(bytes({0xf2, 0x00, 0x11, 0x00, 0x00})));

  ws::inflater i;
  std::string out;
  BOOST_TEST(!inflated(i, bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), out));
  BOOST_TEST(out == "Hello");
  BOOST_TEST(!inflated(i, bytes({0xf2, 0x00, 0x11, 0x00, 0x00}), out));
  BOOST_TEST(out == "Hello");

  // Without context takeover every message stands alone: the same bytes each time.
  ws::deflater fresh(15, true);
  BOOST_TEST(hex(deflated(fresh, "Hello")) == hex(deflated(fresh, "Hello")));
  // And an inflater without context cannot decode the back reference.
  ws::inflater reset(15, true);
  BOOST_TEST(!inflated(reset, bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), out));
  BOOST_TEST(inflated(reset, bytes({0xf2, 0x00, 0x11, 0x00, 0x00}), out) ==
             deflate_errc::inflate_failed);
}

BOOST_AUTO_TEST_CASE(stored_block_rfc7692_7_2_3_3) {
  ws::inflater i;
  std::string out;
  BOOST_TEST(
      !inflated(i, bytes({0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}), out));
  BOOST_TEST(out == "Hello");
  ws::deflater stored(15, false, 0);  // level 0 stores: the RFC's bytes exactly
  BOOST_TEST(hex(deflated(stored, "Hello")) ==
             hex(bytes({0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00})));
}

BOOST_AUTO_TEST_CASE(final_block_rfc7692_7_2_3_4) {
  ws::inflater i;
  std::string out;
  BOOST_TEST(!inflated(i, bytes({0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}), out));
  BOOST_TEST(out == "Hello");
  // The window survives the final block: the next message may refer back to it.
  BOOST_TEST(!inflated(i, bytes({0xf2, 0x00, 0x11, 0x00, 0x00}), out));
  BOOST_TEST(out == "Hello");
  // A sender that ends the message on the final block, without the empty stored block of
  // 7.2.1 step 2, is accepted as well, and the stream carries on.
  BOOST_TEST(!inflated(i, bytes({0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), out));
  BOOST_TEST(out == "Hello");
  BOOST_TEST(!inflated(i, bytes({0xf2, 0x00, 0x11, 0x00, 0x00}), out));
  BOOST_TEST(out == "Hello");
}

BOOST_AUTO_TEST_CASE(message_ending_in_a_final_empty_stored_block_rfc7692_7_2_1) {
  // 7.2.1 with BFINAL set on the empty stored block: the payload ends in 0x01 once 00 00 ff ff
  // is removed, and the marker the receiver appends completes that block.
  ws::inflater i;
  std::string out = "x";
  BOOST_TEST(!i.inflate_message(bytes({0x01}), out, 0));  // the empty message
  BOOST_TEST(out == "x");
  BOOST_TEST(!inflated(
      i, bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff, 0x01}), out));
  BOOST_TEST(out == "Hello");
  BOOST_TEST(!inflated(i, bytes({0xf2, 0x00, 0x11, 0x00, 0x00}), out));  // context carries on
  BOOST_TEST(out == "Hello");
}

BOOST_AUTO_TEST_CASE(two_blocks_in_one_message_rfc7692_7_2_3_5) {
  ws::inflater i;
  std::string out;
  BOOST_TEST(!inflated(
      i, bytes({0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}),
      out));
  BOOST_TEST(out == "Hello");
}

BOOST_AUTO_TEST_CASE(empty_message_rfc7692_7_2_3_6) {
  ws::deflater d;
  BOOST_TEST(hex(deflated(d, "")) == "00");
  BOOST_TEST(hex(deflated(d, "Hello")) == hex(bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})));
  BOOST_TEST(hex(deflated(d, "")) == "00");  // after a flush too (zlib alone would emit nothing)
  BOOST_TEST(d.memory() > 0);

  ws::inflater i;
  std::string out = "x";
  BOOST_TEST(!i.inflate_message(bytes({0x00}), out, 0));
  BOOST_TEST(out == "x");
  // An empty payload (what zlib-based senders produce for an empty message after a flush) is
  // the empty message too, and leaves the stream as it was.
  BOOST_TEST(!i.inflate_message("", out, 0));
  BOOST_TEST(out == "x");
  BOOST_TEST(!inflated(i, bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), out));
  BOOST_TEST(!inflated(i, "", out));
  BOOST_TEST(out.empty());
  BOOST_TEST(!inflated(i, bytes({0xf2, 0x00, 0x11, 0x00, 0x00}), out));
  BOOST_TEST(out == "Hello");
}

BOOST_AUTO_TEST_CASE(final_blocks_per_message_at_limit_and_one_past_rfc7692_7_2_3_4) {
  // Three "Hello" final blocks in one message, each followed by its padding byte.
  const std::string block = bytes({0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00});
  const std::string message = block + block + block + bytes({0x00});
  std::string out;
  ws::inflater at_limit(15, false, false, 3);
  BOOST_TEST(!inflated(at_limit, message, out));
  BOOST_TEST(out == "HelloHelloHello");
  ws::inflater past(15, false, false, 2);
  BOOST_TEST(inflated(past, message, out) == deflate_errc::too_many_final_blocks);
  BOOST_TEST(out.empty());
  BOOST_TEST(ws::close_code_for(deflate_errc::too_many_final_blocks) == 1008);
}

BOOST_AUTO_TEST_CASE(appends_to_the_callers_string) {
  ws::deflater d;
  std::string c = "head";
  BOOST_TEST(!d.deflate_message("Hello", c));
  BOOST_TEST(c.substr(0, 4) == "head");
  BOOST_TEST(hex(c.substr(4)) == hex(bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})));
  ws::inflater i;
  std::string out = "head";
  BOOST_TEST(!i.inflate_message(c.substr(4), out, 5));  // the bound counts only new bytes
  BOOST_TEST(out == "headHello");
}

// ---- Round trips ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(round_trip_every_window_and_size_rfc7692_7_2) {
  std::mt19937 rng(7692);
  const std::size_t sizes[] = {0, 1, 2, 5, 100, 255, 256, 257, 1000, 4096, 65535, 65536, 100000};
  for (int bits = 8; bits <= 15; ++bits) {
    for (const bool takeover : {true, false}) {
      BOOST_TEST_CONTEXT("window " << bits << (takeover ? " takeover" : " no takeover")) {
        ws::deflater d(bits, !takeover);
        ws::inflater i(bits, !takeover);  // exactly the negotiated window, even 8
        std::string out;
        for (std::size_t size : sizes) {
          for (const bool noisy : {false, true}) {
            const std::string m = sample(size, rng, noisy);
            const std::string c = deflated(d, m);
            BOOST_TEST_REQUIRE(!inflated(i, c, out, m.size()), "size " << size);
            BOOST_TEST_REQUIRE(out == m, "size " << size);
          }
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(round_trip_random_up_to_1mib) {
  std::mt19937 rng(1);
  for (const bool takeover : {true, false}) {
    ws::deflater d(15, !takeover, 6, 8);  // memLevel 1 deflates random bytes at 2 MB/s
    ws::inflater i(15, !takeover);
    std::string out;
    for (std::size_t size :
         {std::size_t{0}, std::size_t{1}, std::size_t{70000}, std::size_t{1} << 20}) {
      const std::string m = random_bytes(size, rng);  // incompressible: stored blocks
      BOOST_TEST_REQUIRE(!inflated(i, deflated(d, m), out));
      BOOST_TEST_REQUIRE(out == m);
      const std::string z = sample(size, rng, true);
      BOOST_TEST_REQUIRE(!inflated(i, deflated(d, z), out));
      BOOST_TEST_REQUIRE(out == z);
    }
  }
}

BOOST_AUTO_TEST_CASE(random_sizes_and_windows_in_sequence) {
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    const int bits = 8 + static_cast<int>(rng() % 8);
    const bool no_takeover = rng() % 2 != 0;
    ws::deflater d(bits, no_takeover, static_cast<int>(rng() % 10),
                   1 + static_cast<int>(rng() % 9));
    ws::inflater i(bits, no_takeover);
    std::string out;
    for (int n = 0; n < 5; ++n) {
      const std::size_t size = rng() % 3 == 0 ? rng() % (1u << 18) : rng() % 2000;
      const std::string m = sample(size, rng, rng() % 2 != 0);
      BOOST_TEST_REQUIRE(!inflated(i, deflated(d, m), out));
      BOOST_TEST_REQUIRE(out == m);
    }
  }
}

BOOST_AUTO_TEST_CASE(window_8_deflates_within_256_bytes) {
  // zlib runs a raw window of 8 as 9 (512 bytes); its matches still reach back at most 250
  // bytes, so an inflater held to exactly 256 bytes decodes everything. Repeats at distances
  // around 256..511 would break that if zlib ever used them. (zlib checks a distance against
  // its window only when it reaches back past the current output buffer, so the messages are
  // several of the inflater's 4 KiB output steps long.)
  std::mt19937 rng(8);
  ws::deflater d8(8);
  ws::inflater i8(8);
  std::string out;
  for (int n = 0; n < 50; ++n) {
    std::string unit = random_bytes(200 + rng() % 300, rng);
    std::string m;
    while (m.size() < 20000)
      m += unit;
    BOOST_TEST_REQUIRE(!inflated(i8, deflated(d8, m), out));
    BOOST_TEST_REQUIRE(out == m);
  }
}

BOOST_AUTO_TEST_CASE(release_after_message_holds_no_memory_between_messages) {
  std::mt19937 rng(3);
  ws::deflater d(15, true, 6, 1, true);
  ws::inflater i(15, true, true);
  BOOST_TEST(d.memory() == 0u);
  BOOST_TEST(i.memory() == 0u);
  std::string out;
  for (int n = 0; n < 5; ++n) {
    const std::string m = sample(5000, rng, true);
    BOOST_TEST_REQUIRE(!inflated(i, deflated(d, m), out));
    BOOST_TEST(out == m);
    BOOST_TEST(d.memory() == 0u);
    BOOST_TEST(i.memory() == 0u);
  }
  // Without release, the streams stay allocated (and are reset).
  ws::deflater kept(15, true);
  ws::inflater kept_in(15, true);
  BOOST_TEST_REQUIRE(!inflated(kept_in, deflated(kept, "Hello"), out));
  BOOST_TEST(kept.memory() > 0u);
  BOOST_TEST(kept_in.memory() > 0u);
}

BOOST_AUTO_TEST_CASE(memory_per_stream_as_documented) {
  // The figures in deflate.hpp's header comment: zlib's formula plus its state.
  auto deflater_memory = [](int bits, int level) {
    ws::deflater d(bits, false, 6, level);
    std::string c;
    BOOST_REQUIRE(!d.deflate_message("Hello", c));
    return d.memory();
  };
  auto inflater_memory = [](int bits) {
    ws::deflater d(bits);
    ws::inflater i(bits);
    std::string c, out;
    BOOST_REQUIRE(!d.deflate_message("Hello", c));
    BOOST_REQUIRE(!i.inflate_message(c, out, 0));
    return i.memory();
  };
  for (int level = 1; level <= 9; ++level) {
    const std::size_t formula = (std::size_t{1} << 17) + (std::size_t{1} << (level + 9));
    BOOST_TEST(deflater_memory(15, level) >= formula);
    BOOST_TEST(deflater_memory(15, level) <= formula + 16384);
  }
  BOOST_TEST(inflater_memory(15) >= 32768u);
  BOOST_TEST(inflater_memory(15) <= 32768u + 8192u);
  BOOST_TEST(inflater_memory(9) <= 512u + 8192u);
  ws::deflater unused;
  ws::inflater unused_in;
  BOOST_TEST(unused.memory() == 0u);  // streams are created on first use
  BOOST_TEST(unused_in.memory() == 0u);
}

BOOST_AUTO_TEST_CASE(moved_streams_keep_working) {
  ws::deflater d;
  ws::inflater i;
  std::string out;
  BOOST_TEST_REQUIRE(!inflated(i, deflated(d, "Hello"), out));
  ws::deflater d2(std::move(d));
  ws::inflater i2(std::move(i));
  const std::string second = deflated(d2, "Hello");
  BOOST_TEST(hex(second) == hex(bytes({0xf2, 0x00, 0x11, 0x00, 0x00})));  // context moved too
  BOOST_TEST(!inflated(i2, second, out));
  BOOST_TEST(out == "Hello");
}

// ---- The output bound -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(max_size_at_limit_and_one_past) {
  std::mt19937 rng(5);
  for (std::size_t size : {std::size_t{1}, std::size_t{5}, std::size_t{16}, std::size_t{20},
                           std::size_t{4096}, std::size_t{4097}, std::size_t{100000}}) {
    BOOST_TEST_CONTEXT("size " << size) {
      const std::string m = sample(size, rng, true);
      ws::deflater d(15, true);
      const std::string c = deflated(d, m);
      std::string out;
      ws::inflater at(15, true);
      BOOST_TEST(!inflated(at, c, out, size));
      BOOST_TEST(out == m);
      BOOST_TEST(out.capacity() <= std::max<std::size_t>(size, std::string().capacity()));
      ws::inflater past(15, true);
      BOOST_TEST(inflated(past, c, out, size - 1 == 0 ? 1 : size - 1) ==
                 (size == 1 ? std::error_code{} : make_error_code(deflate_errc::inflate_too_big)));
      if (size > 1) BOOST_TEST(out.empty());  // truncated back on error
    }
  }
  BOOST_TEST(ws::close_code_for(deflate_errc::inflate_too_big) == ws::close_code::message_too_big);
}

BOOST_AUTO_TEST_CASE(message_of_exactly_max_size_ending_across_an_output_step) {
  // The inflater's output grows in steps (4 KiB, then doubling, capped at max_size). When a
  // long match crosses the last step and the message is exactly max_size bytes, zlib finishes
  // the message with the output space used up, and one more call is made; that call must not
  // make a valid message look cut short. Messages of 4097..4396 bytes ending in runs of
  // zeros (long matches) of several lengths, each inflated with max_size = its size.
  std::mt19937 rng(4096);
  ws::deflater d(15, true, 6, 8);  // without context takeover: every message stands alone
  ws::inflater i(15, true);
  std::string out;
  for (std::size_t size = 4097; size < 4397; ++size) {
    for (std::size_t run = 1; run < 300; run += 11) {
      std::string m(size, '\0');
      for (std::size_t k = 0; k + run < size; ++k)
        m[k] = "abcdefgh"[rng() % 8];
      BOOST_TEST_REQUIRE(!inflated(i, deflated(d, m), out, size), size << " bytes, run " << run);
      BOOST_TEST_REQUIRE(out == m);
    }
  }
}

BOOST_AUTO_TEST_CASE(bomb_64mib_of_zeros_stops_at_1mib) {
  const std::string zeros(std::size_t{64} << 20, '\0');
  ws::deflater d(15, false, 9);
  const std::string bomb = deflated(d, zeros);
  BOOST_TEST(bomb.size() < (std::size_t{128} << 10));  // about 1000:1

  const std::size_t bound = std::size_t{1} << 20;
  ws::inflater i;
  std::string out;
  BOOST_TEST(i.inflate_message(bomb, out, bound) == deflate_errc::inflate_too_big);
  BOOST_TEST(out.empty());
  BOOST_TEST(out.capacity() <= bound);  // never more than the bound, not 2x, not 64 MiB
  BOOST_TEST(i.memory() < (std::size_t{64} << 10));

  // With bytes already in the buffer the bound applies to what is added.
  ws::inflater j;
  std::string prefixed(1000, 'p');
  BOOST_TEST(j.inflate_message(bomb, prefixed, bound) == deflate_errc::inflate_too_big);
  BOOST_TEST(prefixed == std::string(1000, 'p'));
  BOOST_TEST(prefixed.capacity() <= 1000 + bound);

  // Unbounded, the same message inflates completely.
  ws::inflater k;
  std::string all;
  BOOST_TEST(!k.inflate_message(bomb, all, 0));
  BOOST_TEST(all == zeros);
}

// ---- Corrupt input --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(corrupt_streams_fail_with_1007) {
  const std::string cases[] = {
      bytes({0x06}),                                // reserved block type 11 (RFC 1951 3.2.3)
      bytes({0x07}),                                // the same, final
      bytes({0xfd, 0xff, 0xff, 0xff}),              // dynamic block with 288 literal codes
      bytes({0x00, 0x05, 0x00, 0x00, 0x00, 0x48}),  // stored block whose NLEN is not ~LEN
      bytes({0xf2, 0x48, 0xcd}),                    // "Hello" cut inside its block
      bytes({0xf2, 0x00, 0x11, 0x00, 0x00}),        // back reference with no history
  };
  for (const std::string& c : cases) {
    BOOST_TEST_CONTEXT(hex(c)) {
      ws::inflater i;
      std::string out = "keep";
      BOOST_TEST(i.inflate_message(c, out, 0) == deflate_errc::inflate_failed);
      BOOST_TEST(out == "keep");
    }
  }
  BOOST_TEST(ws::close_code_for(deflate_errc::inflate_failed) == ws::close_code::invalid_payload);
}

BOOST_AUTO_TEST_CASE(every_proper_prefix_fails_rfc7692_7_2_1) {
  // A message must end between blocks (7.2.1 step 2), so a cut "Hello" never passes for a
  // shorter message.
  const std::string hello = bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00});
  for (std::size_t n = 1; n < hello.size(); ++n) {
    ws::inflater i;
    std::string out;
    BOOST_TEST(inflated(i, hello.substr(0, n), out) == deflate_errc::inflate_failed,
               "prefix " << n);
  }
  // DEFLATE cannot always tell: a cut that falls on a byte-aligned block boundary is a valid
  // shorter message. What holds is that a prefix gives an error or a prefix of the message.
  std::mt19937 rng(11);
  ws::deflater d(15, true);
  const std::string m = sample(3000, rng, false);
  const std::string c = deflated(d, m);
  std::size_t failed = 0;
  for (std::size_t n = 1; n < c.size(); ++n) {
    ws::inflater i(15, true);
    std::string out;
    if (inflated(i, c.substr(0, n), out)) {
      ++failed;
    } else {
      BOOST_TEST_REQUIRE(out.size() < m.size(), "prefix " << n);
      BOOST_TEST_REQUIRE(m.compare(0, out.size(), out) == 0, "prefix " << n);
    }
  }
  BOOST_TEST(failed > c.size() / 2);
}

BOOST_AUTO_TEST_CASE(distance_beyond_the_negotiated_window_fails) {
  // A peer that exceeds the window it agreed to: 15 against a negotiated 9, and against 8
  // with the 300-byte period window_8_deflates_within_256_bytes shows we never produce. The
  // message spans several output steps, so references cross zlib's window.
  std::mt19937 rng(9);
  std::string out;
  const std::string unit = random_bytes(4000, rng);
  ws::deflater wide(15);
  ws::inflater narrow(9);
  BOOST_TEST(inflated(narrow, deflated(wide, unit + unit), out) == deflate_errc::inflate_failed);
  const std::string period = random_bytes(300, rng);
  std::string m;
  while (m.size() < 20000)
    m += period;
  ws::deflater wide2(15);
  ws::inflater eight(8);
  BOOST_TEST(inflated(eight, deflated(wide2, m), out) == deflate_errc::inflate_failed);
  // Across messages the window is all there is: a reference into the previous message.
  ws::deflater wide3(15);
  ws::inflater nine(9);
  BOOST_TEST(!inflated(nine, deflated(wide3, unit), out));
  BOOST_TEST(inflated(nine, deflated(wide3, unit), out) == deflate_errc::inflate_failed);
}

// ---- Negotiation, server side (7.1) -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(server_negotiation_table_rfc7692_7_1) {
  struct row {
    const char* offers;
    const char* answer;  // format_response, or "none"
  };
  const row table[] = {
      {"", "none"},
      {"   ", "none"},
      {"x-webkit-deflate-frame", "none"},
      {"permessage-deflate", "permessage-deflate"},
      {"PerMessage-Deflate", "permessage-deflate"},
      // Chrome and Firefox.
      {"permessage-deflate; client_max_window_bits", "permessage-deflate"},
      {"client_max_window_bits; permessage-deflate", "none"},
      // Each parameter (7.1.1.1, 7.1.1.2, 7.1.2.1, 7.1.2.2).
      {"permessage-deflate; server_no_context_takeover",
       "permessage-deflate; server_no_context_takeover"},
      {"permessage-deflate; client_no_context_takeover",
       "permessage-deflate; client_no_context_takeover"},
      {"permessage-deflate; server_max_window_bits=10",
       "permessage-deflate; server_max_window_bits=10"},
      {"permessage-deflate; server_max_window_bits=8",
       "permessage-deflate; server_max_window_bits=8"},
      {"permessage-deflate; server_max_window_bits=15",
       "permessage-deflate; server_max_window_bits=15"},  // must be answered even at 15
      {"permessage-deflate; client_max_window_bits=9",
       "permessage-deflate; client_max_window_bits=9"},
      {"permessage-deflate; client_max_window_bits=15",
       "permessage-deflate; client_max_window_bits=15"},
      {"permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
       "server_max_window_bits=12; client_max_window_bits=11",
       "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
       "server_max_window_bits=12; client_max_window_bits=11"},
      // Syntax: case, whitespace around separators, quoted values (RFC 7230 3.2.6).
      {"permessage-deflate;server_max_window_bits=10",
       "permessage-deflate; server_max_window_bits=10"},
      {"permessage-deflate \t; SERVER_MAX_WINDOW_BITS = 10 ",
       "permessage-deflate; server_max_window_bits=10"},
      {"permessage-deflate; server_max_window_bits=\"10\"",
       "permessage-deflate; server_max_window_bits=10"},
      {"permessage-deflate; server_max_window_bits=\"1\\0\"",
       "permessage-deflate; server_max_window_bits=10"},
      {"permessage-deflate; client_max_window_bits=\"9\"",
       "permessage-deflate; client_max_window_bits=9"},
      // Invalid offers are declined.
      {"permessage-deflate; server_no_context_takeover; server_no_context_takeover", "none"},
      {"permessage-deflate; client_max_window_bits; client_max_window_bits=10", "none"},
      {"permessage-deflate; server_max_window_bits=10; Server_Max_Window_Bits=10", "none"},
      {"permessage-deflate; foo", "none"},
      {"permessage-deflate; max_window_bits=10", "none"},
      {"permessage-deflate; server_max_window_bits", "none"},
      {"permessage-deflate; server_max_window_bits=", "none"},
      {"permessage-deflate; server_max_window_bits=7", "none"},
      {"permessage-deflate; server_max_window_bits=16", "none"},
      {"permessage-deflate; server_max_window_bits=08", "none"},
      {"permessage-deflate; server_max_window_bits=010", "none"},
      {"permessage-deflate; server_max_window_bits=+9", "none"},
      {"permessage-deflate; server_max_window_bits=9a", "none"},
      {"permessage-deflate; server_max_window_bits=\"\"", "none"},
      {"permessage-deflate; server_max_window_bits=\"10", "none"},
      {"permessage-deflate; server_max_window_bits=\" 10\"", "none"},
      {"permessage-deflate; client_max_window_bits=0", "none"},
      {"permessage-deflate; client_max_window_bits=16", "none"},
      {"permessage-deflate; server_no_context_takeover=1", "none"},
      {"permessage-deflate; client_no_context_takeover=\"\"", "none"},
      {"permessage-deflate;", "none"},
      {"permessage-deflate;; server_no_context_takeover", "none"},
      {"permessage-deflate server_no_context_takeover", "none"},
      {"permessage-deflate; =10", "none"},
      {"\"permessage-deflate\"", "none"},
      // Several offers: the first acceptable one wins, invalid ones are skipped.
      {"permessage-deflate; server_max_window_bits=10, permessage-deflate",
       "permessage-deflate; server_max_window_bits=10"},
      {"permessage-deflate; foo, permessage-deflate; client_max_window_bits=10",
       "permessage-deflate; client_max_window_bits=10"},
      {"x-webkit-deflate-frame, permessage-deflate; server_no_context_takeover",
       "permessage-deflate; server_no_context_takeover"},
      {"permessage-deflate; server_max_window_bits=16, permessage-deflate; "
       "server_max_window_bits=9",
       "permessage-deflate; server_max_window_bits=9"},
      {"permessage-deflate; x=\"a, b\", permessage-deflate; server_no_context_takeover",
       "permessage-deflate; server_no_context_takeover"},
      {"permessage-deflate; x=\"a\\\", b\", permessage-deflate; client_no_context_takeover",
       "permessage-deflate; client_no_context_takeover"},
      {", ,permessage-deflate,", "permessage-deflate"},
      {"permessage-deflate;;, permessage-deflate; server_max_window_bits=11",
       "permessage-deflate; server_max_window_bits=11"},
  };
  for (const row& r : table) {
    BOOST_TEST_CONTEXT("offers: " << r.offers) {
      BOOST_TEST(server_answer(r.offers) == r.answer);
    }
  }
}

BOOST_AUTO_TEST_CASE(server_local_options_rfc7692_7_1) {
  struct row {
    const char* offers;
    deflate_options local;
    const char* answer;
  };
  const row table[] = {
      // Our own requirements are added unasked where the RFC lets the server do so.
      {"permessage-deflate", opts(true, false), "permessage-deflate; server_no_context_takeover"},
      {"permessage-deflate", opts(false, true), "permessage-deflate; client_no_context_takeover"},
      {"permessage-deflate", opts(false, false, 10),
       "permessage-deflate; server_max_window_bits=10"},
      // An offered limit is answered with the smaller of the two.
      {"permessage-deflate; server_max_window_bits=12", opts(false, false, 10),
       "permessage-deflate; server_max_window_bits=10"},
      {"permessage-deflate; server_max_window_bits=9", opts(false, false, 10),
       "permessage-deflate; server_max_window_bits=9"},
      // client_max_window_bits only to a client that offered it (7.1.2.2).
      {"permessage-deflate", opts(false, false, 15, 10), "permessage-deflate"},
      {"permessage-deflate; client_max_window_bits", opts(false, false, 15, 10),
       "permessage-deflate; client_max_window_bits=10"},
      {"permessage-deflate; client_max_window_bits=12", opts(false, false, 15, 10),
       "permessage-deflate; client_max_window_bits=10"},
      {"permessage-deflate; client_max_window_bits=9", opts(false, false, 15, 10),
       "permessage-deflate; client_max_window_bits=9"},
      {"permessage-deflate; server_no_context_takeover", opts(true, true, 9, 9),
       "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
       "server_max_window_bits=9"},
  };
  for (const row& r : table) {
    BOOST_TEST_CONTEXT("offers: " << r.offers) {
      BOOST_TEST(server_answer(r.offers, r.local) == r.answer);
    }
  }
}

// ---- Negotiation, client side (7.1) -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(format_offer_rfc7692_7_1) {
  BOOST_TEST(ws::format_offer({}) == "permessage-deflate; client_max_window_bits");
  BOOST_TEST(ws::format_offer(opts(true, true, 10, 12)) ==
             "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
             "server_max_window_bits=10; client_max_window_bits=12");
  // Every offer we make is one we accept ourselves.
  for (const deflate_options& o :
       {deflate_options{}, opts(true, true, 10, 12), opts(false, true), opts(true, false, 8, 8)}) {
    BOOST_TEST(ws::negotiate_server(ws::format_offer(o), {}).has_value());
  }
}

BOOST_AUTO_TEST_CASE(client_accept_table_rfc7692_7_1) {
  struct row {
    const char* response;
    deflate_options offered;
    std::error_code error;
    std::optional<deflate_params> params;
  };
  auto params = [](bool snct, bool cnct, int smwb, int cmwb) {
    deflate_params p;
    p.server_no_context_takeover = snct;
    p.client_no_context_takeover = cnct;
    p.server_max_window_bits = static_cast<std::uint8_t>(smwb);
    p.client_max_window_bits = static_cast<std::uint8_t>(cmwb);
    return std::optional<deflate_params>(p);
  };
  const std::optional<deflate_params> declined;
  const deflate_options plain{};
  const row table[] = {
      // The server declined: no error, no compression.
      {"", plain, {}, declined},
      {"  ", plain, {}, declined},
      {"permessage-deflate", plain, {}, params(false, false, 0, 0)},
      {"permessage-deflate; client_max_window_bits=10", plain, {}, params(false, false, 0, 10)},
      {"Permessage-Deflate ; Server_Max_Window_Bits=\"12\"",
       plain,
       {},
       params(false, false, 12, 0)},
      // What the server may add unasked.
      {"permessage-deflate; server_no_context_takeover", plain, {}, params(true, false, 0, 0)},
      {"permessage-deflate; client_no_context_takeover", plain, {}, params(false, true, 0, 0)},
      {"permessage-deflate; server_max_window_bits=8", plain, {}, params(false, false, 8, 0)},
      // What was offered must be answered.
      {"permessage-deflate; server_no_context_takeover",
       opts(true, false),
       {},
       params(true, false, 0, 0)},
      {"permessage-deflate", opts(true, false), deflate_errc::missing_server_no_context_takeover,
       declined},
      {"permessage-deflate; server_max_window_bits=10",
       opts(false, false, 10),
       {},
       params(false, false, 10, 0)},
      {"permessage-deflate; server_max_window_bits=9",
       opts(false, false, 10),
       {},
       params(false, false, 9, 0)},
      {"permessage-deflate; server_max_window_bits=11", opts(false, false, 10),
       deflate_errc::server_window_too_large, declined},
      {"permessage-deflate", opts(false, false, 10), deflate_errc::server_window_too_large,
       declined},
      // Our own client window stays in force, whatever the server says above it.
      {"permessage-deflate", opts(false, false, 15, 10), {}, params(false, false, 0, 10)},
      {"permessage-deflate; client_max_window_bits=12",
       opts(false, false, 15, 10),
       {},
       params(false, false, 0, 10)},
      {"permessage-deflate; client_max_window_bits=9",
       opts(false, false, 15, 10),
       {},
       params(false, false, 0, 9)},
      // Rules the response itself breaks.
      {"permessage-deflate; client_max_window_bits", plain, deflate_errc::invalid_parameter_value,
       declined},  // a response states a value
      {"permessage-deflate; server_max_window_bits=16", plain,
       deflate_errc::invalid_parameter_value, declined},
      {"permessage-deflate; server_max_window_bits=07", plain,
       deflate_errc::invalid_parameter_value, declined},
      {"permessage-deflate; server_no_context_takeover=yes", plain,
       deflate_errc::invalid_parameter_value, declined},
      {"permessage-deflate; foo", plain, deflate_errc::unknown_parameter, declined},
      {"permessage-deflate; client_no_context_takeover; client_no_context_takeover", plain,
       deflate_errc::duplicate_parameter, declined},
      {"permessage-deflate, permessage-deflate", plain, deflate_errc::duplicate_extension,
       declined},
      {"x-webkit-deflate-frame", plain, deflate_errc::unexpected_extension, declined},
      {"permessage-deflate, x-custom", plain, deflate_errc::unexpected_extension, declined},
      {"permessage-deflate;", plain, deflate_errc::malformed_response, declined},
      {"permessage-deflate; server_max_window_bits=\"10", plain, deflate_errc::malformed_response,
       declined},
      {"; permessage-deflate", plain, deflate_errc::malformed_response, declined},
  };
  for (const row& r : table) {
    BOOST_TEST_CONTEXT("response: " << r.response) {
      const ws::deflate_accept_result got = ws::accept_client(r.response, r.offered);
      BOOST_TEST(got.error == r.error);
      BOOST_TEST(got.params.has_value() == r.params.has_value());
      if (got.params && r.params) {
        BOOST_TEST(format_response(*got.params) == format_response(*r.params));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(client_and_server_agree_and_exchange_messages) {
  // Every combination of both sides' options: the client's offer, the server's answer and
  // the client's check agree, and messages flow both ways through deflate_state.
  std::mt19937 rng(13);
  const deflate_options choices[] = {
      deflate_options{},        opts(true, false),      opts(false, true),         opts(true, true),
      opts(false, false, 9, 9), opts(true, true, 8, 8), opts(false, false, 12, 10)};
  for (const deflate_options& client : choices) {
    for (const deflate_options& server : choices) {
      const std::optional<deflate_params> agreed =
          ws::negotiate_server(ws::format_offer(client), server);
      BOOST_TEST_REQUIRE(agreed.has_value());
      const ws::deflate_accept_result checked =
          ws::accept_client(ws::format_response(*agreed), client);
      BOOST_TEST_REQUIRE(!checked.error);
      BOOST_TEST_REQUIRE(checked.params.has_value());
      BOOST_TEST(ws::format_response(*checked.params) == ws::format_response(*agreed));

      ws::deflate_state server_side(ws::role::server, *agreed, server);
      ws::deflate_state client_side(ws::role::client, *checked.params, client);
      for (int n = 0; n < 4; ++n) {
        const std::string m = sample(rng() % 3000, rng, n % 2 != 0);
        std::string c, out;
        BOOST_TEST_REQUIRE(!server_side.deflate_message(m, c));
        BOOST_TEST_REQUIRE(!client_side.inflate_message(c, out, 0));
        BOOST_TEST_REQUIRE(out == m);
        c.clear();
        out.clear();
        BOOST_TEST_REQUIRE(!client_side.deflate_message(m, c));
        BOOST_TEST_REQUIRE(!server_side.inflate_message(c, out, 0));
        BOOST_TEST_REQUIRE(out == m);
      }
      BOOST_TEST(server_side.memory() > 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(compress_once_serves_every_connection_without_context) {
  deflate_params p;
  p.server_no_context_takeover = true;
  const std::string message = "{\"channel\":\"ticker\",\"price\":\"1.0842\",\"qty\":42}";
  const std::string once = ws::compress_once(message, p);
  // The same bytes a connection's own deflater produces for a message that stands alone.
  ws::deflate_state connection(ws::role::server, p, {});
  std::string own;
  BOOST_TEST(!connection.deflate_message(message, own));
  BOOST_TEST(hex(once) == hex(own));
  // And every subscriber decodes them, whatever it received before.
  for (int subscriber = 0; subscriber < 3; ++subscriber) {
    ws::deflate_state client(ws::role::client, p, {});
    std::string out;
    for (int k = 0; k < subscriber; ++k) {
      out.clear();
      BOOST_TEST_REQUIRE(!client.inflate_message(once, out, 0));
    }
    out.clear();
    BOOST_TEST(!client.inflate_message(once, out, 0));
    BOOST_TEST(out == message);
  }
  BOOST_TEST(hex(ws::compress_once("", p)) == "00");
}

// ---- Options and errors -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(invalid_options_are_named) {
  BOOST_TEST(ws::invalid_option({}) == nullptr);
  deflate_options o;
  o.server_max_window_bits = 7;
  BOOST_TEST(std::string(ws::invalid_option(o)) == "server_max_window_bits");
  o = {};
  o.client_max_window_bits = 16;
  BOOST_TEST(std::string(ws::invalid_option(o)) == "client_max_window_bits");
  o = {};
  o.compression_level = 10;
  BOOST_TEST(std::string(ws::invalid_option(o)) == "compression_level");
  o = {};
  o.mem_level = 0;
  BOOST_TEST(std::string(ws::invalid_option(o)) == "mem_level");
  o = opts(true, true, 8, 8);
  o.compression_level = 0;
  o.mem_level = 9;
  BOOST_TEST(ws::invalid_option(o) == nullptr);
}

BOOST_AUTO_TEST_CASE(every_deflate_errc_has_a_message_and_close_code) {
  std::set<std::string> messages;
  const int first = static_cast<int>(deflate_errc::malformed_response);
  const int last = static_cast<int>(deflate_errc::zlib_error);
  for (int e = first; e <= last; ++e) {
    const std::error_code ec = static_cast<deflate_errc>(e);
    BOOST_TEST(ec.category().name() == std::string("websocket.deflate"));
    BOOST_TEST(&ec.category() == &ws::deflate_category());
    BOOST_TEST(ec.message() != "unknown permessage-deflate error");
    messages.insert(ec.message());
    BOOST_TEST(ws::is_valid_wire_close_code(ws::close_code_for(static_cast<deflate_errc>(e))));
  }
  BOOST_TEST(messages.size() == static_cast<std::size_t>(last - first + 1));
  BOOST_TEST(ws::close_code_for(deflate_errc::zlib_error) == ws::close_code::internal_error);
  BOOST_TEST(ws::close_code_for(deflate_errc::unknown_parameter) == ws::close_code::protocol_error);
}

BOOST_AUTO_TEST_SUITE_END()
