#include "runtime/websocket/frame.hpp"

#include <algorithm>
#include <cstring>

namespace switchboard::runtime::websocket {
namespace {

constexpr std::uint8_t fin_bit = 0x80;
constexpr std::uint8_t rsv1_bit = 0x40;
constexpr std::uint8_t rsv_bits = 0x70;
constexpr std::uint8_t opcode_bits = 0x0F;
constexpr std::uint8_t mask_bit = 0x80;
constexpr std::uint8_t len7_bits = 0x7F;

constexpr bool is_known_opcode(std::uint8_t op) {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

// Header length implied by its first two bytes.
constexpr std::size_t header_length(std::uint8_t b1) {
  const std::uint8_t len7 = b1 & len7_bits;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((b1 & mask_bit) ? 4 : 0);
}

// Heap bytes a string holds: its capacity when beyond the inline (small-string) buffer.
std::size_t heap_bytes(const std::string& s) noexcept {
  static const std::size_t inline_capacity = std::string().capacity();
  return s.capacity() > inline_capacity ? s.capacity() : 0;
}

std::uint64_t read_be(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v = (v << 8) | p[i];
  return v;
}

}  // namespace

void mask(std::uint8_t* data, std::size_t size, const std::array<std::uint8_t, 4>& key,
          std::size_t offset) noexcept {
  std::uint8_t k[8];
  for (int i = 0; i < 8; ++i)
    k[i] = key[(i + offset) & 3];
  std::size_t i = 0;
  if (size >= 8) {
    std::uint64_t m;
    std::memcpy(&m, k, 8);
    for (; i + 8 <= size; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, data + i, 8);
      w ^= m;
      std::memcpy(data + i, &w, 8);
    }
  }
  for (; i < size; ++i)
    data[i] ^= k[i & 3];
}

std::size_t encode_header(std::uint8_t* out, opcode op, bool fin, std::uint64_t payload_size,
                          const std::array<std::uint8_t, 4>* key, bool rsv1) noexcept {
  std::size_t n = 0;
  out[n++] = static_cast<std::uint8_t>((fin ? fin_bit : 0) | (rsv1 ? rsv1_bit : 0) |
                                       static_cast<std::uint8_t>(op));
  const std::uint8_t masked = key ? mask_bit : 0;
  if (payload_size < 126) {
    out[n++] = static_cast<std::uint8_t>(masked | payload_size);
  } else if (payload_size <= 0xFFFF) {
    out[n++] = masked | 126;
    out[n++] = static_cast<std::uint8_t>(payload_size >> 8);
    out[n++] = static_cast<std::uint8_t>(payload_size);
  } else {
    out[n++] = masked | 127;
    for (int shift = 56; shift >= 0; shift -= 8)
      out[n++] = static_cast<std::uint8_t>(payload_size >> shift);
  }
  if (key) {
    std::memcpy(out + n, key->data(), 4);
    n += 4;
  }
  return n;
}

void append_frame(std::string& out, opcode op, std::string_view payload, bool fin,
                  const std::array<std::uint8_t, 4>* key, bool rsv1) {
  std::uint8_t header[max_frame_header];
  const std::size_t header_size = encode_header(header, op, fin, payload.size(), key, rsv1);
  const std::size_t start = out.size();
  out.resize(start + header_size + payload.size());
  std::memcpy(out.data() + start, header, header_size);
  if (!payload.empty())
    std::memcpy(out.data() + start + header_size, payload.data(), payload.size());
  if (key)
    mask(reinterpret_cast<std::uint8_t*>(out.data() + start + header_size), payload.size(), *key);
}

std::string_view unmasked_frame_payload(std::string_view frame) noexcept {
  if (frame.size() < 2) return {};
  const auto* p = reinterpret_cast<const std::uint8_t*>(frame.data());
  if ((p[1] & mask_bit) != 0) return {};
  const std::size_t hlen = header_length(p[1]);
  if (frame.size() < hlen) return {};
  const std::uint8_t len7 = p[1] & len7_bits;
  const std::uint64_t length = len7 < 126 ? len7 : read_be(p + 2, len7 == 126 ? 2 : 8);
  if (length != frame.size() - hlen) return {};
  return frame.substr(hlen);
}

std::string encode_close_payload(std::uint16_t code, std::string_view reason) {
  std::string out;
  if (code == 0) return out;
  std::size_t keep = std::min(reason.size(), max_control_payload - 2);
  // Never cut a code point in two: back up over continuation bytes (10xxxxxx).
  if (keep < reason.size())
    while (keep > 0 && (static_cast<std::uint8_t>(reason[keep]) & 0xC0) == 0x80)
      --keep;
  out.reserve(2 + keep);
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xFF));
  out.append(reason.data(), keep);
  return out;
}

