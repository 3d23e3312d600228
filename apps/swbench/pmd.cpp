// pmd.cpp: see pmd.hpp.
#include "apps/swbench/pmd.hpp"

#include <zlib.h>

#include <algorithm>
#include <new>

namespace switchboard::swbench {

namespace {

constexpr std::uint8_t sync_tail[4] = {0x00, 0x00, 0xff, 0xff};  // RFC 7692 7.2.1 / 7.2.2
constexpr std::size_t min_step = 4096;                           // output room per zlib call

uInt clamp_uint(std::size_t n) {
  return static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
}

}  // namespace

struct message_deflater::stream {
  z_stream z{};
};

struct message_inflater::stream {
  z_stream z{};
};

message_deflater::message_deflater(int window_bits, bool no_context_takeover, int level,
                                   int mem_level)
    : z_(std::make_unique<stream>()), no_context_takeover_(no_context_takeover) {
  const int bits = std::max(window_bits, 9);  // zlib refuses 8 for raw deflate; see pmd.hpp
  if (deflateInit2(&z_->z, level, Z_DEFLATED, -bits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::bad_alloc();
  }
}

message_deflater::~message_deflater() {
  deflateEnd(&z_->z);
}

bool message_deflater::compress(const std::uint8_t* data, std::size_t size, byte_buffer& out) {
  z_stream& z = z_->z;
  out.clear();
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = clamp_uint(size);
  // Text compresses; an incompressible message grows by a few bytes per 16 KiB block. Once the
  // buffer has grown to fit a message, later ones take a single call.
  do {
    const std::size_t room = std::max({out.spare(), size / 2 + 64, min_step});
    std::uint8_t* p = out.prepare(room);
    z.next_out = p;
    z.avail_out = clamp_uint(room);
    const int r = deflate(&z, Z_SYNC_FLUSH);
    if (r != Z_OK && r != Z_BUF_ERROR) return false;
    out.commit(room - z.avail_out);
  } while (z.avail_out == 0 || z.avail_in != 0);
  // Z_SYNC_FLUSH ends with an empty stored block, 0x00 0x00 0xff 0xff: dropped (7.2.1).
  const std::size_t n = out.size();
  if (n >= 4 && std::equal(sync_tail, sync_tail + 4, out.data() + n - 4)) out.truncate(n - 4);
  if (out.empty()) out.append(sync_tail, 1);  // the empty message (7.2.3.6)
  if (no_context_takeover_ && deflateReset(&z) != Z_OK) return false;
  return true;
}

message_inflater::message_inflater(int window_bits, bool no_context_takeover)
    : z_(std::make_unique<stream>()),
      window_bits_(window_bits),
      no_context_takeover_(no_context_takeover) {
  if (inflateInit2(&z_->z, -window_bits_) != Z_OK) throw std::bad_alloc();
}

message_inflater::~message_inflater() {
  inflateEnd(&z_->z);
}

bool message_inflater::restart() {
  z_stream& z = z_->z;
  if (no_context_takeover_) return inflateReset(&z) == Z_OK;
  // The next block may reference the previous messages: carry the window into the new stream.
  Bytef window[1 << 15];
  uInt length = 0;
  if (inflateGetDictionary(&z, window, &length) != Z_OK || inflateReset(&z) != Z_OK) {
    return false;
  }
  return length == 0 || inflateSetDictionary(&z, window, length) == Z_OK;
}

ws_errc message_inflater::inflate(const std::uint8_t* data, std::size_t size, byte_buffer& out,
                                  std::size_t max_size) {
  z_stream& z = z_->z;
  out.clear();
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = clamp_uint(size);
  bool tail_fed = false;
  for (;;) {
    if (z.avail_in == 0) {
      if (tail_fed) {
        if (z.avail_out != 0) break;  // all input used and zlib had room left: done
      } else {
        z.next_in = const_cast<Bytef*>(sync_tail);
        z.avail_in = sizeof sync_tail;
        tail_fed = true;
      }
    }
    // Room for a little more than max_size, so that a message over the limit is seen as such.
    const std::size_t room = std::max({out.spare(), size * 4, min_step});
    std::uint8_t* p = out.prepare(room);
    z.next_out = p;
    z.avail_out = clamp_uint(room);
    const int r = ::inflate(&z, Z_SYNC_FLUSH);
    out.commit(room - z.avail_out);
    if (out.size() > max_size) return ws_errc::frame_too_big;
    if (r == Z_STREAM_END) {  // a final block (7.2.3.4): what follows starts a new stream
      if (!restart()) return ws_errc::inflate_failed;
      // A message that ends with its final block is complete: the four bytes of 7.2.2 would
      // not continue it (they only close a flushed block), so they are not appended.
      if (z.avail_in == 0 && !tail_fed) break;
      z.avail_out = 1;  // not "output full"
      continue;
    }
    if (r == Z_BUF_ERROR && z.avail_in == 0) {  // no progress possible: the input is used up
      if (tail_fed) break;
      continue;
    }
    if (r != Z_OK) return ws_errc::inflate_failed;
  }
  if (no_context_takeover_ && inflateReset(&z) != Z_OK) return ws_errc::inflate_failed;
  return ws_errc::ok;
}

}  // namespace switchboard::swbench
