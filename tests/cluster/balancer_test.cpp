// balancer_test.cpp: the load balancer role (cluster/balancer.hpp) over real sockets: three
// nodes and a balancer on one local fabric, GET /lb/node picking the least loaded and spreading
// a burst of 300 evenly, the 307 that keeps path and query (followed by the runtime client to a
// real echo server), the proxy relaying a WebSocket byte for byte, and 503 with no node.
#include "cluster/balancer.hpp"
#include "cluster/local_broker.hpp"
#include "cluster/node.hpp"
#include "protocols/sgc/client.hpp"
#include "protocols/sgc/server.hpp"
#include "runtime/client.hpp"
#include "runtime/server.hpp"
#include "support/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace switchboard;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// One request on a fresh connection; the whole response (the server closes or sends a length).
std::string http_exchange(std::uint16_t port, const std::string& request) {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(s, asio::buffer(request));
  std::string out;
  char buf[4096];
  boost::system::error_code ec;
  while (true) {
    const std::size_t n = s.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
    const auto end = out.find("\r\n\r\n");
    if (end == std::string::npos) continue;
    const auto cl = out.find("Content-Length: ");
    if (cl != std::string::npos && cl < end &&
        out.size() >= end + 4 + std::stoul(out.substr(cl + 16)))
      break;
  }
  return out;
}

std::string get(std::uint16_t port, const std::string& path) {
  return http_exchange(port,
                       "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

int status_of(const std::string& response) {
  return response.size() > 12 ? std::stoi(response.substr(9, 3)) : 0;
}

std::string body_of(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? std::string{} : response.substr(end + 4);
}

std::string header_of(const std::string& response, const std::string& name) {
  const auto at = response.find("\r\n" + name + ": ");
  if (at == std::string::npos) return {};
  const auto from = at + 4 + name.size();
  return response.substr(from, response.find("\r\n", from) - from);
}

// "node":"<id>" from the /lb/node answer.
std::string node_of(const std::string& body) {
  const auto at = body.find("\"node\":\"");
  if (at == std::string::npos) return {};
  return body.substr(at + 8, body.find('"', at + 8) - at - 8);
}

runtime::server_options listen_on(std::uint16_t port) {
  runtime::server_options o;
  o.bindings = {runtime::parse_binding("127.0.0.1:" + std::to_string(port))};
  o.threads = 1;
  return o;
}

cluster::node_options opts(const std::string& id, const std::string& role, const std::string& url,
                           std::chrono::milliseconds heartbeat = 100ms) {
  cluster::node_options o;
  o.id = id;
  o.role = role;
  o.url = url;
  o.heartbeat = heartbeat;
  o.dead_after = heartbeat * 6;
  return o;
}

// A cluster on one fabric: `urls.size()` nodes with settable loads, and a balancer node with a
// balancer served on its own port.
struct cluster_fixture {
  std::shared_ptr<cluster::local_broker::fabric> fabric = cluster::local_broker::make_fabric();
  std::vector<std::unique_ptr<cluster::local_broker>> buses;
  std::vector<std::unique_ptr<cluster::node>> nodes;
  std::vector<std::shared_ptr<std::atomic<std::uint64_t>>> loads;
  std::unique_ptr<cluster::local_broker> lb_bus;
  std::unique_ptr<cluster::node> lb_node;
  std::unique_ptr<cluster::balancer> lb;
  std::unique_ptr<runtime::server> lb_server;
  std::uint16_t lb_port = test::free_port();

  // `load_of`: each node's load source (default: loads[i], set by the test).
  cluster_fixture(const std::vector<std::string>& urls, cluster::balancer_options bo = {},
                  std::chrono::milliseconds heartbeat = 100ms,
                  std::function<cluster::node::load_source(std::size_t)> load_of = {}) {
    for (std::size_t i = 0; i < urls.size(); ++i) {
      buses.push_back(std::make_unique<cluster::local_broker>(fabric));
      buses.back()->start();
      nodes.push_back(std::make_unique<cluster::node>(
          *buses.back(), opts("node" + std::to_string(i + 1), "node", urls[i], heartbeat)));
      loads.push_back(std::make_shared<std::atomic<std::uint64_t>>(0));
      auto load = loads.back();
      nodes.back()->set_load_source(
          load_of ? load_of(i) : cluster::node::load_source([load] { return load->load(); }));
      nodes.back()->start();
    }
    lb_bus = std::make_unique<cluster::local_broker>(fabric);
    lb_bus->start();
    lb_node =
        std::make_unique<cluster::node>(*lb_bus, opts("lb", "balancer", "http://lb", heartbeat));
    lb_node->start();
    lb = std::make_unique<cluster::balancer>(*lb_node, bo);
    lb_server = std::make_unique<runtime::server>(listen_on(lb_port));
    lb->attach(*lb_server);
    lb_server->start();
    // The balancer sees every node (the balancer node itself included).
    const auto until = std::chrono::steady_clock::now() + 3s;
    while (lb_node->nodes().size() < urls.size() + 1 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(10ms);
    BOOST_REQUIRE(lb_node->nodes().size() == urls.size() + 1);
  }
  // Loads travel with heartbeats: wait for a few.
  void settle() { std::this_thread::sleep_for(350ms); }
  ~cluster_fixture() {
    lb_server->stop();
    lb_node->stop();
    for (auto& n : nodes)
      n->stop();
  }
};

// A node that is a real server: /echo.
struct echo_node {
  std::uint16_t port = test::free_port();
  runtime::echo_handler echo;
  runtime::server server{listen_on(port)};
  echo_node() {
    server.add_websocket_route("/echo", &echo);
    server.start();
  }
  ~echo_node() { server.stop(); }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port); }
};

// A node that serves the sgc protocol at /sgc.
struct sgc_node {
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  std::uint16_t port = test::free_port();
  runtime::server server{listen_on(port)};
  std::unique_ptr<protocols::sgc::server> protocol;
  sgc_node() {
    config.set("logger.console", caf::atom("none"));
    config.set("scheduler.max-threads", static_cast<caf::config_value::integer>(2));
    system = std::make_unique<caf::actor_system>(config);
    protocol = std::make_unique<protocols::sgc::server>(*system, server);
    protocol->attach("/sgc");
    server.start();
  }
  ~sgc_node() {
    server.stop();
    protocol->stop();
    protocol.reset();
    system.reset();  // the channel actors end before the server they deliver through
  }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port); }
};

