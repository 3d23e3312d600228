// hub_bridge.hpp: the hub's broadcasts and groups across nodes (actors/federation.hpp is the
// hook the hub calls; this is the cluster side). hub::broadcast(text), broadcast(text,
// channel), groups().broadcast(name or pattern, text) and the /broadcast endpoint reach the
// connections of every node, each connection once: the calling node delivers to its own
// connections and publishes one HubEvent (proto/hub.proto) on topic "hub"; every other node
// delivers it to its own (a node skips what it published itself). A connection of another
// node is addressed as (node id, connection id): send() publishes on "hub:<node>", which only
// that node subscribes to.
//
// Usage (the daemon; no node events needed: nothing is mirrored):
//   cluster::hub_bridge hub_bridge{node, hub};
//   hub_bridge.start();                     // after hub.start(): subscribes, federates the hub
//   hub_bridge.stop();                      // before the hub and the broker stop
//
// Group membership stays with the node of the connection (groups().members()/names() answer
// for this node): a group broadcast is carried by name or pattern and every node matches it
// against its own groups, so nothing is mirrored and a node that dies takes its members along.
// The cluster-wide view is a question instead: group_names() and group_members() ask every
// live node (HubGroupQuery on "hub"; each answers on "hub:<asker>") and wait for the answers,
// bounded by a timeout (a node that does not answer in time is left out).
// Delivery is the broker's: at most once, in order per publishing node; while the link is down
// broadcasts reach this node's connections only (counted in stats().unavailable).
//
// Threads: every method from any thread; what other nodes send is delivered on the broker
// thread (the hub's local_* methods only queue frames). Malformed envelopes are dropped and
// counted (stats().dropped).
#pragma once

#include "actors/federation.hpp"
#include "actors/hub.hpp"
#include "cluster/broker.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::cluster {

class node;
namespace v1 {
class HubGroupAnswer;
}

struct hub_bridge_stats {
  std::uint64_t published = 0;    // events handed to the broker
  std::uint64_t applied = 0;      // events of other nodes delivered here
  std::uint64_t dropped = 0;      // malformed envelopes, unknown kinds
  std::uint64_t unavailable = 0;  // publishes refused (link down)
};

class hub_bridge final : public actors::hub_federation {
 public:
  hub_bridge(node& n, actors::hub& h);
  // A bridge without a node object: `node_id` must be the id of this node in the cluster.
  hub_bridge(broker& b, std::string node_id, actors::hub& h);
  ~hub_bridge() override;
  hub_bridge(const hub_bridge&) = delete;
  hub_bridge& operator=(const hub_bridge&) = delete;

  void start();
  // Unfederates the hub and unsubscribes. Idempotent.
  void stop();

  // To connection `id` of node `node` (this node included). For this node: whether it is
  // open; for another: whether the broker took the message (it is dropped there silently if
  // the connection is gone).
  bool send(const std::string& node, actors::connection_id id, std::string_view text);
  bool send_binary(const std::string& node, actors::connection_id id, std::string_view data);

  // Cluster-wide group views (blocking up to `timeout`; not from the broker thread): every
  // node's group names, sorted, once each; the members of `group` as (node, connection id).
  // With a node object the answers of every live node are awaited; without one, the timeout.
  std::vector<std::string> group_names(std::chrono::milliseconds timeout = std::chrono::seconds(1));
  std::vector<std::pair<std::string, actors::connection_id>> group_members(
      const std::string& group, std::chrono::milliseconds timeout = std::chrono::seconds(1));

  const std::string& node_id() const noexcept { return self_; }
  hub_bridge_stats stats() const;

  struct queries;  // the questions this node asked, their answers, the answering thread

  // --- actors::hub_federation (called by the hub) -------------------------------------------
  void broadcast(std::string_view text) override;
  void broadcast(std::string_view text, const std::string& channel) override;
  void group_broadcast(const std::string& group_or_pattern, std::string_view text) override;
  void endpoint_broadcast(runtime::websocket::opcode op, std::string_view payload) override;

 private:
  void on_delivery(std::string_view payload);
  bool send_any(const std::string& node, actors::connection_id id, std::string_view data,
                bool binary);
  void emit(const std::string& topic, std::string sealed);
  // Asks every node; `answer` collects each node's reply (by node id).
  void ask(const std::string& group, std::chrono::milliseconds timeout,
           const std::function<void(const std::string& node, const v1::HubGroupAnswer&)>& answer);

  node* node_ = nullptr;  // the live-node view, when constructed with one
  broker& bus_;
  std::string self_;
  actors::hub& hub_;
  std::atomic<bool> started_{false};
  std::atomic<std::uint64_t> published_{0}, applied_{0}, dropped_{0}, unavailable_{0};
  std::unique_ptr<queries> queries_;
};

}  // namespace switchboard::cluster
