// node.hpp: this daemon as a member of a cluster. It owns the node's identity, publishes its
// heartbeat and load, keeps the view of live nodes, and tells the bridges when a node appears
// or goes (a node that stops heartbeating is gone after `dead_after`, default 10 s: its members
// leave presence, its groups' members are dropped).
//
// Keys (prefix from the broker): hash "nodes" maps node id -> NodeInfo (proto/node.proto);
// key "node:<id>" with TTL dead_after is the heartbeat (Redis's clock decides, not ours); topic
// "nodes" carries NodeEvent joins, drains and leaves for prompt notice. The view is refreshed
// every `heartbeat`: a node whose key expired is dropped from the hash by whichever node sees it
// first and reported down by every node.
//
// Threads: nodes() and id() from any thread; handlers run on the broker thread.
#pragma once

#include "cluster/broker.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace switchboard::cluster {

struct node_info {
  std::string id;
  std::string role = "node";  // "node" or "balancer"
  std::string url;            // where clients reach it, e.g. "ws://127.0.0.1:8081"
  std::uint64_t connections = 0;
  std::uint64_t load = 0;  // what the balancer compares: open WebSocket connections
  std::int64_t started_ms = 0;
  bool draining = false;     // shutting down: the balancer sends nobody there
  std::int64_t beat_ms = 0;  // Unix ms of the heartbeat that carried `load` (the balancer
                             // adds the clients it sent there after it)
  bool self = false;
};

struct node_options {
  std::string id;  // "" = generated (random 64-bit hex)
  std::string role = "node";
  std::string url;  // advertised WebSocket base URL
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds dead_after{10000};
};

class node {
 public:
  using node_handler = std::function<void(const node_info&)>;
  using load_source = std::function<std::uint64_t()>;

  node(broker& b, node_options options);
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  const std::string& id() const noexcept;
  broker& bus() noexcept;

  // Before start(). Each call adds a handler (the bridges each add theirs); they run in order.
  void on_node_up(node_handler h);
  void on_node_down(node_handler h);
  void set_load_source(load_source connections);

  void start();
  // Drain: marks this node draining (the balancer stops sending clients), then leaves the
  // registry and tells the others. Bounded; idempotent.
  void stop();

  // Live nodes now (this one included, self = true), sorted by id.
  std::vector<node_info> nodes() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace switchboard::cluster
