// utf8_test.cpp: tests of runtime/websocket/utf8.hpp, the incremental fail-fast validator.
//
// The vectors are written from the rules, not copied from a suite: RFC 3629 section 4 (the
// UTF8-octets grammar) and Unicode table 3-7 (well-formed byte sequences). Besides the vectors,
// two independent checks: an exhaustive comparison against a bit-pattern reference decoder for
// every 1- and 2-byte sequence and every 3-byte sequence with a 3-byte lead, and a split at every
// position (RFC 6455 section 8.1 asks for fail-fast validation of text that arrives in pieces).
#include "runtime/websocket/utf8.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ws = switchboard::runtime::websocket;

namespace {

using bytes = std::vector<std::uint8_t>;

// Reference decoder written from the bit patterns of RFC 3629 section 3, independent of the
// validator's range table: lead byte gives the length, continuations are 10xxxxxx, and the
// decoded value must need exactly that length, not be a surrogate and not exceed U+10FFFF.
bool reference_valid(const bytes& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::uint8_t b = s[i];
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (b < 0x80) {
      len = 1, cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2, cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, cp = b & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static constexpr std::uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len]) return false;         // overlong
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;  // UTF-16 surrogate
    if (cp > 0x10FFFF) return false;
    i += len;
  }
  return true;
}

// Encodes one code point (any value up to 0x1FFFFF, surrogates included) the RFC 3629 way.
bytes encode(std::uint32_t cp) {
  if (cp < 0x80) return {static_cast<std::uint8_t>(cp)};
  if (cp < 0x800)
    return {static_cast<std::uint8_t>(0xC0 | (cp >> 6)),
            static_cast<std::uint8_t>(0x80 | (cp & 0x3F))};
  if (cp < 0x10000)
    return {static_cast<std::uint8_t>(0xE0 | (cp >> 12)),
            static_cast<std::uint8_t>(0x80 | ((cp >> 6) & 0x3F)),
            static_cast<std::uint8_t>(0x80 | (cp & 0x3F))};
  return {static_cast<std::uint8_t>(0xF0 | (cp >> 18)),
          static_cast<std::uint8_t>(0x80 | ((cp >> 12) & 0x3F)),
          static_cast<std::uint8_t>(0x80 | ((cp >> 6) & 0x3F)),
          static_cast<std::uint8_t>(0x80 | (cp & 0x3F))};
}

bool valid(const bytes& s) {
  return ws::is_valid_utf8(s.data(), s.size());
}

// The index of the byte at which a byte-at-a-time feed() first returns false, or s.size() when
// it never does. Fail fast means this is the first byte that no valid continuation could follow.
std::size_t first_rejected_byte(const bytes& s) {
  ws::utf8_validator v;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!v.feed(&s[i], 1)) return i;
  return s.size();
}

struct invalid_vector {
  const char* name;
  bytes data;
  std::size_t fails_at;  // index of the first byte feed() must reject; data.size() = truncated
};

const std::vector<invalid_vector>& invalid_vectors() {
  static const std::vector<invalid_vector> v = {
      // Stray continuation bytes (RFC 3629 section 4: UTF8-tail only after a lead byte).
      {"lone continuation 0x80", {0x80}, 0},
      {"lone continuation 0xBF", {0xBF}, 0},
      {"continuation after ASCII", {'a', 0x80}, 1},
      {"two-byte form plus extra continuation", {0xC2, 0x80, 0x80}, 2},
      // Overlong encodings (table 3-7 excludes C0, C1, E0 80-9F, F0 80-8F).
      {"overlong NUL C0 80", {0xC0, 0x80}, 0},
      {"overlong C1 BF (U+007F)", {0xC1, 0xBF}, 0},
      {"overlong 3-byte E0 80 80", {0xE0, 0x80, 0x80}, 1},
      {"overlong 3-byte E0 9F BF (U+07FF)", {0xE0, 0x9F, 0xBF}, 1},
      {"overlong 4-byte F0 80 80 80", {0xF0, 0x80, 0x80, 0x80}, 1},
      {"overlong 4-byte F0 8F BF BF (U+FFFF)", {0xF0, 0x8F, 0xBF, 0xBF}, 1},
      // UTF-16 surrogates U+D800-U+DFFF (RFC 3629 section 3).
      {"surrogate U+D800", {0xED, 0xA0, 0x80}, 1},
      {"surrogate U+DBFF", {0xED, 0xAF, 0xBF}, 1},
      {"surrogate U+DC00", {0xED, 0xB0, 0x80}, 1},
      {"surrogate U+DFFF", {0xED, 0xBF, 0xBF}, 1},
      {"surrogate pair U+D83D U+DE00", {0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80}, 1},
      // Above U+10FFFF.
      {"U+110000", {0xF4, 0x90, 0x80, 0x80}, 1},
      {"U+13FFFF", {0xF4, 0xBF, 0xBF, 0xBF}, 1},
      {"lead F5", {0xF5, 0x80, 0x80, 0x80}, 0},
      {"lead F7 (U+1FFFFF)", {0xF7, 0xBF, 0xBF, 0xBF}, 0},
      {"5-byte form F8", {0xF8, 0x88, 0x80, 0x80, 0x80}, 0},
      {"6-byte form FC", {0xFC, 0x84, 0x80, 0x80, 0x80, 0x80}, 0},
      {"byte FE", {0xFE}, 0},
      {"byte FF", {0xFF}, 0},
      // A lead byte followed by something that is not a continuation.
      {"C2 then ASCII", {0xC2, 0x41}, 1},
      {"E1 80 then ASCII", {0xE1, 0x80, 0x41}, 2},
      {"F1 80 80 then ASCII", {0xF1, 0x80, 0x80, 0x41}, 3},
      {"E1 then new lead", {0xE1, 0xC2, 0x80}, 1},
      {"invalid after valid text", {'o', 'k', 0xCE, 0xBA, 0xFF, 'x'}, 4},
      // Truncated at the end: every prefix is fine, the whole is not complete.
      {"truncated 2-byte", {0xC2}, 1},
      {"truncated 3-byte after 1", {0xE2}, 1},
      {"truncated 3-byte after 2", {0xE2, 0x82}, 2},
      {"truncated 4-byte after 3", {0xF0, 0x9F, 0x98}, 3},
      {"truncated after valid text", {'a', 0xF4, 0x8F, 0xBF}, 4},
  };
  return v;
}

