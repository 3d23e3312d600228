// topic_frame.hpp: how a message on a broker topic is framed on the Redis pub/sub channel, so
// that a subscriber can tell a plain publish from a logged one and read its sequence and epoch
// (redis_broker.hpp). Sans-I/O: the fuzz target tests/fuzz/cluster_wire.cpp drives it.
//   "\x1e" 'p' payload                      plain publish(), sequence 0
//   "\x1e" 'l' SEQ ':' EPOCH ':' payload    logged publish (written by the broker's Lua script)
// SEQ is decimal, 1 or more, no overflow; EPOCH is 1 to 64 bytes without ':'.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::cluster {

inline constexpr char topic_frame_mark = '\x1e';
inline constexpr std::size_t max_epoch_size = 64;

struct topic_frame {
  std::uint64_t sequence = 0;  // 0: a plain publish
  std::string_view epoch;
  std::string_view payload;  // views into the parsed bytes
};

// False for anything that is not exactly one of the two frames.
bool parse_topic_frame(std::string_view in, topic_frame& out);

// A decimal number of 1 to 20 digits that fits in 64 bits (SEQ, and Redis's numeric replies).
bool parse_decimal_u64(std::string_view s, std::uint64_t& out);

// The plain publish frame of `payload`.
std::string plain_topic_frame(std::string_view payload);

}  // namespace switchboard::cluster
