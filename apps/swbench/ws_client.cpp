// ws_client.cpp: see ws_client.hpp.
#include "apps/swbench/ws_client.hpp"

#include <openssl/evp.h>

#include <cstring>
#include <string_view>

namespace switchboard::swbench {

namespace {

constexpr char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 section 1.3

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// True if the comma-separated header value contains `token` (case-insensitive).
bool list_contains(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::uint64_t load_be(const std::uint8_t* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i)
    v = (v << 8) | p[i];
  return v;
}

handshake_result handshake_error(ws_errc e) {
  return {decode_status::error, e, 0};
}

// One `name[=value]` parameter of an extension element; a quoted value is unquoted (the
// values RFC 7692 defines are digits, so there is nothing to unescape).
struct ext_param {
  std::string_view name;
  std::string_view value;
  bool has_value = false;
};

ext_param split_param(std::string_view text) {
  ext_param p;
  std::size_t eq = text.find('=');
  p.name = trim(text.substr(0, eq));
  if (eq != std::string_view::npos) {
    p.has_value = true;
    p.value = trim(text.substr(eq + 1));
    if (p.value.size() >= 2 && p.value.front() == '"' && p.value.back() == '"') {
      p.value = p.value.substr(1, p.value.size() - 2);
    }
  }
  return p;
}

// A window bits value, 8..15 in decimal without leading zeros; 0 when invalid.
std::uint8_t window_bits_value(const ext_param& p) {
  if (!p.has_value) return 0;
  if (p.value.size() == 1 && p.value[0] >= '8' && p.value[0] <= '9') {
    return static_cast<std::uint8_t>(p.value[0] - '0');
  }
  if (p.value.size() == 2 && p.value[0] == '1' && p.value[1] >= '0' && p.value[1] <= '5') {
    return static_cast<std::uint8_t>(10 + p.value[1] - '0');
  }
  return 0;
}

// Reads one Sec-WebSocket-Extensions value of the response into `out` (section 7.1). We
// offered one extension, so the value must be one permessage-deflate element; each parameter
// at most once, window bits 8..15 with a value (client_max_window_bits too: in a response it
// states the limit).
ws_errc parse_deflate_response(std::string_view value, deflate_params& out) {
  value = trim(value);
  if (value.find(',') != std::string_view::npos) return ws_errc::bad_extension;
  std::size_t semi = value.find(';');
  if (!iequals(trim(value.substr(0, semi)), "permessage-deflate")) {
    return ws_errc::unrequested_extension;
  }
  if (out.accepted) return ws_errc::bad_extension;  // a second header accepting it again
  out.accepted = true;
  bool seen_server_bits = false, seen_client_bits = false;
  while (semi != std::string_view::npos) {
    value.remove_prefix(semi + 1);
    semi = value.find(';');
    const ext_param p = split_param(value.substr(0, semi));
    if (iequals(p.name, "server_no_context_takeover")) {
      if (p.has_value || out.server_no_context_takeover) return ws_errc::bad_extension;
      out.server_no_context_takeover = true;
    } else if (iequals(p.name, "client_no_context_takeover")) {
      if (p.has_value || out.client_no_context_takeover) return ws_errc::bad_extension;
      out.client_no_context_takeover = true;
    } else if (iequals(p.name, "server_max_window_bits")) {
      out.server_max_window_bits = window_bits_value(p);
      if (seen_server_bits || out.server_max_window_bits == 0) return ws_errc::bad_extension;
      seen_server_bits = true;
    } else if (iequals(p.name, "client_max_window_bits")) {
      out.client_max_window_bits = window_bits_value(p);
      if (seen_client_bits || out.client_max_window_bits == 0) return ws_errc::bad_extension;
      seen_client_bits = true;
    } else {
      return ws_errc::bad_extension;
    }
  }
  return ws_errc::ok;
}

frame_result frame_error(ws_errc e) {
  frame_result r;
  r.status = decode_status::error;
  r.error = e;
  return r;
}

}  // namespace

const char* to_string(ws_errc e) noexcept {
  switch (e) {
    case ws_errc::ok:
      return "ok";
    case ws_errc::bad_status_line:
      return "bad_status_line";
    case ws_errc::status_not_101:
      return "status_not_101";
    case ws_errc::missing_upgrade:
      return "missing_upgrade";
    case ws_errc::missing_connection:
      return "missing_connection";
    case ws_errc::bad_accept:
      return "bad_accept";
    case ws_errc::unrequested_extension:
      return "unrequested_extension";
    case ws_errc::unrequested_protocol:
      return "unrequested_protocol";
    case ws_errc::response_too_big:
      return "response_too_big";
    case ws_errc::reserved_bits_set:
      return "reserved_bits_set";
    case ws_errc::bad_opcode:
      return "bad_opcode";
    case ws_errc::masked_server_frame:
      return "masked_server_frame";
    case ws_errc::fragmented_control:
      return "fragmented_control";
    case ws_errc::control_too_big:
      return "control_too_big";
    case ws_errc::non_minimal_length:
      return "non_minimal_length";
    case ws_errc::frame_too_big:
      return "frame_too_big";
    case ws_errc::bad_continuation:
      return "bad_continuation";
    case ws_errc::extension_declined:
      return "extension_declined";
    case ws_errc::bad_extension:
      return "bad_extension";
    case ws_errc::inflate_failed:
      return "inflate_failed";
    case ws_errc::deflate_failed:
      return "deflate_failed";
    case ws_errc::tls_failed:
      return "tls_failed";
  }
  return "unknown";
}

handshake_key make_handshake_key(std::uint64_t random_hi, std::uint64_t random_lo) {
  handshake_key k{};
  unsigned char raw[16];
  std::memcpy(raw, &random_hi, 8);
  std::memcpy(raw + 8, &random_lo, 8);
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(k.key), raw, sizeof raw);  // 24 chars + NUL

