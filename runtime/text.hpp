// text.hpp: the small ASCII string helpers that header parsing needs everywhere (HTTP fields,
// credentials, config lines). Header-only and dependency-free, so codecs can use them.
#pragma once

#include <cstddef>
#include <string_view>

namespace switchboard::runtime {

// Without leading and trailing spaces and tabs (RFC 7230 OWS).
constexpr std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Case-insensitive ASCII equality (header names, tokens, auth schemes).
constexpr bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

}  // namespace switchboard::runtime
