// balancer.hpp: the load balancer role (the manual's TsgcWebSocketLoadBalancerServer). It reads
// the live-node view of a cluster::node of role "balancer" (never chosen itself) and sends each
// client to the least-loaded live node that is not draining, at random among equals:
//   GET /lb/node        200 {"url":"ws://127.0.0.1:8081","node":"<id>"}, 503 when none
//   any other upgrade   307 with Location = node URL + the same path and query (redirect mode),
//                       or relayed byte for byte to the node (proxy mode: the node answers the
//                       handshake itself, so subprotocols, deflate and auth are the node's)
// Broadcasts sent to the balancer are the hub's /broadcast route federated by the hub bridge
// (cluster/hub_bridge.hpp): the daemon runs the balancer beside its hub.
//
// Loads arrive with heartbeats (one a second): a burst of clients between two of them would all
// see the same figures. So the balancer adds to each node's load the clients it sent there after
// the heartbeat that measured it (node_info::beat_ms), looking back at most `assignment_window`:
// a burst spreads evenly, and a client already counted by the node is not counted twice.
//
// Threads: choose() and stats() from any thread; the routes run on the server's io threads.
#pragma once

#include "cluster/node.hpp"
#include "runtime/server.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace switchboard::cluster {

enum class balancer_mode : std::uint8_t { redirect, proxy };

struct balancer_options {
  balancer_mode mode = balancer_mode::redirect;
  std::chrono::milliseconds assignment_window{2000};
  std::size_t max_tunnel_buffer = 1u << 20;  // client bytes held while the node is dialed
  std::uint32_t connect_timeout_ms = 5000;   // dialing the node (proxy mode)
};

struct balancer_stats {
  std::uint64_t assigned = 0;      // clients sent to a node (all three ways)
  std::uint64_t redirected = 0;    // upgrades answered 307
  std::uint64_t proxied = 0;       // upgrades relayed to a node
  std::uint64_t proxy_failed = 0;  // the node could not be dialed (502)
  std::uint64_t no_node = 0;       // requests answered 503
  std::uint64_t tunnels_open = 0;
};

// "redirect" or "proxy"; nullopt for anything else.
std::optional<balancer_mode> parse_balancer_mode(const std::string& text);

class balancer {
 public:
  balancer(node& view, balancer_options options = {});
  ~balancer();
  balancer(const balancer&) = delete;
  balancer& operator=(const balancer&) = delete;

  // Adds GET `node_path` and the upgrade route "/*" (WebSocket routes added to `s` take their
  // paths first). Before s.start(); the balancer must outlive the server's io threads.
  void attach(runtime::server& s, const std::string& node_path = "/lb/node");

  // The node the next client goes to (counted as assigned), or nullopt when none is live.
  std::optional<node_info> choose();

  balancer_stats stats() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace switchboard::cluster