  char input[24 + sizeof ws_guid - 1];
  std::memcpy(input, k.key, 24);
  std::memcpy(input + 24, ws_guid, sizeof ws_guid - 1);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  EVP_Digest(input, sizeof input, digest, &digest_size, EVP_sha1(), nullptr);
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(k.accept), digest, digest_size);  // 28 + NUL
  return k;
}

std::string make_handshake_request(const std::string& host, const std::string& path,
                                   const handshake_key& key, bool offer_deflate) {
  std::string r;
  r.reserve(160 + host.size() + path.size());
  r += "GET ";
  r += path;
  r += " HTTP/1.1\r\nHost: ";
  r += host;
  r += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
  r += key.key;
  r += "\r\nSec-WebSocket-Version: 13\r\n";
  if (offer_deflate)
    r += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
  r += "\r\n";
  return r;
}

handshake_result parse_handshake_response(const char* data, std::size_t size,
                                          const handshake_key& key, deflate_params* deflate) {
  const void* end = memmem(data, size, "\r\n\r\n", 4);
  if (end == nullptr) {
    if (size > max_handshake_response) return handshake_error(ws_errc::response_too_big);
    return {};
  }
  std::size_t head_size = static_cast<const char*>(end) - data + 2;  // keeps the last CRLF
  std::string_view head(data, head_size);

  std::size_t eol = head.find("\r\n");
  std::string_view status = head.substr(0, eol);
  if (status.size() < 12 || status.substr(0, 5) != "HTTP/" || status[8] != ' ') {
    return handshake_error(ws_errc::bad_status_line);
  }
  if (status.substr(9, 3) != "101") return handshake_error(ws_errc::status_not_101);

  bool upgrade = false, connection = false, accept = false;
  head.remove_prefix(eol + 2);
  while (!head.empty()) {
    eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return handshake_error(ws_errc::bad_status_line);
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "upgrade")) {
      upgrade = upgrade || list_contains(value, "websocket");
    } else if (iequals(name, "connection")) {
      connection = connection || list_contains(value, "upgrade");
    } else if (iequals(name, "sec-websocket-accept")) {
      accept = value == std::string_view(key.accept);
    } else if (iequals(name, "sec-websocket-extensions")) {
      if (deflate == nullptr) return handshake_error(ws_errc::unrequested_extension);
      if (ws_errc e = parse_deflate_response(value, *deflate); e != ws_errc::ok) {
        return handshake_error(e);
      }
    } else if (iequals(name, "sec-websocket-protocol")) {
      return handshake_error(ws_errc::unrequested_protocol);
    }
  }
  if (!upgrade) return handshake_error(ws_errc::missing_upgrade);
  if (!connection) return handshake_error(ws_errc::missing_connection);
  if (!accept) return handshake_error(ws_errc::bad_accept);
  if (deflate != nullptr && !deflate->accepted) return handshake_error(ws_errc::extension_declined);
  return {decode_status::done, ws_errc::ok, head_size + 2};
}

