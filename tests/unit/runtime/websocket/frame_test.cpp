// frame_test.cpp: tests of runtime/websocket/frame.hpp, the RFC 6455 frame codec.
//
// The drills of STYLE.md item 10: the examples of RFC 6455 section 5.7 byte for byte; every
// proper prefix gives need_more; whole, byte-at-a-time and random splits give the same events;
// every errc with its close code; length boundaries 125/126/65535/65536; max_message_size at the
// limit and one past (also summed over fragments); control frames inside fragmented messages;
// fail-fast UTF-8; decode(encode(m)) == m for both roles; close payload truncation.
//
// Every decode goes through decode_chunks(), which copies each chunk into a heap buffer of
// exactly its size (so a read past the end is an ASan error in sanitized builds) and checks the
// decode contract on every call: consumed <= size, need_more consumes everything, an event
// consumes at least one byte, and a payload view lies in the input or in the decoder's storage.
#include "runtime/websocket/frame.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace ws = switchboard::runtime::websocket;
using ws::decode_event;
using ws::errc;
using ws::opcode;

namespace {

using key_type = std::array<std::uint8_t, 4>;

// The masking key of the RFC's examples (section 5.7).
constexpr key_type rfc_key = {0x37, 0xfa, 0x21, 0x3d};

std::string wire(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes)
    s.push_back(static_cast<char>(b));
  return s;
}

ws::decoder_options server_options(std::uint64_t max_message_size = 16u << 20) {
  return {ws::role::server, max_message_size, false};
}

ws::decoder_options client_options(std::uint64_t max_message_size = 16u << 20) {
  return {ws::role::client, max_message_size, false};
}

// One decode event, owned (the payload copied out of the view), comparable and printable.
struct event_record {
  int kind = decode_event::need_more;
  int op = 0;
  bool compressed = false;
  std::uint16_t close_code = 0;
  int error = 0;
  std::string payload;

  friend bool operator==(const event_record& a, const event_record& b) {
    return a.kind == b.kind && a.op == b.op && a.compressed == b.compressed &&
           a.close_code == b.close_code && a.error == b.error && a.payload == b.payload;
  }
  friend bool operator!=(const event_record& a, const event_record& b) { return !(a == b); }
  friend std::ostream& operator<<(std::ostream& os, const event_record& e) {
    static const char* const names[] = {"need_more", "message", "ping", "pong", "close", "error"};
    os << '{' << names[e.kind] << " op=" << e.op;
    if (e.compressed) os << " compressed";
    if (e.kind == decode_event::close) os << " code=" << e.close_code;
    if (e.kind == decode_event::error) os << " errc=" << e.error;
    return os << " payload[" << e.payload.size() << "]}";
  }
};

event_record on_message(opcode op, std::string payload, bool compressed = false) {
  return {decode_event::message, static_cast<int>(op), compressed, 0, 0, std::move(payload)};
}
event_record on_ping(std::string payload) {
  return {decode_event::ping, static_cast<int>(opcode::ping), false, 0, 0, std::move(payload)};
}
event_record on_pong(std::string payload) {
  return {decode_event::pong, static_cast<int>(opcode::pong), false, 0, 0, std::move(payload)};
}
event_record on_close(std::uint16_t code, std::string reason = {}) {
  return {decode_event::close, static_cast<int>(opcode::close), false, code, 0, std::move(reason)};
}
event_record on_error(errc e) {
  return {decode_event::error, 0, false, 0, static_cast<int>(e), {}};
}

event_record record(const decode_event& ev) {
  event_record r;
  r.kind = ev.kind;
  r.op = ev.kind == decode_event::error ? 0 : static_cast<int>(ev.op);
  r.compressed = ev.compressed;
  r.close_code = ev.close_code;
  r.error = ev.kind == decode_event::error ? static_cast<int>(ev.error_code) : 0;
  r.payload.assign(ev.payload.data(), ev.payload.size());
  return r;
}

struct decoded {
  std::vector<event_record> events;
  std::size_t consumed = 0;  // input bytes consumed over all calls
  std::size_t views = 0;     // payloads handed out as views into the caller's buffer
  std::size_t renewed = 0;   // chunks after which the decoder was idle and replaced
};

// Feeds `input` to a fresh decoder in chunks of the given sizes (sizes past the end are cut;
// bytes left after the last size form one more chunk), calling decode() until need_more at the
// end of each chunk, and stops at the first error. With `renew_when_idle`, a decoder idle at
// the end of a chunk is replaced by a fresh one, as websocket_stream does between reads.
decoded decode_chunks(std::string_view input, ws::decoder_options options,
                      const std::vector<std::size_t>& sizes = {}, bool renew_when_idle = false) {
  ws::decoder dec(options);
  decoded out;
  std::size_t at = 0;
  for (std::size_t c = 0; c <= sizes.size(); ++c) {
    const std::size_t n =
        c < sizes.size() ? std::min(sizes[c], input.size() - at) : input.size() - at;
    auto buf = std::make_unique<std::uint8_t[]>(n);  // exactly n bytes: ASan sees over-reads
    if (n != 0) std::memcpy(buf.get(), input.data() + at, n);
    at += n;
    std::size_t off = 0;
    for (;;) {
      const decode_event ev = dec.decode(buf.get() + off, n - off);
      BOOST_REQUIRE_LE(ev.consumed, n - off);
      off += ev.consumed;
      out.consumed += ev.consumed;
      if (ev.kind == decode_event::need_more) {
        BOOST_REQUIRE_EQUAL(off, n);  // need_more absorbs all input
        if (renew_when_idle && dec.idle()) {
          dec = ws::decoder(options);
          ++out.renewed;
        }
        break;
      }
      if (ev.kind != decode_event::error) {
        BOOST_REQUIRE_GT(ev.consumed, 0u);  // every event makes progress
        const auto* p = reinterpret_cast<const std::uint8_t*>(ev.payload.data());
        const std::size_t size = ev.payload.size();
        const auto* self = reinterpret_cast<const std::uint8_t*>(&dec);
        if (size != 0 && p >= buf.get() && p + size <= buf.get() + n) {
          ++out.views;                                               // zero copy
        } else if (!(p >= self && p + size <= self + sizeof dec)) {  // not a small-string buffer
          BOOST_REQUIRE_LE(size, dec.buffered());  // then it must be the decoder's heap storage
        }
      }
      out.events.push_back(record(ev));
      if (ev.kind == decode_event::error) return out;
    }
  }
  return out;
}

// A frame built by hand, so tests can produce what encode_header never would: reserved bits,
// non-minimal lengths, wrong masking. `form` forces the length encoding: 7, 16 or 64 bits, or 0
// for the shortest. `length` overrides the declared length (the payload is still appended).
struct raw_frame {
  std::uint8_t b0 = 0x81;
  std::string payload;
  const key_type* key = nullptr;
  int form = 0;
  std::int64_t length = -1;

