#include "runtime/error.hpp"

#include <string>

namespace switchboard::runtime {
namespace {
struct category final : std::error_category {
  const char* name() const noexcept override { return "switchboard"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::eof:
        return "peer closed the connection";
      case errc::slow_consumer:
        return "closed by the slow-consumer policy";
      case errc::heartbeat_timeout:
        return "no pong within the heartbeat timeout";
      case errc::shutting_down:
        return "server shutting down";
      case errc::bad_url:
        return "bad URL";
      case errc::timed_out:
        return "connect timed out";
      case errc::handshake_refused:
        return "the server refused the WebSocket upgrade";
      case errc::bad_handshake:
        return "invalid WebSocket handshake response";
      case errc::too_many_redirects:
        return "too many redirects";
    }
    return "unknown error";
  }
};
}  // namespace

const std::error_category& runtime_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace switchboard::runtime
