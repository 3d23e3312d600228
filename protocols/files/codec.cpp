// codec.cpp: the Files protocol frame (spec/sgc-protocols.md 4.1). See codec.hpp for the layout,
// the field rules and the order in which they are checked.
#include "protocols/files/codec.hpp"
#include "runtime/text.hpp"

#include <array>
#include <cstring>
#include <limits>

namespace switchboard::protocols::files {
namespace {

using runtime::append_decimal;
using runtime::decimal_size;

// ---- Errors ---------------------------------------------------------------------------------

struct category final : std::error_category {
  const char* name() const noexcept override { return "files"; }

  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::bad_length_prefix:
        return "files frame does not start with a 10-digit header length";
      case errc::bad_header_length:
        return "files frame header length is longer than the message";
      case errc::bad_field_count:
        return "files frame header does not have exactly 12 '|'-separated fields";
      case errc::bad_file_name:
        return "files frame FileName is not a plain file name";
      case errc::file_name_too_long:
        return "files frame FileName is longer than 255 bytes";
      case errc::bad_file_size:
        return "files frame FileSize is not a non-negative decimal int64";
      case errc::bad_file_position:
        return "files frame FilePosition is not a non-negative decimal int64";
      case errc::bad_buffer_size:
        return "files frame BufferSize is not a non-negative decimal int32";
      case errc::bad_streaming:
        return "files frame Streaming is not stmNone, stmFirst, stmContinue, stmLast or "
               "stmContinueAndLast";
      case errc::bad_qos:
        return "files frame QoS is not qosLevel0, qosLevel1 or qosLevel2";
      case errc::bad_method:
        return "files frame Method is not a Files protocol method";
      case errc::position_past_size:
        return "files frame FilePosition is past FileSize";
      case errc::unexpected_payload:
        return "files control frame carries a payload";
      case errc::header_too_large:
        return "files frame header exceeds the size limit";
      case errc::file_too_large:
        return "files frame FileSize exceeds the file size limit";
      case errc::chunk_too_large:
        return "files frame BufferSize exceeds the chunk size limit";
      case errc::payload_too_large:
        return "files frame payload exceeds the chunk size limit";
      case errc::hidden_file_name:
        return "file name starts with '.'";
      case errc::file_name_not_utf8:
        return "file name is not valid UTF-8";
      case errc::delimiter_in_field:
        return "files frame field contains the '|' delimiter";
    }
    return "unknown files error";
  }

  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<errc>(ev)) {
      case errc::header_too_large:
      case errc::file_too_large:
      case errc::chunk_too_large:
      case errc::payload_too_large:
        return std::errc::message_size;
      case errc::hidden_file_name:
      case errc::file_name_not_utf8:
      case errc::delimiter_in_field:
        return std::errc::invalid_argument;
      default:
        return std::errc::protocol_error;
    }
  }
};

// ---- Names ----------------------------------------------------------------------------------

constexpr std::array<std::string_view, 5> streaming_names = {"stmNone", "stmFirst", "stmContinue",
                                                             "stmLast", "stmContinueAndLast"};
constexpr std::array<std::string_view, 3> qos_names = {"qosLevel0", "qosLevel1", "qosLevel2"};
constexpr std::array<std::string_view, 6> method_names = {
    "sgc@file",          "sgc@acknowledgment",  "sgc@filerec",
    "sgc@file_received", "sgc@file_sent_error", "sgc@file_received_error"};

// The index of `text` in `names`, or -1.
template <std::size_t N>
int find_name(const std::array<std::string_view, N>& names, std::string_view text) noexcept {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == text) return static_cast<int>(i);
  return -1;
}

template <std::size_t N>
std::string_view name_at(const std::array<std::string_view, N>& names, std::size_t i) noexcept {
  return i < N ? names[i] : std::string_view{};
}

// ---- Field primitives -----------------------------------------------------------------------

constexpr std::uint64_t max_header_length = 9'999'999'999ULL;  // ten decimal digits

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// A decimal number of one or more ASCII digits, at most `max`; false otherwise.
bool read_decimal(std::string_view s, std::uint64_t max, std::uint64_t& value) noexcept {
  if (s.empty()) return false;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (!is_digit(c)) return false;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (v > (max - digit) / 10) return false;
    v = v * 10 + digit;
  }
  value = v;
  return true;
}