  std::string bytes() const {
    const std::uint64_t len = length >= 0 ? static_cast<std::uint64_t>(length) : payload.size();
    const int f = form != 0 ? form : len < 126 ? 7 : len <= 0xFFFF ? 16 : 64;
    std::string s;
    s.push_back(static_cast<char>(b0));
    const std::uint8_t m = key ? 0x80 : 0;
    if (f == 7) {
      s.push_back(static_cast<char>(m | len));
    } else if (f == 16) {
      s.push_back(static_cast<char>(m | 126));
      for (int shift = 8; shift >= 0; shift -= 8)
        s.push_back(static_cast<char>(len >> shift));
    } else {
      s.push_back(static_cast<char>(m | 127));
      for (int shift = 56; shift >= 0; shift -= 8)
        s.push_back(static_cast<char>(len >> shift));
    }
    std::string body = payload;
    if (key) {
      s.append(reinterpret_cast<const char*>(key->data()), 4);
      for (std::size_t i = 0; i < body.size(); ++i)
        body[i] ^= static_cast<char>((*key)[i & 3]);
    }
    return s + body;
  }
};

// A whole frame as append_frame() writes it: masked with `key` when given (a client's frame).
std::string frame(opcode op, std::string_view payload, bool fin = true,
                  const key_type* key = nullptr, bool rsv1 = false) {
  std::string out;
  ws::append_frame(out, op, payload, fin, key, rsv1);
  return out;
}

void check_error(std::string_view input, ws::decoder_options options, errc expected,
                 std::uint16_t close_code) {
  const decoded d = decode_chunks(input, options);
  BOOST_REQUIRE(!d.events.empty());
  BOOST_TEST(d.events.back() == on_error(expected));
  BOOST_TEST(ws::close_code_for(expected) == close_code);
}

// Encodes one code point as UTF-8 (scalar values only).
void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Random valid UTF-8 of about `size` bytes, mixing 1- to 4-byte code points.
std::string random_text(std::mt19937& rng, std::size_t size) {
  std::string s;
  while (s.size() < size) {
    std::uint32_t cp = 0;
    switch (rng() % 4) {
      case 0:
        cp = rng() % 0x80;
        break;
      case 1:
        cp = 0x80 + rng() % (0x800 - 0x80);
        break;
      case 2:
        cp = 0x800 + rng() % (0x10000 - 0x800 - 0x800);
        if (cp >= 0xD800) cp += 0x800;  // skip the surrogates
        break;
      default:
        cp = 0x10000 + rng() % (0x110000 - 0x10000);
        break;
    }
    append_utf8(s, cp);
  }
  return s;
}

std::string random_bytes(std::mt19937& rng, std::size_t size) {
  std::string s(size, '\0');
  for (char& c : s)
    c = static_cast<char>(rng());
  return s;
}

std::vector<std::size_t> random_sizes(std::mt19937& rng, std::size_t total, std::size_t max_chunk) {
  std::vector<std::size_t> sizes;
  for (std::size_t sum = 0; sum < total;) {
    const std::size_t n = 1 + rng() % max_chunk;
    sizes.push_back(n);
    sum += n;
  }
  return sizes;
}

// A stream exercising every event kind, as a client sends it (masked) or a server (unmasked):
// a fragmented text message with a ping and a pong between its fragments and a code point cut
// across fragments, a 16-bit-length binary message, an empty message, a close with a reason.
std::string mixed_stream(const key_type* key) {
  std::string s;
  ws::append_frame(s, opcode::text, "Gr\xC3", false, key);  // U+00FC cut after its lead byte
  ws::append_frame(s, opcode::ping, "are you there", true, key);
  ws::append_frame(s, opcode::continuation, "\xBC\xC3\x9F ", false, key);
  ws::append_frame(s, opcode::pong, "", true, key);
  ws::append_frame(s, opcode::continuation, "Gott \xE2\x82\xAC\xF0\x9F\x98\x80", true, key);
  std::string binary(300, '\0');
  for (std::size_t i = 0; i < binary.size(); ++i)
    binary[i] = static_cast<char>(i * 7);
  ws::append_frame(s, opcode::binary, binary, true, key);
  ws::append_frame(s, opcode::text, "", true, key);
  ws::append_frame(s, opcode::close, ws::encode_close_payload(1001, "bye \xCE\xBA"), true, key);
  return s;
}

