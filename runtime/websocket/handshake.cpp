#include "runtime/websocket/handshake.hpp"
#include "runtime/text.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdint>
#include <stdexcept>

namespace switchboard::runtime::websocket {
namespace {

constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

struct category final : std::error_category {
  const char* name() const noexcept override { return "websocket.handshake"; }
  std::string message(int ev) const override {
    switch (static_cast<handshake_errc>(ev)) {
      case handshake_errc::not_get:
        return "WebSocket upgrade must use GET";
      case handshake_errc::bad_http_version:
        return "WebSocket upgrade needs HTTP/1.1";
      case handshake_errc::missing_host:
        return "missing Host header";
      case handshake_errc::no_upgrade:
        return "Upgrade header lacks websocket";
      case handshake_errc::no_connection_upgrade:
        return "Connection header lacks upgrade";
      case handshake_errc::bad_key:
        return "missing or malformed Sec-WebSocket-Key";
      case handshake_errc::unsupported_version:
        return "unsupported Sec-WebSocket-Version";
      case handshake_errc::draft_hixie76:
        return "draft-76 (Hixie) handshake is not supported";
      case handshake_errc::origin_not_allowed:
        return "origin not allowed";
      case handshake_errc::response_no_upgrade:
        return "the response's Upgrade header is not websocket";
      case handshake_errc::response_no_connection_upgrade:
        return "the response's Connection header lacks upgrade";
      case handshake_errc::bad_accept:
        return "Sec-WebSocket-Accept does not match the key";
      case handshake_errc::unexpected_subprotocol:
        return "the server chose a subprotocol that was not offered";
    }
    return "unknown handshake error";
  }
};

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// A valid key is base64 of exactly 16 bytes: 22 alphabet characters then "==" (4.1, item 7).
bool is_valid_key(std::string_view key) {
  key = trim_ows(key);
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  for (std::size_t i = 0; i < 22; ++i)
    if (!is_base64_char(key[i])) return false;
  // The last data character carries 2 bits; its 4 padding bits must be zero.
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  return (alphabet.find(key[21]) & 0x0F) == 0;
}

}  // namespace

const std::error_category& handshake_category() noexcept {
  static const category instance;
  return instance;
}

unsigned status_for(handshake_errc e) noexcept {
  switch (e) {
    case handshake_errc::unsupported_version:
      return 426;
    case handshake_errc::origin_not_allowed:
      return 403;
    default:
      return 400;
  }
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return iequals_ascii(a, b);
}

std::vector<std::string_view> split_list(std::string_view list) {
  std::vector<std::string_view> out;
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view item = trim_ows(list.substr(0, comma));
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

bool list_contains(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    if (iequals(trim_ows(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool is_upgrade(const handshake_request& r) noexcept {
  return list_contains(r.upgrade, "websocket");
}

std::error_code check_request(const handshake_request& r,
                              const std::vector<std::string>& allowed_origins) {
  if (r.method != "GET") return handshake_errc::not_get;
  if (r.version < 11) return handshake_errc::bad_http_version;
  if (r.host.empty()) return handshake_errc::missing_host;
  if (!list_contains(r.upgrade, "websocket")) return handshake_errc::no_upgrade;
  if (!list_contains(r.connection, "upgrade")) return handshake_errc::no_connection_upgrade;
  if (r.has_hixie_keys && r.key.empty()) return handshake_errc::draft_hixie76;
  if (r.key_count > 1 || !is_valid_key(r.key)) return handshake_errc::bad_key;
  if (trim_ows(r.websocket_version) != "13") return handshake_errc::unsupported_version;
  if (!allowed_origins.empty()) {
    bool allowed = false;
    for (const auto& o : allowed_origins)
      allowed = allowed || iequals(o, trim_ows(r.origin));
    if (!allowed) return handshake_errc::origin_not_allowed;
  }
  return {};
}

std::string accept_key(std::string_view key) {
  std::string input(trim_ows(key));
  input.append(websocket_guid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  EVP_Digest(input.data(), input.size(), digest, &digest_size, EVP_sha1(), nullptr);
  std::string out(4 * ((digest_size + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest,
                                static_cast<int>(digest_size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string make_client_key() {
  unsigned char nonce[16];
  if (RAND_bytes(nonce, sizeof nonce) != 1) throw std::runtime_error("RAND_bytes failed");
  std::string out(24, '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), nonce, sizeof nonce);
  return out;
}

std::error_code check_response(const handshake_response& r, std::string_view key,
                               const std::vector<std::string>& protocols) {
  if (!iequals(trim_ows(r.upgrade), "websocket")) return handshake_errc::response_no_upgrade;
  if (!list_contains(r.connection, "upgrade"))
    return handshake_errc::response_no_connection_upgrade;
  if (trim_ows(r.accept) != accept_key(key)) return handshake_errc::bad_accept;
  const std::string_view chosen = trim_ows(r.protocol);
  if (!chosen.empty()) {
    bool offered = false;
    for (const auto& p : protocols)
      offered = offered || p == chosen;
    if (!offered) return handshake_errc::unexpected_subprotocol;  // also "a, b": not one
  }
  return {};
}

}  // namespace switchboard::runtime::websocket
