// error.hpp: why a connection ended or could not start, when no socket error says it
// (Beast-style error enum).
#pragma once

#include <system_error>

namespace switchboard::runtime {

enum class errc {
  eof = 1,            // the peer closed the TCP stream
  slow_consumer,      // closed by the slow-consumer policy
  heartbeat_timeout,  // no pong within the heartbeat timeout
  shutting_down,      // the server is stopping
  // The client's connection attempts (runtime/client.hpp).
  bad_url,             // the URL (or a redirect's Location) cannot be dialed
  timed_out,           // dial, proxy, TLS and upgrade did not finish within connect_timeout
  handshake_refused,   // the server answered the upgrade with another HTTP status
  bad_handshake,       // the 101 response breaks a rule of RFC 6455 section 4.1
  too_many_redirects,  // more 3xx answers than max_redirects
};

const std::error_category& runtime_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), runtime_category()};
}

}  // namespace switchboard::runtime

template <>
struct std::is_error_code_enum<switchboard::runtime::errc> : std::true_type {};