// Connects an sgc client with `o` and waits for the session: the URL it ended up on.
std::string sgc_session_url(protocols::sgc::client_options o) {
  auto opened = std::make_shared<std::promise<std::string>>();
  auto once = std::make_shared<std::atomic<bool>>(false);
  protocols::sgc::client_events ev;
  ev.on_connect = [opened, once](const runtime::connect_info& info) {
    if (!once->exchange(true)) opened->set_value(info.url);
  };
  o.transport.connect_timeout_ms = 3000;
  protocols::sgc::client c(o, ev);
  c.connect();
  auto f = opened->get_future();
  if (f.wait_for(5s) != std::future_status::ready) return "(no connection)";
  const std::string url = f.get();
  c.close();
  return url;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(balancer)

BOOST_AUTO_TEST_CASE(lb_node_answers_the_least_loaded_live_node) {
  cluster_fixture c({"ws://127.0.0.1:1001", "ws://127.0.0.1:1002", "ws://127.0.0.1:1003"});
  *c.loads[0] = 50, *c.loads[1] = 20, *c.loads[2] = 90;
  c.settle();
  const std::string r = get(c.lb_port, "/lb/node");
  BOOST_TEST(status_of(r) == 200);
  BOOST_TEST(header_of(r, "Content-Type") == "application/json");
  BOOST_TEST(body_of(r) == R"({"url":"ws://127.0.0.1:1002","node":"node2"})");
  // A draining node is never chosen: node2 stops, the next least loaded is node1.
  c.nodes[1]->stop();
  std::this_thread::sleep_for(200ms);
  BOOST_TEST(node_of(body_of(get(c.lb_port, "/lb/node"))) == "node1");
}

BOOST_AUTO_TEST_CASE(a_burst_of_300_spreads_within_ten_percent_over_three_nodes) {
  cluster_fixture c({"ws://127.0.0.1:1001", "ws://127.0.0.1:1002", "ws://127.0.0.1:1003"});
  c.settle();
  std::map<std::string, int> per_node;
  for (int i = 0; i < 300; ++i) {
    const std::string r = get(c.lb_port, "/lb/node");
    BOOST_REQUIRE(status_of(r) == 200);
    const std::string id = node_of(body_of(r));
    ++per_node[id];
    // The client arrives there: the node's own load grows, as a real node's would, so a
    // heartbeat in the middle of the burst reports it (the balancer then stops counting the
    // assignments that load already includes).
    c.loads.at(std::stoul(id.substr(4)) - 1)->fetch_add(1);
  }
  BOOST_TEST(per_node.size() == 3u);
  for (const auto& [id, n] : per_node)
    BOOST_TEST((n >= 90 && n <= 110), id << " got " << n);
  BOOST_TEST(c.lb->stats().assigned == 300u);
}

BOOST_AUTO_TEST_CASE(three_hundred_clients_redirected_land_within_ten_percent_on_three_nodes) {
  // Real nodes whose load is their open WebSockets, heartbeats once a second as in the daemon:
  // the clients arrive far faster than loads are published.
  echo_node targets[3];
  cluster_fixture c({targets[0].url(), targets[1].url(), targets[2].url()}, {}, 1000ms,
                    [&](std::size_t i) -> cluster::node::load_source {
                      runtime::server* s = &targets[i].server;
                      return [s] { return s->stats().websockets_open; };
                    });
  runtime::io_pool pool(2);
  pool.start();
  std::atomic<int> opened{0}, failed{0};
  std::vector<std::shared_ptr<runtime::websocket_client>> clients;
  for (int i = 0; i < 300; ++i) {
    runtime::client_options o;
    o.url = "ws://127.0.0.1:" + std::to_string(c.lb_port) + "/echo";
    runtime::client_events ev;
    ev.on_connect = [&opened](const runtime::connect_info&) { ++opened; };
    ev.on_error = [&failed](const std::error_code&, const std::string&, bool) { ++failed; };
    clients.push_back(runtime::websocket_client::make(pool, o, ev));
    clients.back()->connect();
  }
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (opened + failed < 300 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(20ms);
  BOOST_REQUIRE_EQUAL(opened.load(), 300);
  for (auto& t : targets) {
    const auto n = t.server.stats().websockets_open;
    BOOST_TEST_MESSAGE("node at " << t.url() << ": " << n << " clients");
    BOOST_TEST((n >= 90 && n <= 110), "a node got " << n << " of 300");
  }
  for (auto& cl : clients)
    cl->close();
  std::this_thread::sleep_for(200ms);
  clients.clear();
  pool.stop();
  pool.join();
}

BOOST_AUTO_TEST_CASE(an_upgrade_is_redirected_307_with_path_and_query) {
  echo_node target;
  cluster_fixture c({target.url()});
  const std::string r =
      http_exchange(c.lb_port,
                    "GET /echo?room=a%20b&x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n");
  BOOST_TEST(status_of(r) == 307);
  BOOST_TEST(header_of(r, "Location") == target.url() + "/echo?room=a%20b&x=1");

  // The runtime client follows it to the node and talks to it there.
  runtime::client_options o;
  o.url = "ws://127.0.0.1:" + std::to_string(c.lb_port) + "/echo?x=1";
  o.connect_timeout_ms = 5000;
  runtime::blocking_client client(o);
  BOOST_REQUIRE_MESSAGE(!client.connect(), client.what());
  BOOST_TEST(client.info().url == target.url() + "/echo?x=1");
  BOOST_REQUIRE(client.send_text("through the balancer"));
  const auto m = client.receive(3s);
  BOOST_REQUIRE(m);
  BOOST_TEST(m->payload == "through the balancer");
  BOOST_TEST(c.lb->stats().redirected == 2u);
}

BOOST_AUTO_TEST_CASE(proxy_mode_relays_the_websocket_byte_for_byte) {
  echo_node target;
  cluster::balancer_options bo;
  bo.mode = cluster::balancer_mode::proxy;
  cluster_fixture c({target.url()}, bo);
  {
    runtime::client_options o;
    o.url = "ws://127.0.0.1:" + std::to_string(c.lb_port) + "/echo";
    o.connect_timeout_ms = 5000;
    runtime::blocking_client client(o);
    BOOST_REQUIRE_MESSAGE(!client.connect(), client.what());
    BOOST_TEST(client.info().url == o.url);  // no redirect: the balancer relays
    BOOST_REQUIRE(client.send_text("hello"));
    auto m = client.receive(3s);
    BOOST_REQUIRE(m);
    BOOST_TEST(m->payload == "hello");
    // Larger than any one read: many segments each way.
    std::string big(300000, 'x');
    for (std::size_t i = 0; i < big.size(); ++i)
      big[i] = static_cast<char>('a' + i % 26);
    BOOST_REQUIRE(client.send_binary(big));
    m = client.receive(5s);
    BOOST_REQUIRE(m);
    BOOST_TEST((m->payload == big));
    BOOST_TEST(c.lb->stats().tunnels_open == 1u);
    BOOST_TEST(target.server.stats().websockets_open == 1u);
    client.close();
  }
  // Both halves closed together.
  const auto until = std::chrono::steady_clock::now() + 3s;
  while ((c.lb->stats().tunnels_open != 0 || target.server.stats().websockets_open != 0) &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(20ms);
  BOOST_TEST(c.lb->stats().tunnels_open == 0u);
  BOOST_TEST(target.server.stats().websockets_open == 0u);
  BOOST_TEST(c.lb->stats().proxied == 1u);

  // The node goes away: the node's end closes, the client's too.
  runtime::client_options o;
  o.url = "ws://127.0.0.1:" + std::to_string(c.lb_port) + "/echo";
  runtime::blocking_client client(o);
  BOOST_REQUIRE(!client.connect());
  target.server.stop();
  BOOST_TEST(!client.receive(3s));
  BOOST_TEST(!client.is_open());
}

BOOST_AUTO_TEST_CASE(the_sgc_client_asks_the_balancer_and_falls_back_to_its_list) {
  sgc_node node;
  cluster_fixture c({node.url()});
  protocols::sgc::client_options o;
  o.transport.url = "ws://127.0.0.1:1/sgc?room=1";  // never dialed: the balancer names the node
  o.balancer_url = "http://127.0.0.1:" + std::to_string(c.lb_port);
  BOOST_TEST(sgc_session_url(o) == node.url() + "/sgc?room=1");
  BOOST_TEST(c.lb->stats().assigned == 1u);
  BOOST_TEST(protocols::sgc::ask_balancer(o.balancer_url, 1000) == node.url());

  // No balancer there: the static list, in turn.
  std::string why;
  const std::string dead = "http://127.0.0.1:" + std::to_string(test::free_port());
  BOOST_TEST(protocols::sgc::ask_balancer(dead, 1000, &why).empty());
  BOOST_TEST(!why.empty());
  o.balancer_url = dead;
  o.fallback_urls = {node.url() + "/sgc?fallback=1"};
  BOOST_TEST(sgc_session_url(o) == node.url() + "/sgc?fallback=1");
}

BOOST_AUTO_TEST_CASE(no_live_node_is_503) {
  cluster_fixture c({});
  const std::string r = get(c.lb_port, "/lb/node");
  BOOST_TEST(status_of(r) == 503);
  BOOST_TEST(body_of(r) == R"({"error":"no live node"})");
  const std::string u = http_exchange(
      c.lb_port,
      "GET /sgc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  BOOST_TEST(status_of(u) == 503);
  BOOST_TEST(c.lb->stats().no_node == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
