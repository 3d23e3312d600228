// sgc_bridge.hpp: the default sgc protocol across the nodes of a cluster (issue 6). It attaches
// one protocols::sgc::server to one cluster::node and implements the server's federation hook
// (protocols/sgc/federation.hpp), so that the sgc servers of N nodes behave as one.
//
// Usage (the daemon; the bridge is made before the runtime server starts, since it sets the
// server's federation, and goes after the runtime server stopped):
//   cluster::sgc_bridge bridge{sgc_server, node};   // node: cluster::node on the broker
//   bridge.start();                                   // after node.start()
//   ...  transport.stop(); bridge.stop();             // before node.stop() and the broker
//
// What goes through the broker (node.bus()), all sealed in a v1::Envelope (proto/sgc.proto):
//   "sgc:ch:<channel>"  logged: every publish (SgcPublish) and ClearQueue (SgcClear) of the
//                       channel. The log's sequence is the channel's sequence on every node;
//                       the log (retention: the server's queue_max_count / queue_max_age) is
//                       the level 1/2 queue and the "since" recovery history. A node
//                       subscribes while it has a channel actor for the channel; every node,
//                       the origin included, delivers when the broker hands it the event.
//                       (Not "sgc:<channel>": a channel named "bcast" would meet the topics
//                       below.)
//   "sgc:bcast"         broadcasts (SgcBroadcast), plain publish: at most once.
//   "sgc:conns"         connections opened / closed (SgcConnection): each node's map of
//                       GUID -> node for write(); hash "sgc:guids" holds it for nodes that
//                       start later (read at start and at every link-up).
//                       GUIDs of a node that left the live view (node.nodes(): killed,
//                       it could not withdraw them) are forgotten after two 2 s sweeps.
//   "sgc:node:<id>"     to one node: WriteData (SgcWrite), RPC requests and replies.
//   hash "sgc:rpc"      field "<method>\n<node id>": who serves which RPC method (a live
//                       node is preferred; a call to a dead one ends in the RPC timeout).
//
// QoS: a publish is acknowledged once the broker's logged publish succeeded (Redis has it).
// The log keeps this node's publish order across an outage (sgc_bridge.cpp, "Order").
// While the broker is unreachable a publish is delivered to this node's subscribers at once,
// unsequenced, and kept in a bounded outbox (options below), logged (and acknowledged) when
// the link is back, in order, flagged so the origin does not deliver it twice; with the outbox
// full it is refused (sgc::cluster_unavailable, no ACK). A publish in flight when the link
// drops is kept the same way, so it may be logged twice if Redis had it already: at least
// once, never lost once acknowledged.
//
// Link state is polled (broker::stats(), every options::tick) rather than taken from
// broker::on_link, whose one handler belongs to whoever owns the broker; a loss and return
// between two polls shows in the broker's outage count and is a link-up too. On each link-up:
// every channel re-reads its log after its last sequence (twice: at once and one second
// later, in case the broker's resubscription finished after the first read), this node's
// connections and RPC methods are advertised again, the GUID map is reloaded, the outbox
// drains.
//
// Malformed envelopes from other nodes are dropped and counted (stats().dropped).
// Threads: start/stop/stats from any thread; everything else runs on the broker's thread and
// on one ticker thread of the bridge's own.
#pragma once

#include "cluster/node.hpp"
#include "protocols/sgc/server.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace switchboard::cluster {

struct sgc_bridge_options {
  std::size_t outbox_max_count = 10000;  // publishes kept during an outage
  std::size_t outbox_max_bytes = 64u << 20;
  std::chrono::milliseconds rpc_timeout{10000};  // a forwarded RPC with no answer: an error
  std::chrono::milliseconds tick{100};           // link poll, outbox drain, RPC timeouts
};

struct sgc_bridge_stats {
  std::size_t outbox = 0;  // publishes waiting for the link
  std::size_t outbox_bytes = 0;
  std::uint64_t refused = 0;        // publishes refused: outbox full
  std::uint64_t dropped = 0;        // malformed envelopes from other nodes
  std::uint64_t rpc_forwarded = 0;  // RPCs sent to another node
  std::uint64_t rpc_timeouts = 0;
  std::uint64_t link_ups = 0;   // link-ups seen (the first one included)
  std::size_t known_guids = 0;  // connections of other nodes this node knows
};

class sgc_bridge {
 public:
  // Sets `server`'s federation: call before the runtime server starts.
  sgc_bridge(protocols::sgc::server& server, node& n, sgc_bridge_options options = {});
  ~sgc_bridge();
  sgc_bridge(const sgc_bridge&) = delete;
  sgc_bridge& operator=(const sgc_bridge&) = delete;

  // Subscribes the bridge's topics and starts the ticker. Idempotent.
  void start();
  // Unsubscribes, withdraws this node's RPC methods and connections from the registry,
  // answers pending forwarded RPCs with an error. Idempotent; the destructor calls it.
  void stop();

  sgc_bridge_stats stats() const;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace switchboard::cluster