std::size_t encode_frame_header(std::uint8_t* out, ws_opcode op, bool fin,
                                std::uint64_t payload_size, std::uint32_t mask_key,
                                bool rsv1) noexcept {
  out[0] = static_cast<std::uint8_t>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) |
                                     static_cast<std::uint8_t>(op));
  std::size_t n;
  if (payload_size < 126) {
    out[1] = static_cast<std::uint8_t>(0x80 | payload_size);
    n = 2;
  } else if (payload_size <= 0xFFFF) {
    out[1] = 0x80 | 126;
    out[2] = static_cast<std::uint8_t>(payload_size >> 8);
    out[3] = static_cast<std::uint8_t>(payload_size);
    n = 4;
  } else {
    out[1] = 0x80 | 127;
    for (int i = 0; i < 8; ++i)
      out[2 + i] = static_cast<std::uint8_t>(payload_size >> (56 - 8 * i));
    n = 10;
  }
  std::memcpy(out + n, &mask_key, 4);
  return n + 4;
}

void mask_copy(std::uint8_t* dst, const std::uint8_t* src, std::size_t size,
               std::uint32_t mask_key) noexcept {
  std::uint8_t key[8];
  std::memcpy(key, &mask_key, 4);
  std::memcpy(key + 4, &mask_key, 4);
  std::uint64_t key8;
  std::memcpy(&key8, key, 8);
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t v;
    std::memcpy(&v, src + i, 8);
    v ^= key8;
    std::memcpy(dst + i, &v, 8);
  }
  for (; i < size; ++i)
    dst[i] = src[i] ^ key[i & 3];
}

frame_result decode_frame(const std::uint8_t* data, std::size_t size, std::size_t max_payload,
                          bool allow_rsv1) noexcept {
  if (size < 2) return {};
  const std::uint8_t b0 = data[0], b1 = data[1];
  const auto op = static_cast<ws_opcode>(b0 & 0x0F);
  const bool rsv1 = (b0 & 0x40) != 0;
  if ((b0 & 0x30) != 0 || (rsv1 && (!allow_rsv1 || is_control(op)))) {
    return frame_error(ws_errc::reserved_bits_set);
  }
  switch (op) {
    case ws_opcode::continuation:
    case ws_opcode::text:
    case ws_opcode::binary:
    case ws_opcode::close:
    case ws_opcode::ping:
    case ws_opcode::pong:
      break;
    default:
      return frame_error(ws_errc::bad_opcode);
  }
  const bool fin = (b0 & 0x80) != 0;
  if ((b1 & 0x80) != 0) return frame_error(ws_errc::masked_server_frame);

  std::uint64_t length = b1 & 0x7F;
  std::size_t header = 2;
  if (length == 126) {
    if (size < 4) return {};
    length = load_be(data + 2, 2);
    header = 4;
    if (length < 126) return frame_error(ws_errc::non_minimal_length);
  } else if (length == 127) {
    if (size < 10) return {};
    length = load_be(data + 2, 8);
    header = 10;
    if (length <= 0xFFFF) return frame_error(ws_errc::non_minimal_length);
  }
  if (is_control(op)) {
    if (!fin) return frame_error(ws_errc::fragmented_control);
    if (length > max_control_payload) return frame_error(ws_errc::control_too_big);
  } else if (length > max_payload) {
    return frame_error(ws_errc::frame_too_big);
  }
  if (size - header < length) return {};

  frame_result r;
  r.status = decode_status::done;
  r.consumed = header + static_cast<std::size_t>(length);
  r.frame = {op, fin, rsv1, data + header, static_cast<std::size_t>(length)};
  return r;
}

}  // namespace switchboard::swbench
