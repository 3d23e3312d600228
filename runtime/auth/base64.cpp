#include "runtime/auth/base64.hpp"

#include <array>
#include <cstdint>

namespace switchboard::runtime::auth {
namespace {

constexpr std::string_view standard_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::uint8_t invalid = 0xFF;

// Character to 6-bit value, `invalid` for characters outside the alphabet.
using table = std::array<std::uint8_t, 256>;

constexpr table make_table(std::string_view alphabet) {
  table t{};
  for (auto& v : t)
    v = invalid;
  for (std::size_t i = 0; i < alphabet.size(); ++i)
    t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
  return t;
}

constexpr table standard_table = make_table(standard_alphabet);
constexpr table url_table = make_table(url_alphabet);

// Decodes unpadded data characters. `in.size() % 4` must not be 1.
bool decode_data(std::string_view in, const table& t, std::string& out) {
  if (in.size() % 4 == 1) return false;
  out.clear();
  out.reserve(in.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  unsigned bits = 0;
  for (const char c : in) {
    const std::uint8_t v = t[static_cast<unsigned char>(c)];
    if (v == invalid) return false;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // The 2 or 4 bits left over are padding bits: zero in the canonical encoding.
  return (acc & ((1u << bits) - 1)) == 0;
}

std::string encode(std::string_view in, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t n =
        (static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16) |
        (static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8) |
        static_cast<unsigned char>(in[i + 2]);
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(alphabet[(n >> 6) & 63]);
    out.push_back(alphabet[n & 63]);
  }
  const std::size_t rest = in.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    if (rest == 2) out.push_back(alphabet[(n >> 6) & 63]);
    if (pad) out.append(rest == 1 ? "==" : "=");
  }
  return out;
}

}  // namespace

bool decode_base64(std::string_view in, std::string& out) {
  if (in.size() % 4 != 0) return false;
  // At most two '=' and only at the end (RFC 4648 section 4).
  std::size_t padding = 0;
  while (padding < 2 && padding < in.size() && in[in.size() - 1 - padding] == '=')
    ++padding;
  const std::string_view data = in.substr(0, in.size() - padding);
  // "xx==" leaves 2 data characters in the last group, "xxx=" 3; a group of 1 is never valid,
  // and 4 data characters with padding cannot happen given the size check above.
  return decode_data(data, standard_table, out);
}

bool decode_base64url(std::string_view in, std::string& out) {
  return decode_data(in, url_table, out);
}

std::string encode_base64(std::string_view in) {
  return encode(in, standard_alphabet, true);
}

std::string encode_base64url(std::string_view in) {
  return encode(in, url_alphabet, false);
}

}  // namespace switchboard::runtime::auth