std::size_t decoder::buffered() const noexcept {
  return heap_bytes(message_) + heap_bytes(control_);
}

decode_event decoder::fail(errc e, std::size_t consumed) {
  decode_event ev;
  ev.kind = decode_event::error;
  ev.error_code = e;
  ev.consumed = consumed;
  return ev;
}

decode_event decoder::finish_control(std::string_view payload, std::size_t consumed) {
  decode_event ev;
  ev.consumed = consumed;
  ev.op = frame_op_;
  in_payload_ = false;
  if (frame_op_ == opcode::ping) {
    ev.kind = decode_event::ping;
    ev.payload = payload;
  } else if (frame_op_ == opcode::pong) {
    ev.kind = decode_event::pong;
    ev.payload = payload;
  } else {  // close, section 5.5.1
    ev.kind = decode_event::close;
    if (payload.empty()) {
      ev.close_code = close_code::no_status;
    } else if (payload.size() == 1) {
      return fail(errc::bad_close_payload, consumed);
    } else {
      const auto* p = reinterpret_cast<const std::uint8_t*>(payload.data());
      ev.close_code = static_cast<std::uint16_t>((p[0] << 8) | p[1]);
      if (!is_valid_wire_close_code(ev.close_code)) return fail(errc::bad_close_code, consumed);
      if (!is_valid_utf8(p + 2, payload.size() - 2)) return fail(errc::invalid_utf8, consumed);
      ev.payload = payload.substr(2);
    }
  }
  return ev;
}