// The plain-name rule of decode() (codec.hpp): no error when `name` can be one path component.
std::error_code check_plain_name(std::string_view name) noexcept {
  if (name.empty() || name == "." || name == "..") return errc::bad_file_name;
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '/' || c == '\\' || c < 0x20 || c == 0x7F) return errc::bad_file_name;
  }
  if (name.size() > max_file_name_size) return errc::file_name_too_long;
  return {};
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (n - i < len) return false;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (std::size_t k = 2; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

decode_result failure(errc e) noexcept {
  decode_result r;
  r.kind = decode_result::error;
  r.error_code = make_error_code(e);
  return r;
}

// Checks a frame for encode(); on success `header_size` is the header's length in bytes.
std::error_code check_for_encode(const frame& f, std::string_view payload,
                                 std::size_t& header_size) noexcept {
  const std::string_view texts[] = {f.id, f.file_id, f.file_name, f.data, f.text, f.channel};
  for (const std::string_view t : texts)
    if (t.find('|') != std::string_view::npos) return errc::delimiter_in_field;
  if (const std::error_code ec = check_plain_name(f.file_name)) return ec;
  if (f.file_size < 0) return errc::bad_file_size;
  if (f.file_position < 0) return errc::bad_file_position;
  if (f.buffer_size < 0) return errc::bad_buffer_size;
  const std::string_view streaming = to_string(f.streaming);
  const std::string_view qos = to_string(f.qos);
  const std::string_view method = to_string(f.method);
  if (streaming.empty()) return errc::bad_streaming;
  if (qos.empty()) return errc::bad_qos;
  if (method.empty()) return errc::bad_method;
  if (f.file_position > f.file_size) return errc::position_past_size;
  if (!payload.empty() && !carries_payload(f.method)) return errc::unexpected_payload;

  // Summed in 64 bits: the views' sizes are real allocations, far below 2^63 together.
  std::uint64_t n = field_count - 1;  // the separators
  for (const std::string_view t : texts)
    n += t.size();
  n += decimal_size(static_cast<std::uint64_t>(f.file_size));
  n += decimal_size(static_cast<std::uint64_t>(f.file_position));
  n += decimal_size(static_cast<std::uint64_t>(f.buffer_size));
  n += streaming.size() + qos.size() + method.size();
  if (n > max_header_length) return errc::header_too_large;
  header_size = static_cast<std::size_t>(n);
  return {};
}

void write_frame(const frame& f, std::string_view payload, std::size_t header_size,
                 std::string& out) {
  char prefix[length_prefix_size];
  std::uint64_t v = header_size;
  for (std::size_t i = length_prefix_size; i-- > 0;) {
    prefix[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out.append(prefix, length_prefix_size);
  out.append(f.id).push_back('|');
  out.append(f.file_id).push_back('|');
  out.append(f.file_name).push_back('|');
  append_decimal(out, static_cast<std::uint64_t>(f.file_size));
  out.push_back('|');
  append_decimal(out, static_cast<std::uint64_t>(f.file_position));
  out.push_back('|');
  append_decimal(out, static_cast<std::uint64_t>(f.buffer_size));
  out.push_back('|');
  out.append(f.data).push_back('|');
  out.append(to_string(f.streaming)).push_back('|');
  out.append(to_string(f.qos)).push_back('|');
  out.append(to_string(f.method)).push_back('|');
  out.append(f.text).push_back('|');
  out.append(f.channel);
  out.append(payload);
}

}  // namespace

// ---- Public ---------------------------------------------------------------------------------

const std::error_category& files_category() noexcept {
  static const category instance;
  return instance;
}

std::string_view to_string(streaming_mode s) noexcept {
  return name_at(streaming_names, static_cast<std::size_t>(s));
}
std::string_view to_string(qos_level q) noexcept {
  return name_at(qos_names, static_cast<std::size_t>(q));
}
std::string_view to_string(method_kind m) noexcept {
  return name_at(method_names, static_cast<std::size_t>(m));
}

const char* invalid_limit(const limits& l) noexcept {
  if (l.max_header_size < min_header_size_limit || l.max_header_size > max_header_length)
    return "max_header_size";
  if (l.max_file_size < 0) return "max_file_size";
  if (l.max_chunk_size < 1) return "max_chunk_size";
  return nullptr;
}

decode_result decode(std::string_view message, const limits& l) noexcept {
  return decode(reinterpret_cast<const std::uint8_t*>(message.data()), message.size(), l);
}

decode_result decode(const std::uint8_t* data, std::size_t size, const limits& l) noexcept {
  const char* const p = reinterpret_cast<const char*>(data);

  // The length prefix: exactly ten ASCII digits.
  if (size < length_prefix_size) return failure(errc::bad_length_prefix);
  std::uint64_t header_length = 0;
  for (std::size_t i = 0; i < length_prefix_size; ++i) {
    if (!is_digit(p[i])) return failure(errc::bad_length_prefix);
    header_length = header_length * 10 + static_cast<std::uint64_t>(p[i] - '0');
  }
  if (header_length > size - length_prefix_size) return failure(errc::bad_header_length);
  if (header_length > l.max_header_size) return failure(errc::header_too_large);

  // Exactly 12 fields: 11 separators, no more.
  const std::string_view header(p + length_prefix_size, static_cast<std::size_t>(header_length));
  std::array<std::string_view, field_count> fields;
  std::size_t start = 0;
  for (std::size_t i = 0; i + 1 < field_count; ++i) {
    const std::size_t bar = header.find('|', start);
    if (bar == std::string_view::npos) return failure(errc::bad_field_count);
    fields[i] = header.substr(start, bar - start);
    start = bar + 1;
  }
  fields[field_count - 1] = header.substr(start);
  if (fields[field_count - 1].find('|') != std::string_view::npos)
    return failure(errc::bad_field_count);

  if (const std::error_code ec = check_plain_name(fields[2])) {
    decode_result e;  // kind: error
    e.error_code = ec;
    return e;
  }

  decode_result r;
  frame& f = r.msg;
  f.id = fields[0];
  f.file_id = fields[1];
  f.file_name = fields[2];
  f.data = fields[6];
  f.text = fields[10];
  f.channel = fields[11];

  constexpr auto int64_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  constexpr auto int32_max = static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max());
  std::uint64_t number = 0;
  if (!read_decimal(fields[3], int64_max, number)) return failure(errc::bad_file_size);
  f.file_size = static_cast<std::int64_t>(number);
  if (!read_decimal(fields[4], int64_max, number)) return failure(errc::bad_file_position);
  f.file_position = static_cast<std::int64_t>(number);
  if (!read_decimal(fields[5], int32_max, number)) return failure(errc::bad_buffer_size);
  f.buffer_size = static_cast<std::int32_t>(number);

  const int streaming = find_name(streaming_names, fields[7]);
  if (streaming < 0) return failure(errc::bad_streaming);
  f.streaming = static_cast<streaming_mode>(streaming);
  const int qos = find_name(qos_names, fields[8]);
  if (qos < 0) return failure(errc::bad_qos);
  f.qos = static_cast<qos_level>(qos);
  const int method = find_name(method_names, fields[9]);
  if (method < 0) return failure(errc::bad_method);
  f.method = static_cast<method_kind>(method);

  const std::size_t payload_offset = length_prefix_size + static_cast<std::size_t>(header_length);
  const std::string_view payload(p + payload_offset, size - payload_offset);

  if (f.file_position > f.file_size) return failure(errc::position_past_size);
  if (!payload.empty() && !carries_payload(f.method)) return failure(errc::unexpected_payload);
  if (f.file_size > l.max_file_size) return failure(errc::file_too_large);
  if (f.buffer_size > l.max_chunk_size) return failure(errc::chunk_too_large);
  if (payload.size() > static_cast<std::size_t>(l.max_chunk_size))
    return failure(errc::payload_too_large);

  r.payload = payload;
  r.kind = decode_result::done;
  return r;
}

std::error_code encode(const frame& f, std::string_view payload, std::string& out) {
  std::size_t header_size = 0;
  if (const std::error_code ec = check_for_encode(f, payload, header_size)) return ec;
  out.reserve(out.size() + length_prefix_size + header_size + payload.size());
  write_frame(f, payload, header_size, out);
  return {};
}

std::string encode(const frame& f, std::string_view payload, std::error_code& ec) {
  std::string out;
  std::size_t header_size = 0;
  ec = check_for_encode(f, payload, header_size);
  if (ec) return out;
  out.reserve(length_prefix_size + header_size + payload.size());
  write_frame(f, payload, header_size, out);
  return out;
}

std::string_view sanitize_file_name(std::string_view name, std::error_code& ec) noexcept {
  ec.clear();
  const std::size_t sep = name.find_last_of("/\\");
  const std::string_view last = sep == std::string_view::npos ? name : name.substr(sep + 1);
  ec = check_plain_name(last);
  if (ec) return {};
  if (last.front() == '.') {
    ec = errc::hidden_file_name;
    return {};
  }
  if (!is_utf8(last)) {
    ec = errc::file_name_not_utf8;
    return {};
  }
  return last;
}

}  // namespace switchboard::protocols::files
