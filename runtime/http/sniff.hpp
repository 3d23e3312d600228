// sniff.hpp: tells an HTTP request from a plain TCP client by its first bytes.
//
// Every connection starts in the HTTP phase. When plain TCP is enabled on the server, the
// first bytes decide (the manual's "TCP connections": a client that does not speak HTTP is
// served as a message stream). An HTTP/1.1 request line starts with a method token followed
// by a space (RFC 9112 section 3); we accept the methods of RFC 9110 and PATCH (RFC 5789),
// plus PRI (the HTTP/2 preface, which then gets HTTP/1.1's 400). Anything else is plain TCP:
// STOMP's "CONNECT\n", MQTT's binary CONNECT, a line of text. Until the bytes so far could
// still begin a method and its space, the answer is need_more.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace switchboard::runtime {

enum class sniff_result : std::uint8_t { need_more, http, plain_tcp };

inline sniff_result sniff(const std::uint8_t* data, std::size_t size) noexcept {
  static constexpr std::array<std::string_view, 10> methods{
      "GET ",     "HEAD ",    "POST ",  "PUT ",   "DELETE ",
      "CONNECT ", "OPTIONS ", "TRACE ", "PATCH ", "PRI "};
  const std::string_view seen(reinterpret_cast<const char*>(data), size);
  bool could_be = false;
  for (std::string_view m : methods) {
    if (seen.size() >= m.size()) {
      if (seen.substr(0, m.size()) == m) return sniff_result::http;
    } else if (m.substr(0, seen.size()) == seen) {
      could_be = true;
    }
  }
  return could_be ? sniff_result::need_more : sniff_result::plain_tcp;
}

}  // namespace switchboard::runtime
