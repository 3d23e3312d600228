// websocket_frame.cpp: libFuzzer target for the RFC 6455 frame decoder
// (runtime/websocket/frame.hpp). Calls only the codec: no sockets, no Asio.
//
// Input layout:
//   byte 0      options: bit 0 role (0 server: expects masked frames, 1 client: unmasked),
//               bit 1 allow_rsv1 (permessage-deflate negotiated), bits 2-4 max_message_size
//               (see limits[] below: default 16 MiB, none, and small values around the
//               length-form boundaries).
//   then        the peer's bytes, split into chunks the uWebSockets makeChunked way
//               (fuzzing/helpers.h): each chunk is preceded by one byte giving its size,
//               0 meaning "everything that is left". So the fuzzer chooses how the stream
//               arrives: whole, byte by byte, or cut anywhere.
//
// Each chunk is copied into a heap buffer of exactly its size, so ASan reports any read or
// write past it. The invariants checked (a violation is __builtin_trap, i.e. a crash):
//   - consumed <= size; need_more consumes everything; every other event but error consumes
//     at least one byte (the caller's read loop always makes progress);
//   - a payload view lies inside the input chunk, inside the decoder object (small-string
//     buffer) or within the heap storage the decoder reports (buffered());
//   - a message is text or binary, no larger than max_message_size, compressed only with
//     allow_rsv1, valid UTF-8 when uncompressed text; ping/pong payloads <= 125 bytes; a close
//     carries a code allowed on the wire (or 1005 and no reason) and a UTF-8 reason <= 123 bytes;
//     an error maps to close code 1002, 1007 or 1009;
//   - the chunked stream gives the same events as the same bytes decoded in one piece;
//   - decode(encode(event)) gives the event back (the encoder and decoder agree).
#include "runtime/websocket/frame.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ws = switchboard::runtime::websocket;

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

namespace {

constexpr std::uint64_t limits[8] = {16u << 20, 16u << 20, 0, 1, 125, 126, 1000, 65536};

constexpr std::array<std::uint8_t, 4> fuzz_key = {0x37, 0xfa, 0x21, 0x3d};

struct event_record {
  int kind;
  int op;
  bool compressed;
  std::uint16_t close_code;
  int error;
  std::string payload;