std::vector<event_record> mixed_stream_events() {
  std::string binary(300, '\0');
  for (std::size_t i = 0; i < binary.size(); ++i)
    binary[i] = static_cast<char>(i * 7);
  return {on_ping("are you there"),
          on_pong(""),
          on_message(opcode::text, "Gr\xC3\xBC\xC3\x9F Gott \xE2\x82\xAC\xF0\x9F\x98\x80"),
          on_message(opcode::binary, binary),
          on_message(opcode::text, ""),
          on_close(1001, "bye \xCE\xBA")};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(websocket_frame)

// --- RFC 6455 section 5.7: the examples, byte for byte ------------------------------------------

BOOST_AUTO_TEST_CASE(single_frame_unmasked_text_rfc6455_5_7) {
  const std::string bytes = wire({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
  BOOST_TEST(frame(opcode::text, "Hello") == bytes);
  const decoded d = decode_chunks(bytes, client_options());
  BOOST_TEST(d.events == std::vector<event_record>{on_message(opcode::text, "Hello")});
  BOOST_TEST(d.consumed == 7u);
  BOOST_TEST(d.views == 1u);  // whole in one buffer: a view, no copy
}

BOOST_AUTO_TEST_CASE(single_frame_masked_text_rfc6455_5_7) {
  const std::string bytes =
      wire({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  BOOST_TEST(frame(opcode::text, "Hello", true, &rfc_key) == bytes);
  const decoded d = decode_chunks(bytes, server_options());
  BOOST_TEST(d.events == std::vector<event_record>{on_message(opcode::text, "Hello")});
  BOOST_TEST(d.views == 1u);  // unmasked in place
}

BOOST_AUTO_TEST_CASE(fragmented_unmasked_text_rfc6455_5_7) {
  const std::string first = wire({0x01, 0x03, 0x48, 0x65, 0x6c});
  const std::string second = wire({0x80, 0x02, 0x6c, 0x6f});
  BOOST_TEST(frame(opcode::text, "Hel", false) == first);
  BOOST_TEST(frame(opcode::continuation, "lo") == second);

  ws::decoder dec(client_options());
  std::string buf = first + second;
  auto* p = reinterpret_cast<std::uint8_t*>(buf.data());
  decode_event ev = dec.decode(p, first.size());
  BOOST_TEST(ev.kind == decode_event::need_more);
  BOOST_TEST(ev.consumed == first.size());
  BOOST_TEST(dec.in_message());
  ev = dec.decode(p + first.size(), second.size());
  BOOST_TEST(record(ev) == on_message(opcode::text, "Hello"));
  BOOST_TEST(ev.consumed == second.size());
  BOOST_TEST(!dec.in_message());
}

BOOST_AUTO_TEST_CASE(unmasked_ping_and_masked_pong_rfc6455_5_7) {
  const std::string ping_bytes = wire({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
  BOOST_TEST(frame(opcode::ping, "Hello") == ping_bytes);
  BOOST_TEST(decode_chunks(ping_bytes, client_options()).events ==
             std::vector<event_record>{on_ping("Hello")});

  const std::string pong_bytes =
      wire({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  BOOST_TEST(frame(opcode::pong, "Hello", true, &rfc_key) == pong_bytes);
  BOOST_TEST(decode_chunks(pong_bytes, server_options()).events ==
             std::vector<event_record>{on_pong("Hello")});
}

BOOST_AUTO_TEST_CASE(binary_256_bytes_16bit_length_rfc6455_5_7) {
  std::uint8_t header[ws::max_frame_header];
  const std::size_t n = ws::encode_header(header, opcode::binary, true, 256);
  BOOST_TEST(std::string(reinterpret_cast<char*>(header), n) == wire({0x82, 0x7E, 0x01, 0x00}));
  const std::string payload(256, '\xAB');
  const std::string bytes = wire({0x82, 0x7E, 0x01, 0x00}) + payload;
  BOOST_TEST(frame(opcode::binary, payload) == bytes);
  BOOST_TEST(decode_chunks(bytes, client_options()).events ==
             std::vector<event_record>{on_message(opcode::binary, payload)});
}

BOOST_AUTO_TEST_CASE(binary_64kib_64bit_length_rfc6455_5_7) {
  std::uint8_t header[ws::max_frame_header];
  const std::size_t n = ws::encode_header(header, opcode::binary, true, 65536);
  const std::string expected = wire({0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00});
  BOOST_TEST(std::string(reinterpret_cast<char*>(header), n) == expected);
  std::string payload(65536, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>(i ^ (i >> 8));
  BOOST_TEST(frame(opcode::binary, payload) == expected + payload);
  BOOST_TEST(decode_chunks(expected + payload, client_options()).events ==
             std::vector<event_record>{on_message(opcode::binary, payload)});
}

// --- Streaming: prefixes and splits --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(every_proper_prefix_needs_more_rfc6455_5_2) {
  std::string big(70000, 'b');
  const std::vector<std::pair<std::string, ws::decoder_options>> samples = {
      {wire({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}), client_options()},
      {wire({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}), server_options()},
      {frame(opcode::text, "", true, &rfc_key), server_options()},
      {frame(opcode::binary, std::string(126, 'x')), client_options()},
      {frame(opcode::binary, std::string(300, 'x'), true, &rfc_key), server_options()},
      {frame(opcode::binary, big), client_options()},
      {frame(opcode::binary, big, true, &rfc_key), server_options()},
      {frame(opcode::ping, std::string(125, 'p'), true, &rfc_key), server_options()},
      {frame(opcode::close, ws::encode_close_payload(1000, "done"), true, &rfc_key),
       server_options()},
      {frame(opcode::text, "Hel", false) + frame(opcode::continuation, "lo"), client_options()},
      {frame(opcode::text, "\xE2\x82\xAC", true, &rfc_key), server_options()},
  };
  for (const auto& [bytes, options] : samples) {
    const std::size_t step = bytes.size() > 1000 ? 97 : 1;  // big frames: sample the payload
    for (std::size_t k = 0; k < bytes.size(); k = k < 20 ? k + 1 : k + step) {
      BOOST_TEST_CONTEXT("frame of " << bytes.size() << " bytes, prefix " << k) {
        ws::decoder dec(options);
        std::string copy = bytes.substr(0, k);
        const decode_event ev = dec.decode(reinterpret_cast<std::uint8_t*>(copy.data()), k);
        BOOST_TEST(ev.kind == decode_event::need_more);
        BOOST_TEST(ev.consumed == k);
      }
    }
    BOOST_TEST(decode_chunks(bytes, options).events.size() == 1u);
  }
}

BOOST_AUTO_TEST_CASE(one_byte_at_a_time_same_events_rfc6455_5_2) {
  for (const bool masked : {true, false}) {
    BOOST_TEST_CONTEXT((masked ? "client to server" : "server to client")) {
      const std::string bytes = mixed_stream(masked ? &rfc_key : nullptr);
      const auto options = masked ? server_options() : client_options();
      const decoded whole = decode_chunks(bytes, options);
      BOOST_TEST(whole.events == mixed_stream_events());
      BOOST_TEST(whole.consumed == bytes.size());
      const decoded bytewise =
          decode_chunks(bytes, options, std::vector<std::size_t>(bytes.size(), 1));
      BOOST_TEST(bytewise.events == whole.events);
      BOOST_TEST(bytewise.consumed == bytes.size());
    }
  }
}

BOOST_AUTO_TEST_CASE(every_two_piece_split_same_events_rfc6455_5_2) {
  for (const bool masked : {true, false}) {
    const std::string bytes = mixed_stream(masked ? &rfc_key : nullptr);
    const auto options = masked ? server_options() : client_options();
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
      const decoded d = decode_chunks(bytes, options, {cut});
      if (d.events != mixed_stream_events()) BOOST_FAIL("different events when cut at " << cut);
    }
  }
}

// websocket_stream keeps a decoder only while something is cut across reads: a decoder that
// says it is idle must be replaceable by a fresh one at any read boundary.
BOOST_AUTO_TEST_CASE(idle_decoder_replaced_between_reads_same_events) {
  for (const bool masked : {true, false}) {
    const std::string bytes = mixed_stream(masked ? &rfc_key : nullptr);
    const auto options = masked ? server_options() : client_options();
    const decoded bytewise =
        decode_chunks(bytes, options, std::vector<std::size_t>(bytes.size(), 1), true);
    BOOST_TEST(bytewise.events == mixed_stream_events());
    // Idle only between frames outside the fragmented message: some reads, far from all.
    BOOST_TEST(bytewise.renewed > 0u);
    BOOST_TEST(bytewise.renewed < bytes.size() / 4);
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
      const decoded d = decode_chunks(bytes, options, {cut}, true);
      if (d.events != mixed_stream_events()) BOOST_FAIL("different events when cut at " << cut);
    }
  }
  ws::decoder dec(server_options());
  BOOST_TEST(dec.idle());
  std::string text;
  ws::append_frame(text, opcode::text, "hello", true, &rfc_key);
  auto* p = reinterpret_cast<std::uint8_t*>(text.data());
  BOOST_TEST(dec.decode(p, 1).kind == decode_event::need_more);  // a header cut short
  BOOST_TEST(!dec.idle());
  BOOST_TEST(dec.decode(p + 1, 7).kind == decode_event::need_more);  // a payload cut short
  BOOST_TEST(!dec.idle());
  BOOST_TEST(dec.decode(p + 8, text.size() - 8).kind == decode_event::message);
  BOOST_TEST(dec.idle());
}

BOOST_AUTO_TEST_CASE(random_splits_same_events_rfc6455_5_2) {
  std::mt19937 rng(6455);
  for (int round = 0; round < 400; ++round) {
    const bool masked = round % 2 == 0;
    const std::string bytes = mixed_stream(masked ? &rfc_key : nullptr);
    const auto options = masked ? server_options() : client_options();
    const auto sizes = random_sizes(rng, bytes.size(), round < 200 ? 8 : 64);
    const decoded d = decode_chunks(bytes, options, sizes);
    if (d.events != mixed_stream_events()) BOOST_FAIL("different events in round " << round);
  }
}

BOOST_AUTO_TEST_CASE(unfragmented_message_is_a_view_into_the_input) {
  std::string bytes = frame(opcode::binary, "payload", true, &rfc_key);
  ws::decoder dec(server_options());
  auto* p = reinterpret_cast<std::uint8_t*>(bytes.data());
  const decode_event ev = dec.decode(p, bytes.size());
  BOOST_TEST(record(ev) == on_message(opcode::binary, "payload"));
  BOOST_TEST(reinterpret_cast<const std::uint8_t*>(ev.payload.data()) ==
             p + 6);  // unmasked in place
}

BOOST_AUTO_TEST_CASE(assembled_message_is_released_on_the_next_call) {
  // STYLE.md item 4: a payload spanning reads is held only while its message is in flight.
  const std::string bytes = frame(opcode::binary, std::string(1000, 'a'), false, &rfc_key) +
                            frame(opcode::continuation, std::string(1000, 'b'), true, &rfc_key) +
                            frame(opcode::ping, std::string(100, 'p'), true, &rfc_key);
  ws::decoder dec(server_options());
  const std::size_t idle = dec.buffered();
  BOOST_TEST(idle == 0u);
  std::string copy = bytes;
  auto* p = reinterpret_cast<std::uint8_t*>(copy.data());
  std::size_t off = 0;
  decode_event ev = dec.decode(p, 1500);  // first frame and half of the second
  BOOST_TEST(ev.kind == decode_event::need_more);
  off += ev.consumed;
  BOOST_TEST(dec.buffered() >= 1000u);
  ev = dec.decode(p + off, 600);  // the rest of the message and the start of the ping
  BOOST_TEST(record(ev) ==
             on_message(opcode::binary, std::string(1000, 'a') + std::string(1000, 'b')));
  off += ev.consumed;
  ev = dec.decode(p + off, copy.size() - off - 50);  // the ping, cut short
  BOOST_TEST(ev.kind == decode_event::need_more);
  off += ev.consumed;
  ev = dec.decode(p + off, copy.size() - off);
  BOOST_TEST(record(ev) == on_ping(std::string(100, 'p')));
  off += ev.consumed;
  ev = dec.decode(p + off, 0);
  BOOST_TEST(ev.kind == decode_event::need_more);
  BOOST_TEST(dec.buffered() == 0u);  // idle again: nothing held
}

// --- Header rules (section 5.2) --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(reserved_opcode_rfc6455_5_2) {
  for (int op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    BOOST_TEST_CONTEXT("opcode " << op) {
      check_error(raw_frame{static_cast<std::uint8_t>(0x80 | op), "x", &rfc_key}.bytes(),
                  server_options(), errc::bad_opcode, ws::close_code::protocol_error);
      check_error(raw_frame{static_cast<std::uint8_t>(0x80 | op), "x"}.bytes(), client_options(),
                  errc::bad_opcode, ws::close_code::protocol_error);
    }
  }
}

BOOST_AUTO_TEST_CASE(reserved_bits_rfc6455_5_2) {
  for (std::uint8_t rsv : {0x40, 0x20, 0x10, 0x70}) {
    BOOST_TEST_CONTEXT("rsv bits " << int(rsv)) {
      check_error(raw_frame{static_cast<std::uint8_t>(0x81 | rsv), "x", &rfc_key}.bytes(),
                  server_options(), errc::reserved_bits_set, ws::close_code::protocol_error);
    }
  }
  // With permessage-deflate RSV1 is allowed, RSV2 and RSV3 still are not.
  auto deflate = server_options();
  deflate.allow_rsv1 = true;
  check_error(raw_frame{0xA1, "x", &rfc_key}.bytes(), deflate, errc::reserved_bits_set, 1002);
  check_error(raw_frame{0x91, "x", &rfc_key}.bytes(), deflate, errc::reserved_bits_set, 1002);
}

BOOST_AUTO_TEST_CASE(rsv1_marks_compressed_message_rfc7692_6) {
  auto deflate = server_options();
  deflate.allow_rsv1 = true;
  // A compressed text message is not UTF-8 checked here: the inflating layer does that.
  const std::string deflated = "\xF2\x48\xCD\xC9\xC9\x07\x00";
  const decoded d =
      decode_chunks(frame(opcode::text, deflated, true, &rfc_key, true), deflate, {3});
  BOOST_TEST(d.events == std::vector<event_record>{on_message(opcode::text, deflated, true)});
  // RFC 7692 section 6: RSV1 only on the first frame of a message, never on control frames.
  check_error(frame(opcode::ping, "", true, &rfc_key, true), deflate, errc::reserved_bits_set,
              1002);
  check_error(frame(opcode::binary, "a", false, &rfc_key, true) +
                  frame(opcode::continuation, "b", true, &rfc_key, true),
              deflate, errc::reserved_bits_set, 1002);
  // The compressed flag belongs to the message: carried to its end through continuations.
  const decoded fragmented = decode_chunks(frame(opcode::binary, "a", false, &rfc_key, true) +
                                               frame(opcode::continuation, "b", true, &rfc_key),
                                           deflate);
  BOOST_TEST(fragmented.events ==
             std::vector<event_record>{on_message(opcode::binary, "ab", true)});
}

BOOST_AUTO_TEST_CASE(unmasked_client_frame_rfc6455_5_1) {
  check_error(frame(opcode::text, "Hello"), server_options(), errc::unmasked_client_frame,
              ws::close_code::protocol_error);
  check_error(frame(opcode::ping, ""), server_options(), errc::unmasked_client_frame, 1002);
}

BOOST_AUTO_TEST_CASE(masked_server_frame_rfc6455_5_1) {
  check_error(frame(opcode::text, "Hello", true, &rfc_key), client_options(),
              errc::masked_server_frame, ws::close_code::protocol_error);
}

BOOST_AUTO_TEST_CASE(errors_fail_fast_on_the_first_two_bytes_rfc6455_5_2) {
  // Rules decidable from the first two bytes fail before the rest of the header arrives.
  struct sample {
    std::string two_bytes;
    ws::decoder_options options;
    errc expected;
  };
  const std::vector<sample> samples = {
      {wire({0x83, 0xFF}), server_options(), errc::bad_opcode},
      {wire({0xC1, 0xFF}), server_options(), errc::reserved_bits_set},
      {wire({0x81, 0x7F}), server_options(), errc::unmasked_client_frame},
      {wire({0x81, 0xFE}), client_options(), errc::masked_server_frame},
      {wire({0x09, 0x80}), server_options(), errc::fragmented_control},
      {wire({0x89, 0xFE}), server_options(), errc::control_too_long},
      {wire({0x80, 0xFF}), server_options(), errc::unexpected_continuation},
  };
  for (const sample& s : samples) {
    BOOST_TEST_CONTEXT("errc " << static_cast<int>(s.expected)) {
      const decoded d = decode_chunks(s.two_bytes, s.options, {1});
      BOOST_TEST(d.events == std::vector<event_record>{on_error(s.expected)});
    }
  }
}

BOOST_AUTO_TEST_CASE(fragmented_control_rfc6455_5_5) {
  for (std::uint8_t op : {0x8, 0x9, 0xA}) {
    check_error(raw_frame{op, "", &rfc_key}.bytes(), server_options(), errc::fragmented_control,
                ws::close_code::protocol_error);
  }
}

BOOST_AUTO_TEST_CASE(control_payload_125_and_126_rfc6455_5_5) {
  const std::string p125(125, 'p');
  BOOST_TEST(decode_chunks(frame(opcode::ping, p125, true, &rfc_key), server_options()).events ==
             std::vector<event_record>{on_ping(p125)});
  BOOST_TEST(decode_chunks(frame(opcode::pong, p125), client_options()).events ==
             std::vector<event_record>{on_pong(p125)});
  // 126 bytes needs the 16-bit length form, which control frames may not use.
  check_error(raw_frame{0x89, std::string(126, 'p'), &rfc_key}.bytes(), server_options(),
              errc::control_too_long, ws::close_code::protocol_error);
  check_error(raw_frame{0x8A, std::string(126, 'p')}.bytes(), client_options(),
              errc::control_too_long, 1002);
  check_error(raw_frame{0x88, "\x03\xE8", &rfc_key, 64, 70000}.bytes(), server_options(),
              errc::control_too_long, 1002);
}

BOOST_AUTO_TEST_CASE(non_minimal_length_rfc6455_5_2) {
  // "the minimal number of bytes MUST be used to encode the length"
  check_error(raw_frame{0x82, std::string(125, 'x'), &rfc_key, 16}.bytes(), server_options(),
              errc::non_minimal_length, ws::close_code::protocol_error);
  check_error(raw_frame{0x82, "", &rfc_key, 16}.bytes(), server_options(), errc::non_minimal_length,
              1002);
  check_error(raw_frame{0x82, std::string(65535, 'x'), &rfc_key, 64}.bytes(), server_options(),
              errc::non_minimal_length, 1002);
  check_error(raw_frame{0x82, std::string(125, 'x'), nullptr, 64}.bytes(), client_options(),
              errc::non_minimal_length, 1002);
}

BOOST_AUTO_TEST_CASE(length_msb_set_rfc6455_5_2) {
  // "the most significant bit MUST be 0"
  const std::string bytes = wire({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0}) + "\x01\x02\x03\x04";
  check_error(bytes, server_options(0), errc::length_msb_set, ws::close_code::protocol_error);
  check_error(wire({0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}), client_options(0),
              errc::length_msb_set, 1002);
  // The largest legal length is accepted when there is no size limit (the payload never comes).
  const decoded d =
      decode_chunks(wire({0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 'a', 'b'}),
                    client_options(0));
  BOOST_TEST(d.events.empty());
  BOOST_TEST(d.consumed == 12u);
}

BOOST_AUTO_TEST_CASE(length_boundaries_rfc6455_5_2) {
  struct boundary {
    std::size_t length;
    std::size_t header;  // unmasked header size
  };
  for (const boundary b : {boundary{0, 2}, boundary{125, 2}, boundary{126, 4}, boundary{65535, 4},
                           boundary{65536, 10}, boundary{65537, 10}}) {
    BOOST_TEST_CONTEXT("length " << b.length) {
      std::uint8_t h[ws::max_frame_header];
      BOOST_TEST(ws::encode_header(h, opcode::binary, true, b.length) == b.header);
      BOOST_TEST(ws::encode_header(h, opcode::binary, true, b.length, &rfc_key) == b.header + 4);
      std::string payload(b.length, '\0');
      for (std::size_t i = 0; i < payload.size(); ++i)
        payload[i] = static_cast<char>(i * 31);
      const std::vector<event_record> expected = {on_message(opcode::binary, payload)};
      BOOST_TEST(decode_chunks(frame(opcode::binary, payload), client_options()).events ==
                 expected);
      BOOST_TEST(
          decode_chunks(frame(opcode::binary, payload, true, &rfc_key), server_options()).events ==
          expected);
      // Header cut after every byte, the payload in one piece.
      for (std::size_t cut = 1; cut < b.header + 4; ++cut)
        BOOST_TEST(
            decode_chunks(frame(opcode::binary, payload, true, &rfc_key), server_options(), {cut})
                .events == expected);
    }
  }
  // The 64-bit form's largest header, as encode_header writes it.
  std::uint8_t h[ws::max_frame_header];
  BOOST_TEST(ws::encode_header(h, opcode::binary, false, 0x7FFFFFFFFFFFFFFFull, &rfc_key) ==
             ws::max_frame_header);
  BOOST_TEST(
      std::string(reinterpret_cast<char*>(h), 14) ==
      wire({0x02, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x37, 0xfa, 0x21, 0x3d}));
}

// --- Fragmentation (section 5.4) -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(unexpected_continuation_rfc6455_5_4) {
  check_error(frame(opcode::continuation, "lo", true, &rfc_key), server_options(),
              errc::unexpected_continuation, ws::close_code::protocol_error);
  // Also after a message has finished.
  check_error(frame(opcode::text, "Hel") + frame(opcode::continuation, "lo"), client_options(),
              errc::unexpected_continuation, 1002);
}

BOOST_AUTO_TEST_CASE(expected_continuation_rfc6455_5_4) {
  check_error(
      frame(opcode::text, "Hel", false, &rfc_key) + frame(opcode::text, "lo", true, &rfc_key),
      server_options(), errc::expected_continuation, ws::close_code::protocol_error);
  check_error(frame(opcode::binary, "a", false) + frame(opcode::binary, "b", false),
              client_options(), errc::expected_continuation, 1002);
}

BOOST_AUTO_TEST_CASE(control_frames_interleaved_in_fragmented_message_rfc6455_5_4) {
  const std::string bytes =
      frame(opcode::text, "He", false, &rfc_key) + frame(opcode::ping, "1", true, &rfc_key) +
      frame(opcode::continuation, "l", false, &rfc_key) + frame(opcode::pong, "2", true, &rfc_key) +
      frame(opcode::ping, std::string(125, '3'), true, &rfc_key) +
      frame(opcode::continuation, "lo", true, &rfc_key);
  const std::vector<event_record> expected = {on_ping("1"), on_pong("2"),
                                              on_ping(std::string(125, '3')),
                                              on_message(opcode::text, "Hello")};
  BOOST_TEST(decode_chunks(bytes, server_options()).events == expected);
  BOOST_TEST(
      decode_chunks(bytes, server_options(), std::vector<std::size_t>(bytes.size(), 1)).events ==
      expected);
  // A close may also arrive mid-message; the decoder reports it, the message stays open.
  ws::decoder dec(client_options());
  std::string two =
      frame(opcode::binary, "ab", false) + frame(opcode::close, ws::encode_close_payload(1000, ""));
  auto* p = reinterpret_cast<std::uint8_t*>(two.data());
  const decode_event ev = dec.decode(p, two.size());
  BOOST_TEST(record(ev) == on_close(1000));
  BOOST_TEST(dec.in_message());
}

BOOST_AUTO_TEST_CASE(empty_fragments_rfc6455_5_4) {
  const std::string bytes =
      frame(opcode::binary, "", false) + frame(opcode::continuation, "", false) +
      frame(opcode::continuation, "x", false) + frame(opcode::continuation, "");
  BOOST_TEST(decode_chunks(bytes, client_options()).events ==
             std::vector<event_record>{on_message(opcode::binary, "x")});
}

// --- Limits --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(max_message_size_at_limit_and_one_past) {
  const std::uint64_t limit = 1000;
  const std::string at(limit, 'a');
  BOOST_TEST(
      decode_chunks(frame(opcode::binary, at, true, &rfc_key), server_options(limit)).events ==
      std::vector<event_record>{on_message(opcode::binary, at)});
  check_error(frame(opcode::binary, at + "a", true, &rfc_key), server_options(limit),
              errc::message_too_big, ws::close_code::message_too_big);
  check_error(frame(opcode::text, at + "a"), client_options(limit), errc::message_too_big, 1009);
  // Boundaries of the length forms.
  BOOST_TEST(decode_chunks(frame(opcode::binary, std::string(125, 'x')), client_options(125))
                 .events.size() == 1u);
  check_error(frame(opcode::binary, std::string(126, 'x')), client_options(125),
              errc::message_too_big, 1009);
  // 0 means no limit.
  BOOST_TEST(decode_chunks(frame(opcode::binary, std::string(1 << 20, 'x')), client_options(0))
                 .events.size() == 1u);
}

BOOST_AUTO_TEST_CASE(max_message_size_summed_over_fragments_rfc6455_5_4) {
  const std::uint64_t limit = 100;
  const std::string ok = frame(opcode::text, std::string(60, 'a'), false, &rfc_key) +
                         frame(opcode::ping, std::string(125, 'p'), true, &rfc_key) +
                         frame(opcode::continuation, std::string(40, 'b'), true, &rfc_key);
  // Control frames do not count towards the message.
  BOOST_TEST(decode_chunks(ok, server_options(limit)).events ==
             (std::vector<event_record>{
                 on_ping(std::string(125, 'p')),
                 on_message(opcode::text, std::string(60, 'a') + std::string(40, 'b'))}));
  const std::string past = frame(opcode::text, std::string(60, 'a'), false, &rfc_key) +
                           frame(opcode::continuation, std::string(40, 'b'), false, &rfc_key) +
                           frame(opcode::continuation, "c", true, &rfc_key);
  check_error(past, server_options(limit), errc::message_too_big, 1009);
  // The count starts again with the next message.
  const std::string two = frame(opcode::binary, std::string(100, 'a')) +
                          frame(opcode::binary, std::string(60, 'b'), false) +
                          frame(opcode::continuation, std::string(40, 'c'));
  BOOST_TEST(decode_chunks(two, client_options(limit)).events.size() == 2u);
}

BOOST_AUTO_TEST_CASE(max_message_size_fails_before_the_payload_arrives) {
  // Only the header is fed: the error must not wait for (or buffer) the payload.
  std::uint8_t h[ws::max_frame_header];
  const std::size_t n = ws::encode_header(h, opcode::binary, true, (16u << 20) + 1, &rfc_key);
  const decoded d = decode_chunks({reinterpret_cast<char*>(h), n}, server_options());
  BOOST_TEST(d.events == std::vector<event_record>{on_error(errc::message_too_big)});
  // At the default limit exactly: accepted, waiting for the payload.
  const std::size_t m = ws::encode_header(h, opcode::binary, true, 16u << 20, &rfc_key);
  const decoded at = decode_chunks({reinterpret_cast<char*>(h), m}, server_options());
  BOOST_TEST(at.events.empty());
  BOOST_TEST(at.consumed == m);
  // The sum over fragments too: the second header alone trips it.
  const std::string first = frame(opcode::binary, std::string(10, 'a'), false, &rfc_key);
  const std::size_t k = ws::encode_header(h, opcode::continuation, true, 91, &rfc_key);
  const decoded sum =
      decode_chunks(first + std::string(reinterpret_cast<char*>(h), k), server_options(100));
  BOOST_TEST(sum.events == std::vector<event_record>{on_error(errc::message_too_big)});
}

// --- UTF-8 (sections 5.6 and 8.1) -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(invalid_utf8_text_rfc6455_8_1) {
  for (const std::string bad :
       {"\xFF", "a\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "ok\x80", "\xE2\x82"}) {
    check_error(frame(opcode::text, bad, true, &rfc_key), server_options(), errc::invalid_utf8,
                ws::close_code::invalid_payload);
    check_error(frame(opcode::text, bad), client_options(), errc::invalid_utf8, 1007);
  }
  // Binary messages are not checked.
  BOOST_TEST(decode_chunks(frame(opcode::binary, "\xFF\xC0"), client_options()).events ==
             std::vector<event_record>{on_message(opcode::binary, "\xFF\xC0")});
}

BOOST_AUTO_TEST_CASE(invalid_utf8_fails_fast_rfc6455_8_1) {
  // "fail the WebSocket connection" as soon as the bytes cannot be valid: the frame declares
  // 100 bytes, the error comes with byte 3, long before the frame is complete.
  std::uint8_t h[ws::max_frame_header];
  const std::size_t n = ws::encode_header(h, opcode::text, true, 100, &rfc_key);
  std::string bytes(reinterpret_cast<char*>(h), n);
  std::string payload = "ab\xC0";
  for (std::size_t i = 0; i < payload.size(); ++i)
    payload[i] ^= static_cast<char>(rfc_key[i & 3]);
  bytes += payload;
  const decoded whole = decode_chunks(bytes, server_options());
  BOOST_TEST(whole.events == std::vector<event_record>{on_error(errc::invalid_utf8)});
  // Byte at a time: need_more until exactly the bad byte.
  ws::decoder dec(server_options());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto* p = reinterpret_cast<std::uint8_t*>(&bytes[i]);
    const decode_event ev = dec.decode(p, 1);
    if (i + 1 < bytes.size()) {
      BOOST_TEST(ev.kind == decode_event::need_more);
    } else {
      BOOST_TEST(record(ev) == on_error(errc::invalid_utf8));
    }
  }
  // In a later fragment of a message, likewise.
  const std::string fragments =
      frame(opcode::text, "fine", false) + wire({0x00, 0x7E, 0x01, 0x00}) + "still fine \xF5";
  BOOST_TEST(decode_chunks(fragments, client_options()).events ==
             std::vector<event_record>{on_error(errc::invalid_utf8)});
}

BOOST_AUTO_TEST_CASE(code_point_split_across_fragments_rfc6455_5_6) {
  // The euro sign E2 82 AC cut at both positions, and a 4-byte character over three fragments.
  BOOST_TEST(
      decode_chunks(frame(opcode::text, "\xE2", false) + frame(opcode::continuation, "\x82\xAC"),
                    client_options())
          .events == std::vector<event_record>{on_message(opcode::text, "\xE2\x82\xAC")});
  BOOST_TEST(
      decode_chunks(frame(opcode::text, "\xE2\x82", false) + frame(opcode::continuation, "\xAC"),
                    client_options())
          .events == std::vector<event_record>{on_message(opcode::text, "\xE2\x82\xAC")});
  BOOST_TEST(decode_chunks(frame(opcode::text, "\xF0", false, &rfc_key) +
                               frame(opcode::continuation, "\x9F\x98", false, &rfc_key) +
                               frame(opcode::continuation, "\x80", true, &rfc_key),
                           server_options())
                 .events ==
             std::vector<event_record>{on_message(opcode::text, "\xF0\x9F\x98\x80")});
  // A bad continuation in the next fragment fails at its first byte.
  check_error(frame(opcode::text, "\xE2", false) + frame(opcode::continuation, "A\xAC"),
              client_options(), errc::invalid_utf8, 1007);
}

BOOST_AUTO_TEST_CASE(truncated_utf8_at_message_end_rfc6455_8_1) {
  check_error(frame(opcode::text, "ab\xE2\x82"), client_options(), errc::invalid_utf8, 1007);
  check_error(frame(opcode::text, "ab", false) + frame(opcode::continuation, "\xF0\x9F"),
              client_options(), errc::invalid_utf8, 1007);
  // The validator restarts with each message: a clean message after a clean message.
  BOOST_TEST(decode_chunks(frame(opcode::text, "\xC3\xA9") + frame(opcode::text, "\xC3\xA9"),
                           client_options())
                 .events.size() == 2u);
}

// --- Close frames (sections 5.5.1 and 7.4) --------------------------------------------------

BOOST_AUTO_TEST_CASE(close_without_code_rfc6455_7_1_5) {
  BOOST_TEST(decode_chunks(frame(opcode::close, "", true, &rfc_key), server_options()).events ==
             std::vector<event_record>{on_close(ws::close_code::no_status)});
  BOOST_TEST(ws::encode_close_payload(0, "ignored").empty());
}

BOOST_AUTO_TEST_CASE(close_with_code_and_reason_rfc6455_5_5_1) {
  const std::string payload = ws::encode_close_payload(1000, "bye");
  BOOST_TEST(payload == wire({0x03, 0xE8, 'b', 'y', 'e'}));
  BOOST_TEST(
      decode_chunks(frame(opcode::close, payload, true, &rfc_key), server_options()).events ==
      std::vector<event_record>{on_close(1000, "bye")});
  // Cut across buffers: the reason comes from the decoder's control buffer.
  BOOST_TEST(decode_chunks(frame(opcode::close, payload), client_options(), {4}).events ==
             std::vector<event_record>{on_close(1000, "bye")});
}

BOOST_AUTO_TEST_CASE(close_one_byte_payload_rfc6455_5_5_1) {
  check_error(frame(opcode::close, "\x03", true, &rfc_key), server_options(),
              errc::bad_close_payload, ws::close_code::protocol_error);
}

BOOST_AUTO_TEST_CASE(close_codes_rfc6455_7_4) {
  for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                             3000, 3999, 4000, 4999}) {
    BOOST_TEST_CONTEXT("code " << code) {
      BOOST_TEST(
          decode_chunks(frame(opcode::close, ws::encode_close_payload(code, "r")), client_options())
              .events == std::vector<event_record>{on_close(code, "r")});
    }
  }
  // Reserved or unassigned codes, and the ones never sent (1005, 1006, 1015).
  for (std::uint16_t code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}) {
    BOOST_TEST_CONTEXT("code " << code) {
      const std::string payload = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
      check_error(frame(opcode::close, payload, true, &rfc_key), server_options(),
                  errc::bad_close_code, ws::close_code::protocol_error);
    }
  }
}

