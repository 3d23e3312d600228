// cluster_nodes: several nodes of one cluster in one process, each a hub with the default sgc
// protocol at /sgc, federated by the cluster bridges (cluster/*_bridge.hpp) over Redis or, with
// "local", over the in-process broker (cluster/local_broker.hpp). What the daemon does with
// --cluster, as an application embeds it.
//
//   build/bin/cluster_nodes local 127.0.0.1:9001 127.0.0.1:9002
//   build/bin/cluster_nodes redis://127.0.0.1:6379 127.0.0.1:9001 127.0.0.1:9002
//
// Then subscribe a client on one node and publish on the other (build/bin/sgc_client, or /chat
// of a daemon pointed at the same Redis): the publish crosses, with the same sequence numbers
// on both nodes. Each node serves the RPC "whoami" (its node id); a method only one node serves
// is answered for clients of every node. Node up/down events are printed. Ctrl-C stops.
#include "actors/hub.hpp"
#include "cluster/broker.hpp"
#include "cluster/hub_bridge.hpp"
#include "cluster/local_broker.hpp"
#include "cluster/node.hpp"
#include "cluster/sgc_bridge.hpp"
#include "protocols/sgc/server.hpp"
#include "runtime/config.hpp"

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

using namespace switchboard;

namespace {

struct member_node {
  std::unique_ptr<actors::hub> hub;
  std::unique_ptr<cluster::broker> bus;
  std::unique_ptr<cluster::node> self;
  std::unique_ptr<protocols::sgc::server> sgc;
  std::unique_ptr<cluster::sgc_bridge> sgc_bridge;
  std::unique_ptr<cluster::hub_bridge> hub_bridge;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: cluster_nodes local|redis://HOST:PORT LISTEN [LISTEN...]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // events as they happen, also into a pipe
  // SIGINT/SIGTERM blocked before any thread starts (they inherit the mask), waited for below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const std::string engine = argv[1];
  // "local": the nodes share one in-process fabric (they see only each other).
  const auto fabric = engine == "local" ? cluster::local_broker::make_fabric() : nullptr;
  std::vector<member_node> nodes(static_cast<std::size_t>(argc - 2));
  try {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      member_node& n = nodes[i];
      actors::hub_options ho;
      ho.server.bindings = {runtime::parse_binding(argv[i + 2])};
      n.hub = std::make_unique<actors::hub>(ho);
      if (fabric)
        n.bus = std::make_unique<cluster::local_broker>(fabric);
      else
        n.bus = cluster::make_broker(engine);
      cluster::node_options no;
      no.id = "node" + std::to_string(i + 1);
      no.url = std::string("ws://") + argv[i + 2];
      n.self = std::make_unique<cluster::node>(*n.bus, no);
      n.self->on_node_up([id = no.id](const cluster::node_info& o) {
        std::printf("%s: %s is up\n", id.c_str(), o.id.c_str());
      });
      n.self->on_node_down([id = no.id](const cluster::node_info& o) {
        std::printf("%s: %s is down\n", id.c_str(), o.id.c_str());
      });
      n.sgc = std::make_unique<protocols::sgc::server>(n.hub->system(), n.hub->server());
      n.sgc->attach("/sgc");
      n.sgc->on_rpc("whoami", [id = no.id](const protocols::sgc::peer&,
                                           protocols::sgc::rpc_call c) { c.result(id); });
      n.sgc_bridge = std::make_unique<cluster::sgc_bridge>(*n.sgc, *n.self);  // before start
      n.hub_bridge = std::make_unique<cluster::hub_bridge>(*n.self, *n.hub);
      n.hub->on_stopped([s = n.sgc.get()] { s->stop(); });
    }
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      member_node& n = nodes[i];
      n.hub->start();
      n.bus->start();
      n.hub_bridge->start();
      n.self->start();
      n.sgc_bridge->start();
      std::printf("%s: ws://%s/sgc\n", n.self->id().c_str(), argv[i + 2]);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cluster_nodes: %s\n", e.what());
    return 1;
  }
  int received = 0;
  sigwait(&signals, &received);
  for (auto& n : nodes) {  // the daemon's order: drain, unfederate, close, then the link
    n.self->stop();
    n.hub_bridge->stop();
    n.hub->stop();
    n.sgc_bridge->stop();
    n.bus->stop();
  }
  return 0;
}