  bool operator==(const event_record& o) const {
    return kind == o.kind && op == o.op && compressed == o.compressed &&
           close_code == o.close_code && error == o.error && payload == o.payload;
  }
};

struct chunk {
  const std::uint8_t* data;
  std::size_t size;
};

std::vector<chunk> make_chunked(const std::uint8_t* data, std::size_t size) {
  std::vector<chunk> chunks;
  for (std::size_t i = 0; i < size;) {
    std::size_t n = data[i++];
    if (n == 0 || n > size - i) n = size - i;
    chunks.push_back({data + i, n});
    i += n;
  }
  return chunks;
}

// Checks one event against the options and the decoder's state; returns it as a record.
event_record check_event(const ws::decode_event& ev, const ws::decoder& dec,
                         const ws::decoder_options& o, const std::uint8_t* buf, std::size_t n) {
  using ws::decode_event;
  if (ev.kind != decode_event::error) {
    FUZZ_CHECK(ev.consumed > 0);
    const auto* p = reinterpret_cast<const std::uint8_t*>(ev.payload.data());
    const std::size_t size = ev.payload.size();
    const auto* self = reinterpret_cast<const std::uint8_t*>(&dec);
    const bool in_input = size != 0 && p >= buf && p + size <= buf + n;
    const bool in_object = p >= self && p + size <= self + sizeof dec;
    FUZZ_CHECK(in_input || in_object || size <= dec.buffered());
  }
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(ev.payload.data());
  switch (ev.kind) {
    case decode_event::message:
      FUZZ_CHECK(ev.op == ws::opcode::text || ev.op == ws::opcode::binary);
      FUZZ_CHECK(o.max_message_size == 0 || ev.payload.size() <= o.max_message_size);
      FUZZ_CHECK(!ev.compressed || o.allow_rsv1);
      if (ev.op == ws::opcode::text && !ev.compressed)
        FUZZ_CHECK(ws::is_valid_utf8(bytes, ev.payload.size()));
      FUZZ_CHECK(!dec.in_message());
      break;
    case decode_event::ping:
    case decode_event::pong:
      FUZZ_CHECK(ev.payload.size() <= ws::max_control_payload);
      break;
    case decode_event::close:
      if (ev.close_code == ws::close_code::no_status) {
        FUZZ_CHECK(ev.payload.empty());
      } else {
        FUZZ_CHECK(ws::is_valid_wire_close_code(ev.close_code));
      }
      FUZZ_CHECK(ev.payload.size() <= ws::max_control_payload - 2);
      FUZZ_CHECK(ws::is_valid_utf8(bytes, ev.payload.size()));
      break;
    case decode_event::error: {
      const int e = static_cast<int>(ev.error_code);
      FUZZ_CHECK(e >= static_cast<int>(ws::errc::bad_opcode) &&
                 e <= static_cast<int>(ws::errc::bad_close_code));
      const std::uint16_t code = ws::close_code_for(ev.error_code);
      FUZZ_CHECK(code == ws::close_code::protocol_error ||
                 code == ws::close_code::invalid_payload ||
                 code == ws::close_code::message_too_big);
      break;
    }
    default:
      FUZZ_CHECK(false);
  }
  // Copying the payload reads every byte of the view: ASan checks it is live memory.
  return {ev.kind,
          ev.kind == decode_event::error ? 0 : static_cast<int>(ev.op),
          ev.compressed,
          ev.close_code,
          ev.kind == decode_event::error ? static_cast<int>(ev.error_code) : 0,
          std::string(ev.payload)};
}

// Feeds the chunks to a fresh decoder until the input ends or an error; returns the events.
std::vector<event_record> run(const ws::decoder_options& o, const std::vector<chunk>& chunks) {
  ws::decoder dec(o);
  std::vector<event_record> events;
  for (const chunk& c : chunks) {
    auto buf = std::make_unique<std::uint8_t[]>(c.size);  // exactly c.size bytes
    if (c.size != 0) std::memcpy(buf.get(), c.data, c.size);
    std::size_t off = 0;
    for (;;) {
      const ws::decode_event ev = dec.decode(buf.get() + off, c.size - off);
      FUZZ_CHECK(ev.consumed <= c.size - off);
      off += ev.consumed;
      if (ev.kind == ws::decode_event::need_more) {
        FUZZ_CHECK(off == c.size);
        break;
      }
      events.push_back(check_event(ev, dec, o, buf.get(), c.size));
      if (ev.kind == ws::decode_event::error) return events;  // the decoder is done
    }
  }
  return events;
}

// Encodes an event the way the peer would have sent it (masked when our decoder is a server)
// and decodes it again: the round trip must give the same event.
void check_round_trip(const event_record& e, const ws::decoder_options& o) {
  const auto* key = o.local_role == ws::role::server ? &fuzz_key : nullptr;
  std::string wire;
  switch (e.kind) {
    case ws::decode_event::message:
      ws::append_frame(wire, static_cast<ws::opcode>(e.op), e.payload, true, key, e.compressed);
      break;
    case ws::decode_event::ping:
    case ws::decode_event::pong:
      ws::append_frame(wire, static_cast<ws::opcode>(e.op), e.payload, true, key);
      break;
    case ws::decode_event::close: {
      const std::uint16_t code = e.close_code == ws::close_code::no_status ? 0 : e.close_code;
      const std::string payload = ws::encode_close_payload(code, e.payload);
      ws::append_frame(wire, ws::opcode::close, payload, true, key);
      break;
    }
    default:
      return;
  }
  const std::vector<event_record> again =
      run(o, {{reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size()}});
  FUZZ_CHECK(again.size() == 1 && again[0] == e);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  ws::decoder_options o;
  o.local_role = (data[0] & 0x01) ? ws::role::client : ws::role::server;
  o.allow_rsv1 = (data[0] & 0x02) != 0;
  o.max_message_size = limits[(data[0] >> 2) & 0x07];

  const std::vector<chunk> chunks = make_chunked(data + 1, size - 1);
  const std::vector<event_record> events = run(o, chunks);

  // The same bytes in one piece must give the same events.
  std::string whole;
  for (const chunk& c : chunks)
    whole.append(reinterpret_cast<const char*>(c.data), c.size);
  const std::vector<event_record> once =
      run(o, {{reinterpret_cast<const std::uint8_t*>(whole.data()), whole.size()}});
  FUZZ_CHECK(once == events);

  for (const event_record& e : events)
    check_round_trip(e, o);
  return 0;
}
