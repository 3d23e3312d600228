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