decode_event decoder::decode(std::uint8_t* data, std::size_t size) {
  if (release_message_) {
    std::string().swap(message_);  // give the memory back: idle connections hold nothing
    release_message_ = false;
  }
  if (!control_.empty() && !in_payload_) std::string().swap(control_);  // likewise

  std::size_t pos = 0;
  for (;;) {
    if (!in_payload_) {
      // --- Frame header -------------------------------------------------------------------
      const std::uint8_t* h = data + pos;
      const std::size_t avail = size - pos;
      if (header_size_ > 0 || avail < 2 || avail < header_length(h[1])) {
        // The header is cut across buffers: gather it in header_.
        std::size_t want = header_size_ < 2 ? 2 : header_length(header_[1]);
        while (header_size_ < want && pos < size) {
          header_[header_size_++] = data[pos++];
          if (header_size_ == 2) want = header_length(header_[1]);
        }
        if (header_size_ < want) {
          // Fail fast on what the first two bytes already tell.
          if (header_size_ >= 2) {
            // fall through to validation below with a partial header
          } else {
            return decode_event{decode_event::need_more, {}, false, 0, {}, pos, {}};
          }
        }
        h = header_.data();
      }
      const std::uint8_t b0 = h[0], b1 = h[1];
      const std::uint8_t op = b0 & opcode_bits;
      const bool fin = (b0 & fin_bit) != 0;
      const bool masked = (b1 & mask_bit) != 0;
      const std::uint8_t len7 = b1 & len7_bits;

      // Rules checkable on the first two bytes (fail fast, before the rest of the header).
      if (!is_known_opcode(op)) return fail(errc::bad_opcode, pos);
      const auto frame_op = static_cast<opcode>(op);
      const bool control = is_control(frame_op);
      const bool rsv1 = (b0 & rsv1_bit) != 0;
      if ((b0 & rsv_bits & ~rsv1_bit) != 0) return fail(errc::reserved_bits_set, pos);
      if (rsv1 && (!options_.allow_rsv1 || control || frame_op == opcode::continuation))
        return fail(errc::reserved_bits_set, pos);
      if (options_.local_role == role::server && !masked)
        return fail(errc::unmasked_client_frame, pos);
      if (options_.local_role == role::client && masked)
        return fail(errc::masked_server_frame, pos);
      if (control && !fin) return fail(errc::fragmented_control, pos);
      if (control && len7 > max_control_payload) return fail(errc::control_too_long, pos);
      if (frame_op == opcode::continuation && !in_message_)
        return fail(errc::unexpected_continuation, pos);
      if (!control && frame_op != opcode::continuation && in_message_)
        return fail(errc::expected_continuation, pos);

      const std::size_t hlen = header_length(b1);
      if (h == header_.data() && header_size_ < hlen)
        return decode_event{decode_event::need_more, {}, false, 0, {}, pos, {}};

      // The whole header is here.
      std::uint64_t length = len7;
      const std::uint8_t* ext = h + 2;
      if (len7 == 126) {
        length = read_be(ext, 2);
        if (length < 126) return fail(errc::non_minimal_length, pos);
        ext += 2;
      } else if (len7 == 127) {
        length = read_be(ext, 8);
        if (length >> 63) return fail(errc::length_msb_set, pos);
        if (length <= 0xFFFF) return fail(errc::non_minimal_length, pos);
        ext += 8;
      }
      if (masked) std::memcpy(mask_key_.data(), ext, 4);
      if (h != header_.data()) pos += hlen;
      header_size_ = 0;

      if (!control) {
        if (frame_op != opcode::continuation) {  // first frame of a message
          in_message_ = true;
          message_op_ = frame_op;
          message_compressed_ = rsv1;
          message_size_ = 0;
          utf8_.reset();
        }
        message_size_ += length;
        frame_start_ = message_.size();
        if (options_.max_message_size != 0 && message_size_ > options_.max_message_size)
          return fail(errc::message_too_big, pos);
      }
      frame_op_ = frame_op;
      frame_fin_ = fin;
      frame_masked_ = masked;
      frame_remaining_ = length;
      frame_offset_ = 0;
      in_payload_ = true;
    }

    // --- Payload --------------------------------------------------------------------------
    std::uint8_t* p = data + pos;
    const std::size_t avail =
        static_cast<std::size_t>(std::min<std::uint64_t>(frame_remaining_, size - pos));
    if (frame_masked_) mask(p, avail, mask_key_, frame_offset_);
    const bool frame_done = avail == frame_remaining_;
    pos += avail;
    frame_remaining_ -= avail;
    frame_offset_ += avail;

    if (is_control(frame_op_)) {
      if (frame_done && control_.empty())  // whole payload in this buffer: no copy
        return finish_control({reinterpret_cast<const char*>(p), avail}, pos);
      control_.append(reinterpret_cast<const char*>(p), avail);
      if (!frame_done) return decode_event{decode_event::need_more, {}, false, 0, {}, pos, {}};
      return finish_control(control_, pos);
    }

    if (message_op_ == opcode::text && !message_compressed_ && !utf8_.feed(p, avail))
      return fail(errc::invalid_utf8, pos);

    if (frame_done) in_payload_ = false;
    const bool message_done = frame_done && frame_fin_;
    if (message_done && message_.empty() && frame_op_ != opcode::continuation) {
      // The common case: an unfragmented message whole in this buffer. Hand out a view.
      in_message_ = false;
      if (message_op_ == opcode::text && !message_compressed_ && !utf8_.complete())
        return fail(errc::invalid_utf8, pos);
      decode_event ev{decode_event::message, message_op_, message_compressed_, 0, {}, pos, {}};
      ev.payload = {reinterpret_cast<const char*>(p), avail};
      return ev;
    }
    message_.append(reinterpret_cast<const char*>(p), avail);
    if (message_done) {
      in_message_ = false;
      if (message_op_ == opcode::text && !message_compressed_ && !utf8_.complete())
        return fail(errc::invalid_utf8, pos);
      release_message_ = true;
      decode_event ev{decode_event::message, message_op_, message_compressed_, 0, {}, pos, {}};
      ev.payload = message_;
      return ev;
    }
    if (frame_done && options_.report_fragments && !message_compressed_) {
      decode_event ev{decode_event::fragment, message_op_, false, 0, {}, pos, {}};
      ev.payload = std::string_view(message_).substr(frame_start_);
      return ev;
    }
    if (pos == size) return decode_event{decode_event::need_more, {}, false, 0, {}, pos, {}};
  }
}

}  // namespace switchboard::runtime::websocket
