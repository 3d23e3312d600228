#include "runtime/websocket/utf8.hpp"

#include <cstring>

namespace switchboard::runtime::websocket {

bool utf8_validator::feed(const std::uint8_t* p, std::size_t n) noexcept {
  const std::uint8_t* const end = p + n;
  while (p < end) {
    if (need_ == 0) {
      // Skip ASCII eight bytes at a time: the common case for JSON and chat text.
      while (end - p >= 8) {
        std::uint64_t word;
        std::memcpy(&word, p, sizeof word);
        if (word & 0x8080808080808080ull) break;
        p += 8;
      }
      if (p == end) break;
      const std::uint8_t b = *p++;
      if (b < 0x80) continue;
      if (b >= 0xC2 && b <= 0xDF) {
        need_ = 1, lo_ = 0x80, hi_ = 0xBF;
      } else if (b == 0xE0) {
        need_ = 2, lo_ = 0xA0, hi_ = 0xBF;  // no overlong 3-byte forms
      } else if (b == 0xED) {
        need_ = 2, lo_ = 0x80, hi_ = 0x9F;  // no UTF-16 surrogates
      } else if (b >= 0xE1 && b <= 0xEF) {
        need_ = 2, lo_ = 0x80, hi_ = 0xBF;
      } else if (b == 0xF0) {
        need_ = 3, lo_ = 0x90, hi_ = 0xBF;  // no overlong 4-byte forms
      } else if (b >= 0xF1 && b <= 0xF3) {
        need_ = 3, lo_ = 0x80, hi_ = 0xBF;
      } else if (b == 0xF4) {
        need_ = 3, lo_ = 0x80, hi_ = 0x8F;  // nothing above U+10FFFF
      } else {
        return false;  // 0x80-0xC1 (stray continuation, overlong 2-byte) or 0xF5-0xFF
      }
    } else {
      const std::uint8_t b = *p++;
      if (b < lo_ || b > hi_) return false;
      --need_;
      lo_ = 0x80, hi_ = 0xBF;
    }
  }
  return true;
}

bool is_valid_utf8(const std::uint8_t* data, std::size_t size) noexcept {
  utf8_validator v;
  return v.feed(data, size) && v.complete();
}

}  // namespace switchboard::runtime::websocket
