// main.cpp: swbench, Switchboard's WebSocket load generator. Parses the command line into
// `options` and runs the mode named by the first argument.
//
// A mode is a function `int run_<mode>(const options&)` listed in `modes` below; it builds one
// client_loop per --threads with its own session_handler and lets driver.hpp run the phases.
// See tests/bench/README.md for how the benchmarks use it.
#include "apps/swbench/churn_mode.hpp"
#include "apps/swbench/connections_mode.hpp"
#include "apps/swbench/echo_mode.hpp"
#include "apps/swbench/fanout_mode.hpp"
#include "apps/swbench/handshakes_mode.hpp"
#include "apps/swbench/net.hpp"
#include "apps/swbench/options.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using namespace switchboard::swbench;

struct mode_entry {
  const char* name;
  int (*run)(const options&);
  const char* summary;
};

constexpr mode_entry modes[] = {
    {"echo", run_echo, "closed-loop echo round trips, --depth messages in flight per connection"},
    {"fanout", run_fanout,
     "1 publisher to --connections subscribers on one channel: deliveries/s, latency, losses"},
    {"connections", run_connections,
     "--connections idle connections held --duration s: server RSS per connection"},
    {"handshakes", run_handshakes,
     "--connections connectors opening and closing connections: handshakes/s, latency"},
    {"churn", run_churn,
     "--connections members on one channel, --churners leave and rejoin: ops/s, events/s, "
     "memory per member"},
};

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: swbench MODE [options]\n"
               "modes:\n");
  for (const mode_entry& m : modes)
    std::fprintf(out, "  %-10s %s\n", m.name, m.summary);
  std::fprintf(
      out,
      "options:\n"
      "  --url ws://HOST:PORT/PATH   server (default ws://127.0.0.1:8080/echo); wss:// = --tls\n"
      "  --connections N             connections (default 100)\n"
      "  --size BYTES                payload bytes per message (default 32)\n"
      "  --depth K                   messages in flight per connection (default 1)\n"
      "  --binary                    binary frames (default text)\n"
      "  --tls                       wss: TLS (OpenSSL, memory BIOs, protocol and cipher "
      "OpenSSL's\n"
      "                              defaults). The server's certificate is NOT verified: this is\n"
      "                              for benchmarks against throwaway certificates only\n"
      "  --deflate                   permessage-deflate (RFC 7692): offer it with\n"
      "                              client_max_window_bits, require the server to accept, "
      "compress\n"
      "                              every message (zlib level 6, memLevel 8) and inflate RSV1 "
      "ones,\n"
      "                              with context takeover as negotiated. Payloads become "
      "JSON-like\n"
      "                              text: "
      "{\"id\":TAG,\"seq\":...,\"items\":[{\"sym\":...,\"px\":...,\n"
      "                              \"qty\":...,\"side\":...},...],\"note\":...} cut to --size, "
      "whose\n"
      "                              numbers and symbols change with every message; echoes are\n"
      "                              compared byte for byte\n"
      "  --duration SECONDS          measured window (default 10)\n"
      "  --warmup SECONDS            unmeasured load before it (default 2)\n"
      "  --threads N                 client threads, one epoll loop each (default 1)\n"
      "  --source-ips A.B.C.D[-A.B.C.E]  spread connections over these source addresses\n"
      "  --server-pid PID            report server CPU (msgs per server-CPU-s) and RSS\n"
      "  --json FILE                 write the results as JSON\n"
      "  --connect-timeout SECONDS   time allowed for opening all connections (default 30)\n"
      "  --max-connecting N          connects+handshakes in flight per thread (default 256)\n"
      "  --quiet                     no progress line on stderr\n"
      "fanout options (--connections = subscribers, plus 1 publisher; --size >= 38, the payload\n"
      "inside the dialect's envelope, carrying a sequence and the send time):\n"
      "  --dialect sgc|raw|socketio  sgc: sgc@subscribe / sgc@publish on channel \"bench\" (the\n"
      "                              daemon's /sgc); raw: a broadcast server, every message a\n"
      "                              publish; socketio: socket.io v4 over the WebSocket transport\n"
      "                              (URL .../socket.io/?EIO=4&transport=websocket), emits\n"
      "                              join/pub, receives msg (default sgc)\n"
      "  --rate N                    publishes per second, paced (default 1000); 0: as fast as\n"
      "                              subscribers take them, --depth publishes in flight\n"
      "  --publish-url URL           the publisher's server (a cluster node; default --url)\n"
      "  --subscribe-urls URL,URL    subscriber threads round robin over these servers (thread t\n"
      "                              on URL t mod count; default --url)\n"
      "connections options (path: any route that upgrades, e.g. /echo):\n"
      "  --processes P               worker processes, each holding its share (default: as many\n"
      "                              as the open-file limit needs); --duration is the hold\n"
      "handshakes options:\n"
      "  --echo                      one echo of --size bytes per connection before closing\n"
      "  --count N                   stop after N cycles in all (also churn)\n"
      "churn options (--connections = members on channel \"bench\"):\n"
      "  --dialect sgc|presence      sgc: sgc@subscribe/sgc@unsubscribe (/sgc); presence:\n"
      "                              member@new, channel@member@new/remove (/ws/presence)\n"
      "  --churners K                members that leave and rejoin (default 100)\n");
}

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "swbench: %s\n", message.c_str());
  std::exit(2);
}