const std::vector<bytes>& valid_vectors() {
  static const std::vector<bytes> v = {
      {},
      {0x00},
      {'H', 'e', 'l', 'l', 'o'},
      {0x7F},
      {0xC2, 0x80},              // U+0080, first 2-byte
      {0xDF, 0xBF},              // U+07FF, last 2-byte
      {0xE0, 0xA0, 0x80},        // U+0800, first 3-byte
      {0xED, 0x9F, 0xBF},        // U+D7FF, before surrogates
      {0xEE, 0x80, 0x80},        // U+E000, after surrogates
      {0xEF, 0xBF, 0xBD},        // U+FFFD
      {0xEF, 0xBF, 0xBF},        // U+FFFF, last 3-byte
      {0xF0, 0x90, 0x80, 0x80},  // U+10000, first 4-byte
      {0xF0, 0x9F, 0x98, 0x80},  // U+1F600
      {0xF3, 0xBF, 0xBF, 0xBF},  // U+FFFFF
      {0xF4, 0x8F, 0xBF, 0xBF},  // U+10FFFF, the last
      {0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5},  // Greek "kosme"
      {'a', 0xE2, 0x82, 0xAC, 'b', 0xF0, 0x90, 0x8D, 0x88, 'c'},           // ASCII, 3-byte, 4-byte
  };
  return v;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(websocket_utf8)

BOOST_AUTO_TEST_CASE(valid_sequences_rfc3629_4) {
  for (const bytes& s : valid_vectors()) {
    BOOST_TEST_CONTEXT("vector of " << s.size() << " bytes") {
      BOOST_TEST(reference_valid(s));
      BOOST_TEST(valid(s));
      BOOST_TEST(first_rejected_byte(s) == s.size());
    }
  }
}

BOOST_AUTO_TEST_CASE(invalid_sequences_fail_at_first_bad_byte_rfc6455_8_1) {
  for (const invalid_vector& t : invalid_vectors()) {
    BOOST_TEST_CONTEXT(t.name) {
      BOOST_TEST(!reference_valid(t.data));
      BOOST_TEST(!valid(t.data));
      // Fail fast: rejected at the first byte that cannot lead to valid text, no later.
      BOOST_TEST(first_rejected_byte(t.data) == t.fails_at);
      if (t.fails_at == t.data.size()) {  // truncated: every byte fine, the end incomplete
        ws::utf8_validator v;
        BOOST_TEST(v.feed(t.data.data(), t.data.size()));
        BOOST_TEST(!v.complete());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(every_scalar_value_is_valid_rfc3629_3) {
  for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const bytes s = encode(cp);
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (valid(s) == surrogate) BOOST_FAIL("wrong verdict for U+" << std::hex << cp);
  }
  // Just past the end of the code space, in the 4-byte form the encoder still produces.
  BOOST_TEST(!valid(encode(0x110000)));
  BOOST_TEST(!valid(encode(0x1FFFFF)));
}

BOOST_AUTO_TEST_CASE(exhaustive_short_sequences_match_reference_rfc3629_4) {
  bytes s;
  std::size_t mismatches = 0;
  for (int a = 0; a < 256; ++a) {
    s = {static_cast<std::uint8_t>(a)};
    mismatches += valid(s) != reference_valid(s);
    for (int b = 0; b < 256; ++b) {
      s = {static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b)};
      mismatches += valid(s) != reference_valid(s);
    }
  }
  // Three bytes behind every 3-byte lead (E0-EF): overlong, surrogate and normal forms.
  for (int a = 0xE0; a <= 0xEF; ++a)
    for (int b = 0; b < 256; ++b)
      for (int c = 0; c < 256; ++c) {
        s = {static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b),
             static_cast<std::uint8_t>(c)};
        mismatches += valid(s) != reference_valid(s);
      }
  // Four bytes behind the 4-byte leads and their neighbours, with a representative third byte.
  for (int a = 0xEF; a <= 0xF8; ++a)
    for (int b = 0; b < 256; ++b)
      for (int c : {0x00, 0x7F, 0x80, 0xA5, 0xBF, 0xC0})
        for (int d = 0; d < 256; ++d) {
          s = {static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b),
               static_cast<std::uint8_t>(c), static_cast<std::uint8_t>(d)};
          mismatches += valid(s) != reference_valid(s);
        }
  BOOST_TEST(mismatches == 0u);
}

BOOST_AUTO_TEST_CASE(split_at_every_position_rfc6455_8_1) {
  // All valid vectors in one buffer, then cut into three pieces at every pair of positions:
  // the verdict must not depend on where the pieces end.
  bytes all;
  for (const bytes& s : valid_vectors())
    all.insert(all.end(), s.begin(), s.end());
  for (std::size_t i = 0; i <= all.size(); ++i)
    for (std::size_t j = i; j <= all.size(); ++j) {
      ws::utf8_validator v;
      const bool ok = v.feed(all.data(), i) && v.feed(all.data() + i, j - i) &&
                      v.feed(all.data() + j, all.size() - j);
      if (!ok || !v.complete()) BOOST_FAIL("valid text rejected when cut at " << i << ", " << j);
    }
  // Invalid vectors: cut in two anywhere, still rejected, and at the same byte.
  for (const invalid_vector& t : invalid_vectors()) {
    for (std::size_t i = 0; i <= t.data.size(); ++i) {
      BOOST_TEST_CONTEXT(t.name << " cut at " << i) {
        ws::utf8_validator v;
        const bool first = v.feed(t.data.data(), i);
        const bool second = first && v.feed(t.data.data() + i, t.data.size() - i);
        BOOST_TEST(!(second && v.complete()));
        BOOST_TEST(first == (t.fails_at >= i));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(ascii_fast_path_sees_every_position) {
  // feed() skips ASCII eight bytes at a time: put a multi-byte sequence, or a bad byte, at every
  // offset of a buffer longer than two words so both the word loop and the byte loop meet it.
  for (std::size_t length = 0; length <= 40; ++length) {
    for (std::size_t at = 0; at <= length; ++at) {
      bytes s(length, 'x');
      const bytes euro = {0xE2, 0x82, 0xAC};
      s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), euro.begin(), euro.end());
      if (!valid(s)) BOOST_FAIL("euro sign at " << at << " of " << length << " rejected");
      bytes bad(length, 'x');
      bad.insert(bad.begin() + static_cast<std::ptrdiff_t>(at), 0xC0);
      if (valid(bad)) BOOST_FAIL("0xC0 at " << at << " of " << length << " accepted");
      bytes truncated(length, 'x');
      truncated.insert(truncated.begin() + static_cast<std::ptrdiff_t>(at), euro.begin(),
                       euro.begin() + 2);
      if (valid(truncated)) BOOST_FAIL("cut euro sign at " << at << " of " << length);
    }
  }
}

BOOST_AUTO_TEST_CASE(reset_clears_partial_code_point) {
  ws::utf8_validator v;
  const std::uint8_t lead = 0xE2;
  BOOST_TEST(v.feed(&lead, 1));
  BOOST_TEST(!v.complete());
  v.reset();
  BOOST_TEST(v.complete());
  const std::uint8_t ascii = 'a';
  BOOST_TEST(v.feed(&ascii, 1));  // without reset this would be a bad continuation
  BOOST_TEST(v.complete());
}

BOOST_AUTO_TEST_CASE(empty_input) {
  ws::utf8_validator v;
  BOOST_TEST(v.feed(nullptr, 0));
  BOOST_TEST(v.complete());
  BOOST_TEST(ws::is_valid_utf8(nullptr, 0));
}

BOOST_AUTO_TEST_SUITE_END()
