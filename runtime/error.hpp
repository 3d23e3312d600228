// error.hpp: why a connection ended, when no socket error says it (Beast-style error enum).
#pragma once

#include <system_error>

namespace switchboard::runtime {

enum class errc {
  eof = 1,            // the peer closed the TCP stream
  slow_consumer,      // closed by the slow-consumer policy
  heartbeat_timeout,  // no pong within the heartbeat timeout
  shutting_down,      // the server is stopping
};

const std::error_category& runtime_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), runtime_category()};
}

}  // namespace switchboard::runtime

template <>
struct std::is_error_code_enum<switchboard::runtime::errc> : std::true_type {};
