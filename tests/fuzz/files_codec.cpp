// files_codec.cpp: libFuzzer target for the sgc Files protocol codec (protocols/files/codec.hpp):
// decode() on an arbitrary binary message, encode() on what it decoded, and
// sanitize_file_name() on the same bytes. Calls only the codec: no sockets, no Asio, no CAF.
//
// Input layout:
//   byte 0      the limits: bits 0-1 max_header_size 64 KiB (the default), 64, 100 or 1000;
//               bits 2-3 max_file_size 1 GiB (the default), 0, 1000 or INT64_MAX;
//               bits 4-5 max_chunk_size 16 MiB (the default), 1, 16 or INT32_MAX.
//   the rest    one binary WebSocket message, as the peer sent it.
//
// The message is copied into a heap buffer of exactly its size, so ASan reports any read past
// it. The invariants checked (a violation is __builtin_trap, i.e. a crash):
//   - decode() returns, and the same bytes decode the same way twice;
//   - an error is a files errc that decode() may return (not one of sanitize_file_name's or
//     the encoder's own), with a message;
//   - a decoded frame's views lie inside the header, in field order, hold no '|', and every
//     byte of them is read (ASan checks they are live); the payload is exactly the bytes after
//     the header; every rule of codec.hpp holds: plain FileName, numbers >= 0, FilePosition <=
//     FileSize, the three limits, no payload on a control method;
//   - decode(encode(f, p)) gives f and p again (no limits), encode is a fixed point on its own
//     output, the appending and exact-size encoders give the same bytes, and the bytes are the
//     input's own when its numbers have no leading zeros (shorter otherwise);
//   - sanitize_file_name() of the message (and of a decoded FileName) either fails with a name
//     errc and an empty view, or gives a non-empty suffix of it of at most 255 bytes with no
//     '/', '\' or control character, not ".", "..", nor starting with '.'.
#include "protocols/files/codec.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

namespace files = switchboard::protocols::files;

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

