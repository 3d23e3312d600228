// errors.cpp: see errors.hpp.
#include "apps/swbench/errors.hpp"

#include "apps/swbench/tls_client.hpp"

#include <algorithm>
#include <cstring>

namespace switchboard::swbench {

void conn_errors::merge(const conn_errors& o) {
  connect_failed += o.connect_failed;
  handshake_failed += o.handshake_failed;
  protocol_error += o.protocol_error;
  closed += o.closed;
  server_error += o.server_error;
  if (first.empty()) first = o.first;
}

void conn_errors::closed_by(const connection& c, close_cause cause, ws_errc detail) {
  switch (cause) {
    case close_cause::connect_failed:
      ++connect_failed;
      break;
    case close_cause::handshake_failed:
      ++handshake_failed;
      break;
    case close_cause::protocol_error:
      ++protocol_error;
      break;
    case close_cause::peer_closed:
    case close_cause::reset:
      ++closed;
      break;
    case close_cause::local:
      return;
  }
  if (!first.empty()) return;
  std::string text = "connection " + std::to_string(c.id) + ": " + to_string(cause);
  if (detail != ws_errc::ok) text += std::string(" (") + to_string(detail) + ")";
  if (c.sys_error != 0) text += std::string(" (") + std::strerror(c.sys_error) + ")";
  if (c.peer_close_code != 0) text += " (close " + std::to_string(c.peer_close_code) + ")";
  if (c.tls_error != 0) text += " (" + tls_error_string(c.tls_error) + ")";
  first = text;
}

std::string conn_errors::breakdown() const {
  return "connect " + std::to_string(connect_failed) + ", handshake " +
         std::to_string(handshake_failed) + ", protocol " + std::to_string(protocol_error) +
         ", closed " + std::to_string(closed) + ", server error " + std::to_string(server_error);
}

std::string quote(const std::uint8_t* data, std::size_t size) {
  return "'" + std::string(reinterpret_cast<const char*>(data), std::min<std::size_t>(size, 120)) +
         (size > 120 ? "...'" : "'");
}

}  // namespace switchboard::swbench