BOOST_AUTO_TEST_CASE(close_invalid_reason_rfc6455_5_5_1) {
  // "the body MAY contain UTF-8-encoded data" - and if it does not, that is a 1007.
  check_error(frame(opcode::close, ws::encode_close_payload(1000, "\xC3"), true, &rfc_key),
              server_options(), errc::invalid_utf8, ws::close_code::invalid_payload);
  check_error(frame(opcode::close, ws::encode_close_payload(1000, "ok\xED\xA0\x80")),
              client_options(), errc::invalid_utf8, 1007);
}

BOOST_AUTO_TEST_CASE(encode_close_payload_truncates_on_code_point_rfc6455_5_5) {
  // ASCII: kept up to 123 bytes (125 minus the code).
  BOOST_TEST(ws::encode_close_payload(1000, std::string(123, 'r')).size() == 125u);
  BOOST_TEST(ws::encode_close_payload(1000, std::string(124, 'r')).size() == 125u);
  BOOST_TEST(ws::encode_close_payload(1000, std::string(500, 'r')).size() == 125u);
  // Multi-byte characters at every alignment: the result is valid UTF-8, fits, and keeps the
  // longest whole-character prefix.
  for (const std::string ch : {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"}) {
    for (std::size_t lead = 0; lead < 4; ++lead) {
      std::string reason(lead, 'x');
      while (reason.size() < 200)
        reason += ch;
      const std::string payload = ws::encode_close_payload(4000, reason);
      BOOST_TEST_CONTEXT(ch.size() << "-byte characters after " << lead << " ASCII") {
        BOOST_TEST(payload.size() <= ws::max_control_payload);
        BOOST_TEST(payload.size() > ws::max_control_payload - ch.size());  // longest prefix
        BOOST_TEST(ws::is_valid_utf8(reinterpret_cast<const std::uint8_t*>(payload.data()) + 2,
                                     payload.size() - 2));
        BOOST_TEST(payload.substr(2) == reason.substr(0, payload.size() - 2));
        // And the peer accepts it.
        BOOST_TEST(decode_chunks(frame(opcode::close, payload), client_options()).events ==
                   std::vector<event_record>{on_close(4000, payload.substr(2))});
      }
    }
  }
}

// --- Masking (section 5.3) and round trips --------------------------------------------------

BOOST_AUTO_TEST_CASE(mask_offset_rfc6455_5_3) {
  // "octet i of the transformed data is the XOR of octet i of the original data with octet at
  // index i modulo 4 of the masking key": masking in pieces with offsets equals masking whole.
  std::mt19937 rng(53);
  for (std::size_t size = 0; size <= 40; ++size) {
    const std::string plain = random_bytes(rng, size);
    std::string whole = plain;
    ws::mask(reinterpret_cast<std::uint8_t*>(whole.data()), size, rfc_key);
    for (std::size_t i = 0; i < size; ++i)
      BOOST_REQUIRE(static_cast<std::uint8_t>(whole[i]) ==
                    (static_cast<std::uint8_t>(plain[i]) ^ rfc_key[i % 4]));
    for (std::size_t cut = 0; cut <= size; ++cut) {
      std::string pieces = plain;
      auto* p = reinterpret_cast<std::uint8_t*>(pieces.data());
      ws::mask(p, cut, rfc_key, 0);
      ws::mask(p + cut, size - cut, rfc_key, cut);
      BOOST_REQUIRE(pieces == whole);
    }
    ws::mask(reinterpret_cast<std::uint8_t*>(whole.data()), size, rfc_key);  // an involution
    BOOST_REQUIRE(whole == plain);
  }
}

// A random message sent as random fragments with random control frames between them.
struct sent_stream {
  std::string bytes;
  std::vector<event_record> events;
};

sent_stream random_stream(std::mt19937& rng, bool masked) {
  static const std::size_t sizes[] = {0, 1, 2, 3, 4, 7, 8, 9, 125, 126, 127, 65535, 65536, 65537};
  sent_stream s;
  for (int m = 0, messages = 1 + static_cast<int>(rng() % 4); m < messages; ++m) {
    const bool text = rng() % 2 == 0;
    const std::size_t size =
        rng() % 3 == 0 ? sizes[rng() % std::size(sizes)] : static_cast<std::size_t>(rng() % 3000);
    const std::string payload = text ? random_text(rng, size) : random_bytes(rng, size);
    // Cut into 1-4 fragments anywhere, also inside a code point.
    std::vector<std::size_t> cuts = {0, payload.size()};
    for (int f = static_cast<int>(rng() % 4); f > 0; --f)
      cuts.push_back(rng() % (payload.size() + 1));
    std::sort(cuts.begin(), cuts.end());
    for (std::size_t f = 0; f + 1 < cuts.size(); ++f) {
      key_type key;
      for (auto& k : key)
        k = static_cast<std::uint8_t>(rng());
      const opcode op = f == 0 ? (text ? opcode::text : opcode::binary) : opcode::continuation;
      const bool fin = f + 2 == cuts.size();
      ws::append_frame(s.bytes, op,
                       std::string_view(payload).substr(cuts[f], cuts[f + 1] - cuts[f]), fin,
                       masked ? &key : nullptr);
      if (fin) s.events.push_back(on_message(text ? opcode::text : opcode::binary, payload));
      if (rng() % 4 == 0) {  // a control frame between fragments, or after the message
        const std::string body = random_bytes(rng, rng() % 126);
        const opcode control = rng() % 2 ? opcode::ping : opcode::pong;
        ws::append_frame(s.bytes, control, body, true, masked ? &key : nullptr);
        s.events.push_back(control == opcode::ping ? on_ping(body) : on_pong(body));
      }
    }
  }
  return s;
}

BOOST_AUTO_TEST_CASE(round_trip_client_to_server_rfc6455_5_3) {
  // Client role: frames encoded with a random key; the server decoder must get the messages back.
  std::mt19937 rng(1);
  for (int round = 0; round < 150; ++round) {
    const sent_stream s = random_stream(rng, true);
    const auto sizes = random_sizes(rng, s.bytes.size(), 1 + rng() % 4096);
    const decoded d = decode_chunks(s.bytes, server_options(), sizes);
    if (d.events != s.events) BOOST_FAIL("round " << round << " differs");
    BOOST_REQUIRE_EQUAL(d.consumed, s.bytes.size());
  }
}

BOOST_AUTO_TEST_CASE(round_trip_server_to_client_rfc6455_5_1) {
  // Server role: unmasked frames; the client decoder must get the messages back.
  std::mt19937 rng(2);
  for (int round = 0; round < 150; ++round) {
    const sent_stream s = random_stream(rng, false);
    const auto sizes = random_sizes(rng, s.bytes.size(), 1 + rng() % 4096);
    const decoded d = decode_chunks(s.bytes, client_options(), sizes);
    if (d.events != s.events) BOOST_FAIL("round " << round << " differs");
    BOOST_REQUIRE_EQUAL(d.consumed, s.bytes.size());
  }
}

BOOST_AUTO_TEST_CASE(decode_of_empty_input_needs_more) {
  ws::decoder dec(server_options());
  const decode_event ev = dec.decode(nullptr, 0);
  BOOST_TEST(ev.kind == decode_event::need_more);
  BOOST_TEST(ev.consumed == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