namespace {

// Touches every byte of a view, so ASan checks that it is live.
unsigned touch(std::string_view v) {
  unsigned sum = 0;
  for (const char c : v)
    sum += static_cast<unsigned char>(c);
  return sum;
}

bool within(std::string_view inner, std::string_view outer) {
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

bool same(const files::decode_result& a, const files::decode_result& b) {
  if (a.kind != b.kind) return false;
  if (a.kind == files::decode_result::error) return a.error_code == b.error_code;
  return a.msg == b.msg && a.payload == b.payload;
}

// A decimal field without leading zeros ("0" itself is canonical).
bool canonical_number(std::string_view s) {
  return !s.empty() && (s[0] != '0' || s.size() == 1);
}

void check_sanitized(std::string_view name) {
  std::error_code ec;
  const std::string_view out = files::sanitize_file_name(name, ec);
  if (ec) {
    FUZZ_CHECK(&ec.category() == &files::files_category());
    FUZZ_CHECK(ec == files::errc::bad_file_name || ec == files::errc::file_name_too_long ||
               ec == files::errc::hidden_file_name || ec == files::errc::file_name_not_utf8);
    FUZZ_CHECK(out.empty());
    return;
  }
  FUZZ_CHECK(!out.empty() && out.size() <= files::max_file_name_size);
  FUZZ_CHECK(within(out, name) && out.data() + out.size() == name.data() + name.size());
  FUZZ_CHECK(out.front() != '.');
  for (const char ch : out) {
    const auto c = static_cast<unsigned char>(ch);
    FUZZ_CHECK(c != '/' && c != '\\' && c >= 0x20 && c != 0x7F);
  }
}

void check_frame(const files::decode_result& r, std::string_view message, const files::limits& l) {
  const files::frame& f = r.msg;
  FUZZ_CHECK(message.size() >= files::length_prefix_size);
  const std::string_view header(message.data() + files::length_prefix_size,
                                message.size() - files::length_prefix_size - r.payload.size());
  FUZZ_CHECK(header.size() <= l.max_header_size);
  FUZZ_CHECK(r.payload.data() == header.data() + header.size());
  touch(r.payload);

  // The text fields, in order, inside the header, without the delimiter.
  const std::string_view texts[] = {f.id, f.file_id, f.file_name, f.data, f.text, f.channel};
  const char* previous = header.data();
  for (const std::string_view t : texts) {
    FUZZ_CHECK(within(t, header));
    FUZZ_CHECK(t.data() >= previous);
    previous = t.data() + t.size();
    FUZZ_CHECK(t.find('|') == std::string_view::npos);
    touch(t);
  }
  FUZZ_CHECK(f.id.data() == header.data());
  FUZZ_CHECK(f.channel.data() + f.channel.size() == header.data() + header.size());

  // The field rules and the limits.
  FUZZ_CHECK(!f.file_name.empty() && f.file_name.size() <= files::max_file_name_size);
  FUZZ_CHECK(f.file_name != "." && f.file_name != "..");
  FUZZ_CHECK(f.file_name.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos);
  FUZZ_CHECK(f.file_size >= 0 && f.file_position >= 0 && f.buffer_size >= 0);
  FUZZ_CHECK(f.file_position <= f.file_size);
  FUZZ_CHECK(f.file_size <= l.max_file_size && f.buffer_size <= l.max_chunk_size);
  FUZZ_CHECK(r.payload.size() <= static_cast<std::size_t>(l.max_chunk_size));
  FUZZ_CHECK(r.payload.empty() || files::carries_payload(f.method));
  FUZZ_CHECK(!files::to_string(f.streaming).empty() && !files::to_string(f.qos).empty() &&
             !files::to_string(f.method).empty());

  // The receiver's name: a plain name never loses a path part.
  std::error_code name_ec;
  const std::string_view name = files::sanitize_file_name(f.file_name, name_ec);
  if (!name_ec) FUZZ_CHECK(name.data() == f.file_name.data() && name.size() == f.file_name.size());
  check_sanitized(f.file_name);

  // decode(encode(f, p)) == (f, p), with no limits in the way.
  std::error_code ec;
  const std::string bytes = files::encode(f, r.payload, ec);
  FUZZ_CHECK(!ec);
  std::string appended;
  FUZZ_CHECK(!files::encode(f, r.payload, appended));
  FUZZ_CHECK(appended == bytes);
  files::limits none;
  none.max_header_size = 9'999'999'999ULL;
  none.max_file_size = std::numeric_limits<std::int64_t>::max();
  none.max_chunk_size = std::numeric_limits<std::int32_t>::max();
  const files::decode_result again = files::decode(bytes, none);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again.msg == f && again.payload == r.payload);
  FUZZ_CHECK(files::encode(again.msg, again.payload, ec) == bytes && !ec);

  // The input's own bytes, unless its numbers had leading zeros: "FileSize|FilePosition|
  // BufferSize" lies between FileName and Data.
  const std::string_view numbers(
      f.file_name.data() + f.file_name.size() + 1,
      static_cast<std::size_t>(f.data.data() - 1 - (f.file_name.data() + f.file_name.size() + 1)));
  const std::size_t bar1 = numbers.find('|');
  const std::size_t bar2 = numbers.find('|', bar1 + 1);
  FUZZ_CHECK(bar1 != std::string_view::npos && bar2 != std::string_view::npos);
  FUZZ_CHECK(numbers.find('|', bar2 + 1) == std::string_view::npos);
  if (canonical_number(numbers.substr(0, bar1)) &&
      canonical_number(numbers.substr(bar1 + 1, bar2 - bar1 - 1)) &&
      canonical_number(numbers.substr(bar2 + 1))) {
    FUZZ_CHECK(bytes == message);
  } else {
    FUZZ_CHECK(bytes.size() < message.size());
  }
}

void check_error(const files::decode_result& r) {
  FUZZ_CHECK(&r.error_code.category() == &files::files_category());
  const int e = r.error_code.value();
  FUZZ_CHECK(e >= static_cast<int>(files::errc::bad_length_prefix) &&
             e <= static_cast<int>(files::errc::payload_too_large));
  FUZZ_CHECK(!r.error_code.message().empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static constexpr std::size_t header_sizes[] = {files::default_max_header_size, 64, 100, 1000};
  static constexpr std::int64_t file_sizes[] = {files::default_max_file_size, 0, 1000,
                                                std::numeric_limits<std::int64_t>::max()};
  static constexpr std::int32_t chunk_sizes[] = {files::default_max_chunk_size, 1, 16,
                                                 std::numeric_limits<std::int32_t>::max()};
  files::limits l;
  l.max_header_size = header_sizes[data[0] & 0x03];
  l.max_file_size = file_sizes[(data[0] >> 2) & 0x03];
  l.max_chunk_size = chunk_sizes[(data[0] >> 4) & 0x03];
  FUZZ_CHECK(files::invalid_limit(l) == nullptr);

  const std::size_t n = size - 1;
  const std::unique_ptr<std::uint8_t[]> buffer(new std::uint8_t[n == 0 ? 1 : n]);
  if (n != 0) std::memcpy(buffer.get(), data + 1, n);
  const std::string_view message(reinterpret_cast<const char*>(buffer.get()), n);

  const files::decode_result r = files::decode(buffer.get(), n, l);
  FUZZ_CHECK(same(r, files::decode(message, l)));
  if (n < files::length_prefix_size)
    FUZZ_CHECK(!r.ok() && r.error_code == files::errc::bad_length_prefix);

  if (r.ok()) {
    check_frame(r, message, l);
  } else {
    check_error(r);
  }
  check_sanitized(message);
  return 0;
}
