// cluster_page.hpp: what the daemon shows about its cluster: the /cluster page (nodes, their
// load and role, draining, the broker link), /cluster.json it refreshes from, and the
// switchboard_cluster_* (and, on a balancer, switchboard_balancer_*) lines added to /metrics.
#pragma once

#include "cluster/balancer.hpp"
#include "cluster/broker.hpp"
#include "cluster/hub_bridge.hpp"
#include "cluster/node.hpp"
#include "cluster/presence_bridge.hpp"
#include "cluster/sgc_bridge.hpp"

#include <string>
#include <string_view>

namespace switchboard::app {

std::string_view cluster_page_html();

// What this daemon runs beside its node; each null when absent (the balancer on a node, the
// bridges without --cluster or with their protocol turned off).
struct cluster_parts {
  const cluster::balancer* lb = nullptr;
  const cluster::sgc_bridge* sgc = nullptr;
  const cluster::presence_bridge* presence = nullptr;
  const cluster::hub_bridge* hub = nullptr;
};

std::string render_cluster_json(cluster::node& self, const cluster::broker& bus,
                                const cluster_parts& parts);
std::string render_cluster_prometheus(cluster::node& self, const cluster::broker& bus,
                                      const cluster_parts& parts);

}  // namespace switchboard::app
