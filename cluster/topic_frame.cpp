#include "cluster/topic_frame.hpp"

#include <limits>

namespace switchboard::cluster {

bool parse_decimal_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

bool parse_topic_frame(std::string_view in, topic_frame& out) {
  if (in.size() < 2 || in[0] != topic_frame_mark) return false;
  if (in[1] == 'p') {
    out = topic_frame{0, {}, in.substr(2)};
    return true;
  }
  if (in[1] != 'l') return false;
  const auto rest = in.substr(2);
  const auto c1 = rest.find(':');
  if (c1 == std::string_view::npos) return false;
  std::uint64_t seq = 0;
  if (!parse_decimal_u64(rest.substr(0, c1), seq) || seq == 0) return false;
  const auto after = rest.substr(c1 + 1);
  const auto c2 = after.find(':');
  if (c2 == std::string_view::npos || c2 == 0 || c2 > max_epoch_size) return false;
  out = topic_frame{seq, after.substr(0, c2), after.substr(c2 + 1)};
  return true;
}

std::string plain_topic_frame(std::string_view payload) {
  std::string framed;
  framed.reserve(payload.size() + 2);
  framed += topic_frame_mark;
  framed += 'p';
  framed += payload;
  return framed;
}

}  // namespace switchboard::cluster
