// federation.hpp: what the hub tells a cluster bridge (cluster/hub_bridge.hpp), so that its
// broadcasts reach the connections of every node. actors/ must not include cluster/: the hub
// calls this interface and the bridge implements it, and the bridge applies what other nodes
// sent through the hub's local_* methods (hub.hpp), which never call back here (no echo).
//
// Each call is made after the local delivery was queued, from the caller's thread; an
// implementation must not block (it hands the message to the broker and returns).
#pragma once

#include "runtime/websocket/rfc6455.hpp"

#include <string>
#include <string_view>

namespace switchboard::actors {

class hub_federation {
 public:
  virtual ~hub_federation() = default;
  // hub::broadcast(text): every connection of the hub's paths.
  virtual void broadcast(std::string_view text) = 0;
  // hub::broadcast(text, channel): the connections subscribed to `channel`.
  virtual void broadcast(std::string_view text, const std::string& channel) = 0;
  // groups().broadcast(name or pattern, text): once per connection on each node.
  virtual void group_broadcast(const std::string& group_or_pattern, std::string_view text) = 0;
  // A message received on the /broadcast endpoint: every /broadcast client.
  virtual void endpoint_broadcast(runtime::websocket::opcode op, std::string_view payload) = 0;
};

}  // namespace switchboard::actors
