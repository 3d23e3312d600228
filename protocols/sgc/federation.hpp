// federation.hpp: the hook through which the sgc server spans several nodes (issue 6). The
// protocol defines it and calls it; the cluster layer implements it (cluster/sgc_bridge.hpp),
// so protocols/ never includes cluster/ (DESIGN.md, layering). Without a federation set on the
// server (server::set_federation), nothing here is used and the server is the single-node one.
//
// The model, for channel publishes (spec/sgc-protocols.md 2.5, 2.8, 2.9):
//   - every publish is handed to publish(); the federation logs it once for the whole cluster
//     (one global sequence per channel) and calls `done(true)` once the shared store has it:
//     only then is a QoS 1/2 publish acknowledged. `done(false)`: refused (the cluster is
//     unreachable and the outbox is full); the client gets cluster_unavailable, no ACK.
//   - each node delivers to its local subscribers when the federation hands it the logged
//     event (watch()), the origin included, so every node shows the same sequence numbers;
//   - while the store is unreachable the federation delivers at once to this node's
//     subscribers (server::deliver_now), keeps the publish to log later, and marks it so the
//     origin does not deliver it a second time (federated_event::delivered);
//   - a channel that starts, or that sees a gap, reads the log (history()): the log is the
//     level-1/level-2 queue and the recovery history of the cluster.
//
// Threads: every member may be called from any thread and must not block; the handlers it is
// given run on the federation's own thread and must not block either.
#pragma once

#include "protocols/sgc/codec.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::protocols::sgc {

class rpc_call;

// Include/exclude lists of the server API (2.5), parsed from comma lists of GUIDs. Empty
// include: everyone.
struct target_filter {
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  bool empty() const noexcept { return include.empty() && exclude.empty(); }
  bool admits(const std::string& guid) const;
  static target_filter parse(std::string_view exclude, std::string_view include);
};

// One entry of a channel's cluster-wide log, live or read back.
struct federated_event {
  enum class kind : std::uint8_t { publish, clear };  // clear: ClearQueue on some node
  kind what = kind::publish;
  std::uint64_t sequence = 0;  // the channel's global sequence, from 1
  std::string epoch;           // the log's lifetime: a new epoch restarts the sequence
  std::string payload;         // one JSON value (publish)
  queue_level queue = queue_level::level0;
  target_filter filter;
  // This node delivered it already, unsequenced, while the cluster was unreachable: store it,
  // count it, do not fan it out again.
  bool delivered = false;
};

class federation {
 public:
  virtual ~federation() = default;

  // --- channel publish ---------------------------------------------------------------------
  using publish_done = std::function<void(bool stored)>;
  // `channel` is one literal name (patterns were expanded by the server).
  virtual void publish(const std::string& channel, std::string payload, queue_level queue,
                       const target_filter& filter, publish_done done) = 0;
  // ClearQueue: logged like a publish, so every node (and later readers of the log) drop the
  // channel's retained events at the same point of its sequence.
  virtual void clear(const std::string& channel) = 0;

  using event_handler = std::function<void(federated_event)>;
  // Logged events of `channel` from now on, in sequence order (gaps are possible: a lost
  // link; the channel fills them with history()). One handler per channel; watch again
  // replaces it. `ready` runs once the watch is in place (or failed: the link is down), so a
  // history() read after it misses nothing.
  virtual void watch(const std::string& channel, event_handler h, std::function<void()> ready) = 0;
  virtual void unwatch(const std::string& channel) = 0;
  // At most `max` entries after `after`, oldest first, and the log's epoch. ok false: the
  // store is unreachable (the channel asks again when server::resync() says it is back).
  using history_handler =
      std::function<void(bool ok, std::vector<federated_event> entries, std::string epoch)>;
  virtual void history(const std::string& channel, std::uint64_t after, std::size_t max,
                       history_handler h) = 0;

  // --- everything else -----------------------------------------------------------------------
  // A broadcast this node delivered locally already, for the other nodes (2.5).
  virtual void broadcast(const std::string& channel, std::string payload,
                         const target_filter& filter) = 0;
  // WriteData to a connection of another node: true when the GUID is known there.
  virtual bool write(const std::string& guid, std::string payload) = 0;
  // An RPC no local handler serves: answer it (through `call`) from the node that has it, or
  // -32601 when none has, or an error after the federation's timeout.
  virtual void rpc(rpc_call call) = 0;
  // Connections of this node, so write() elsewhere finds them.
  virtual void connection_opened(const std::string& guid) = 0;
  virtual void connection_closed(const std::string& guid) = 0;
};

}  // namespace switchboard::protocols::sgc
