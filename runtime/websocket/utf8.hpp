// utf8.hpp: an incremental UTF-8 validator (RFC 3629, Unicode table 3-7).
//
// Text messages arrive in pieces (frames, reads), and RFC 6455 section 8.1 asks us to fail the
// connection as soon as the bytes seen cannot be the start of valid UTF-8 ("fail fast"), not at
// the end of the message. So the validator keeps the state of a code point cut across pieces:
// how many continuation bytes are still due and the allowed range of the next one (which
// excludes overlong forms, surrogates and code points above U+10FFFF).
//
// Hot path: text payloads go through feed(); ASCII runs are checked eight bytes at a time.
#pragma once

#include <cstddef>
#include <cstdint>

namespace switchboard::runtime::websocket {

class utf8_validator {
 public:
  // Checks the next `size` bytes. Returns false at the first byte that makes the input invalid;
  // the validator must then be reset before reuse.
  bool feed(const std::uint8_t* data, std::size_t size) noexcept;

  // True when everything fed so far ends on a code point boundary.
  bool complete() const noexcept { return need_ == 0; }

  void reset() noexcept { *this = utf8_validator{}; }

 private:
  std::uint8_t need_ = 0;   // continuation bytes still due for the current code point
  std::uint8_t lo_ = 0x80;  // allowed range of the next continuation byte
  std::uint8_t hi_ = 0xBF;
};

// Whole-buffer convenience: true when [data, data+size) is complete, valid UTF-8.
bool is_valid_utf8(const std::uint8_t* data, std::size_t size) noexcept;

}  // namespace switchboard::runtime::websocket
