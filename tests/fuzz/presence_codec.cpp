// presence_codec.cpp: libFuzzer target for the Presence codec (protocols/presence/codec.hpp):
// decode() on arbitrary text, then the encoders on what it decoded. Calls only the codec (and
// the UTF-8 validator it uses): no sockets, no Asio, no CAF.
//
// Input layout:
//   byte 0      bits 0-1: max_depth 64 (the default), 2, 3 or 8;
//               bit 2: max_message_size 128 instead of the default 1 MiB (run.sh caps inputs
//               at 4 KiB, so the default limit is reached only this way);
//               bit 3: the sgc@b64 value functions are fed the text as well.
//   the rest    one WebSocket text message, as the peer sent it.
//
// The message is copied into a heap buffer of exactly its size, so ASan reports any read past
// it. The invariants checked (a violation is __builtin_trap, i.e. a crash):
//   - decode() returns; the same text decodes the same way twice;
//   - a text over max_message_size is message_too_large; an error is a presence errc whose
//     code is protocol_error_code() of it, and the message is left empty;
//   - a decoded message's strings are UTF-8 (so they can be sent again);
//   - encode, plain and base64, is a fixed point: decode(encode(m)) encodes to the same bytes,
//     and the base64 form decodes to the same message as the plain form;
//   - with_id() adds an id that decodes back, and the acknowledgment of it decodes as one;
//   - decode_base64_value(encode_base64_value(t)) == t for UTF-8 t.
#include "protocols/presence/codec.hpp"
#include "runtime/websocket/utf8.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace presence = switchboard::protocols::presence;

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

namespace {

bool utf8(std::string_view s) {
  return switchboard::runtime::websocket::is_valid_utf8(
      reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

void check_strings(const presence::message& m) {
  FUZZ_CHECK(utf8(m.method_name));
  const auto member_ok = [](const presence::member& x) {
    return utf8(x.id) && utf8(x.name) && utf8(x.info);
  };
  if (m.member) FUZZ_CHECK(member_ok(*m.member));
  if (m.channel) FUZZ_CHECK(utf8(*m.channel));
  if (m.text) FUZZ_CHECK(utf8(*m.text));
  if (m.error) FUZZ_CHECK(utf8(m.error->text));
  if (m.members)
    for (const auto& x : *m.members)
      FUZZ_CHECK(member_ok(x));
  if (m.id) FUZZ_CHECK(utf8(*m.id));
}

void check_round_trip(const presence::message& m) {
  // Raw JSON text and the members array add depth; the limit must not cut the re-decode.
  const presence::decode_options unlimited{static_cast<std::size_t>(-1), 1024};
  const std::string first = presence::encode(m);
  const auto again = presence::decode(first, unlimited);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(presence::encode(again.msg) == first);
  const std::string b64 = presence::encode(m, true);
  const auto from_b64 = presence::decode(b64, unlimited);
  FUZZ_CHECK(from_b64.ok());
  FUZZ_CHECK(presence::encode(from_b64.msg) == presence::encode(again.msg));
  if (!m.id) {  // with_id's precondition: no id yet
    const std::string with = presence::with_id(first, "k\"1", false);
    const auto w = presence::decode(with, unlimited);
    FUZZ_CHECK(w.ok() && w.msg.id && *w.msg.id == "k\"1");
  } else {
    const auto ack = presence::decode(presence::encode_acknowledgment(*m.id, true), unlimited);
    FUZZ_CHECK(ack.ok() && ack.msg.method == presence::method::acknowledgment &&
               ack.msg.id == m.id);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static constexpr std::uint16_t depths[] = {presence::default_max_depth, 2, 3, 8};
  presence::decode_options options;
  options.max_depth = depths[data[0] & 0x03];
  if ((data[0] & 0x04) != 0) options.max_message_size = 128;
  const bool values = (data[0] & 0x08) != 0;

  const std::size_t n = size - 1;
  const std::unique_ptr<char[]> buffer(new char[n == 0 ? 1 : n]);
  if (n != 0) std::memcpy(buffer.get(), data + 1, n);
  const std::string_view text(buffer.get(), n);

  const auto r = presence::decode(text, options);
  const auto r2 = presence::decode(text, options);
  FUZZ_CHECK(r.ok() == r2.ok() && r.error_code == r2.error_code && r.msg == r2.msg);
  if (text.size() > options.max_message_size)
    FUZZ_CHECK(!r.ok() && r.error_code == presence::errc::message_too_large);
  if (r.ok()) {
    check_strings(r.msg);
    check_round_trip(r.msg);
  } else {
    FUZZ_CHECK(&r.error_code.category() == &presence::presence_category());
    const int e = r.error_code.value();
    FUZZ_CHECK(e >= static_cast<int>(presence::errc::message_too_large) &&
               e <= static_cast<int>(presence::errc::bad_base64));
    FUZZ_CHECK(r.code == presence::protocol_error_code(static_cast<presence::errc>(e)));
    FUZZ_CHECK(r.msg == presence::message{});
  }
  if (values) {
    std::string out;
    const bool prefixed = text.substr(0, presence::base64_prefix.size()) == presence::base64_prefix;
    if (presence::decode_base64_value(text, out) && prefixed) FUZZ_CHECK(utf8(out));
    if (utf8(text)) {
      FUZZ_CHECK(presence::decode_base64_value(presence::encode_base64_value(text), out));
      FUZZ_CHECK(out == text);
    }
    if (presence::is_json_container(text)) FUZZ_CHECK(utf8(text));
  }
  return 0;
}