unsigned long long to_uint(const std::string& name, const char* text, unsigned long long min,
                           unsigned long long max) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max) {
    fail(name + " wants an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
         "], got '" + text + "'");
  }
  return v;
}

double to_seconds(const std::string& name, const char* text, double min) {
  char* end = nullptr;
  double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(v >= min) || v > 86400) {
    fail(name + " wants seconds >= " + std::to_string(min) + ", got '" + text + "'");
  }
  return v;
}

options parse(int argc, char** argv) {
  options opt;
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    std::exit(argc < 2 ? 2 : 0);
  }
  opt.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string name = argv[i];
    std::string inline_value;
    bool has_inline = false;
    if (std::size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
      has_inline = true;
    }
    auto value = [&]() -> const char* {
      if (has_inline) return inline_value.c_str();
      if (i + 1 >= argc) fail(name + " needs a value");
      return argv[++i];
    };
    if (name == "--url") {
      opt.url = value();
    } else if (name == "--publish-url") {
      opt.publish_url = value();
      std::string error = parse_ws_url(opt.publish_url, opt.publish_target);
      if (!error.empty()) fail("--publish-url: " + error);
    } else if (name == "--subscribe-urls") {
      std::string list = value();
      for (std::size_t at = 0; at <= list.size();) {
        std::size_t end = list.find(',', at);
        if (end == std::string::npos) end = list.size();
        ws_target t;
        std::string error = parse_ws_url(list.substr(at, end - at), t);
        if (!error.empty()) fail("--subscribe-urls: " + error);
        opt.subscribe_targets.push_back(t);
        at = end + 1;
      }
    } else if (name == "--connections") {
      opt.connections = static_cast<std::uint32_t>(to_uint(name, value(), 1, 10000000));
    } else if (name == "--size") {
      opt.size = static_cast<std::uint32_t>(to_uint(name, value(), 0, 16u << 20));
    } else if (name == "--depth") {
      opt.depth = static_cast<std::uint32_t>(to_uint(name, value(), 1, 65536));
    } else if (name == "--duration") {
      opt.duration_s = to_seconds(name, value(), 0.1);
    } else if (name == "--warmup") {
      opt.warmup_s = to_seconds(name, value(), 0);
    } else if (name == "--threads") {
      opt.threads = static_cast<unsigned>(to_uint(name, value(), 1, 256));
    } else if (name == "--source-ips") {
      std::string error = parse_ip_range(value(), opt.source_ips);
      if (!error.empty()) fail("--source-ips: " + error);
    } else if (name == "--server-pid") {
      opt.server_pid = static_cast<int>(to_uint(name, value(), 1, 1u << 30));
    } else if (name == "--json") {
      opt.json_path = value();
    } else if (name == "--connect-timeout") {
      opt.connect_timeout_s = to_seconds(name, value(), 0.1);
    } else if (name == "--dialect") {  // fanout
      opt.dialect = value();
    } else if (name == "--rate") {  // fanout
      opt.rate = static_cast<double>(to_uint(name, value(), 0, 100000000));
    } else if (name == "--processes") {  // connections
      opt.processes = static_cast<unsigned>(to_uint(name, value(), 1, 1024));
    } else if (name == "--count") {  // handshakes, churn
      opt.count = to_uint(name, value(), 1, 1ull << 40);
    } else if (name == "--churners") {  // churn
      opt.churners = static_cast<std::uint32_t>(to_uint(name, value(), 1, 10000000));
    } else if (name == "--echo" && !has_inline) {  // handshakes
      opt.echo = true;
    } else if (name == "--max-connecting") {
      opt.max_connecting = static_cast<std::uint32_t>(to_uint(name, value(), 1, 1000000));
    } else if (name == "--binary" && !has_inline) {
      opt.binary = true;
    } else if (name == "--tls" && !has_inline) {
      opt.tls = true;
    } else if (name == "--deflate" && !has_inline) {
      opt.deflate = true;
    } else if (name == "--quiet" && !has_inline) {
      opt.progress = false;
    } else if (name == "--help" || name == "-h") {
      usage(stdout);
      std::exit(0);
    } else {
      fail("unknown option " + name + " (see --help)");
    }
  }
  std::string error = parse_ws_url(opt.url, opt.target);
  if (!error.empty()) fail("--url: " + error);
  opt.tls = opt.tls || opt.target.tls;
  if (opt.threads > opt.connections) opt.threads = opt.connections;
  return opt;
}

}  // namespace

int main(int argc, char** argv) {
  options opt = parse(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);  // send() uses MSG_NOSIGNAL; this covers anything else
  for (const mode_entry& m : modes) {
    if (opt.mode == m.name) return m.run(opt);
  }
  fail("unknown mode '" + opt.mode + "' (see --help)");
}
