// presence_bridge.hpp: the Presence protocol across nodes, Phoenix.Tracker style: each node is
// the source of truth for its own members, the others keep a mirror per node.
//
//   - Out: the presence server calls this bridge (protocols/presence/server.hpp, federation)
//     on every local change; the bridge writes the member to its shard (hash
//     "presence:shard:<node>": "m:<id>" -> PresenceMember with its channels, "seq" -> the last
//     change's seq) and publishes a PresenceEvent (proto/presence.proto) on topic "presence".
//     One topic, not one per channel: a member's member@new, joins, publishes and leaves cross
//     channels, and one topic keeps them in the order the node made them (the broker orders
//     per publishing node and topic), which 5.2's order rules need.
//   - In: every other node's events are applied to the server's mirror (apply_*), which tells
//     the local connections exactly what a local change would have (same messages, audiences
//     and order). They are applied on one thread of this bridge, in arrival order: the apply_*
//     wait for the server's actors as the io thread does, and broker handlers must not block.
//   - Shards: on start, on node_up and on link up the bridge reads the shards of the live nodes
//     (hgetall) and makes the mirror equal to them (apply_sync). Events of a node that arrive
//     while its shard is being read are held, then replayed past the shard's seq: no change is
//     lost or applied twice between the read and the stream.
//   - Node down (node.hpp on_node_down, dead_after): the mirror of that node is dropped with the
//     leave events (channel@member@remove per channel, then member@remove) to the local
//     connections, and its shard deleted (every node does it; it is idempotent). Its events
//     are ignored until it is up again.
//   - Clean stop: a "gone" event (the others drop the mirror at once) and the shard deleted.
//   - Link outage: local presence keeps working (the broker refuses fast, counted). On link up
//     the shard is written again and sent whole as a snapshot event (the others may have
//     dropped this node meanwhile), and the others' shards are read again.
//
// Member id race: an id held anywhere is refused with error 1. Two nodes that accept one id at
// the same instant both see the other's member@new; the lower node id keeps it and the other
// node removes its own member (leave events to everyone, error 1 to its connection). Every
// node applies the same rule, so all mirrors agree once the events have crossed.
//
// Usage (the daemon). node.hpp and broker.hpp take one handler of each kind, set before their
// start(): the daemon forwards node up/down and link changes to every bridge.
//   cluster::presence_bridge presence_bridge{node, presence_server};
//   node.on_node_up([&](auto& n) { presence_bridge.node_up(n.id); });  // and on_node_down ->
//   presence_bridge.start();   // node_down, bus.on_link(up -> link(up)); then node.start().
//   presence_bridge.stop() before the presence server, the node and the broker stop.
//
// Threads: every method from any thread. Malformed envelopes are dropped and counted.
#pragma once

#include "cluster/broker.hpp"
#include "protocols/presence/server.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace switchboard::cluster {

class node;

struct presence_bridge_stats {
  std::uint64_t published = 0;    // events handed to the broker
  std::uint64_t applied = 0;      // events of other nodes applied here
  std::uint64_t skipped = 0;      // events a shard read had already (seq), or of a dead node
  std::uint64_t dropped = 0;      // malformed envelopes
  std::uint64_t unavailable = 0;  // broker operations refused (link down)
  std::uint64_t shard_reads = 0;  // shards read (start, node up, link up)
};

class presence_bridge final : public protocols::presence::federation {
 public:
  presence_bridge(node& n, protocols::presence::server& s);
  ~presence_bridge() override;
  presence_bridge(const presence_bridge&) = delete;
  presence_bridge& operator=(const presence_bridge&) = delete;

  // Federates the server, subscribes, writes this node's shard, reads the live nodes' shards.
  void start();
  // Clean stop: "gone" to the others, the shard deleted, the server unfederated. Idempotent.
  void stop();

  // From node.hpp's handlers (and the broker's link handler).
  void node_up(const std::string& node_id);
  void node_down(const std::string& node_id);
  void link(bool up);

  const std::string& node_id() const noexcept;
  presence_bridge_stats stats() const;

  // --- protocols::presence::federation (called by the server) -------------------------------
  void member_new(const protocols::presence::member& m) override;
  void member_update(const protocols::presence::member& m) override;
  void member_remove(const protocols::presence::member& m) override;
  void join(const std::string& channel, const protocols::presence::member& m) override;
  void leave(const std::string& channel, const protocols::presence::member& m) override;
  void publish(const std::string& channel, const std::string& text,
               const protocols::presence::member* from) override;
  void invite(const std::string& node, const std::string& channel,
              const protocols::presence::member& inviter, const std::string& invitee_id) override;
  void respond(const std::string& node, const std::string& channel,
               const protocols::presence::member& invitee, const std::string& inviter_id,
               bool accept, const std::optional<protocols::presence::error_info>& error) override;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace switchboard::cluster
