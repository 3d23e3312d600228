#include "cluster/broker.hpp"

#include "cluster/local_broker.hpp"
#include "cluster/redis_broker.hpp"

namespace switchboard::cluster {

const char* to_string(broker_error e) noexcept {
  switch (e) {
    case broker_error::none:
      return "ok";
    case broker_error::unavailable:
      return "cluster broker unavailable";
    case broker_error::failed:
      return "cluster broker failed";
  }
  return "unknown";
}

std::unique_ptr<broker> make_broker(const std::string& url) {
  if (url.empty() || url == "local") return std::make_unique<local_broker>();
  return std::make_unique<redis_broker>(parse_redis_url(url));
}

}  // namespace switchboard::cluster
