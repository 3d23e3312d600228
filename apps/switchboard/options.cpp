#include "options.hpp"

#include "cluster/balancer.hpp"
#include "cluster/redis_broker.hpp"
#include "runtime/text.hpp"
#include "runtime/url.hpp"

#include <unistd.h>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace switchboard::app {
namespace {

template <class T>
T parse_number(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || text[0] == '-' || *end != '\0' || errno != 0 ||
      v > std::numeric_limits<T>::max())
    throw runtime::config_error(flag + " takes a number, not '" + text + "'");
  return static_cast<T>(v);
}

// C escapes in a flag value: \n \r \t \0 \\ and \xHH.
std::string unescape(const std::string& flag, const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(text[i]);
      continue;
    }
    if (++i == text.size()) throw runtime::config_error(flag + ": a lone backslash at the end");
    switch (text[i]) {
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case '0':
        out.push_back('\0');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case 'x': {
        const int hi = i + 2 < text.size() ? runtime::hex_value(text[i + 1]) : -1;
        const int lo = i + 2 < text.size() ? runtime::hex_value(text[i + 2]) : -1;
        if (hi < 0 || lo < 0) throw runtime::config_error(flag + ": \\x wants two hex digits");
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        break;
      }
      default:
        throw runtime::config_error(flag + ": unknown escape \\" + std::string(1, text[i]));
    }
  }
  return out;
}

}  // namespace

const char* usage() {
  return R"(Usage: switchboard [options]

With no options, listens on 127.0.0.1:8080: WebSocket echo at /echo, broadcast at /broadcast,
the status page at /, Prometheus metrics at /metrics.

  --listen HOST:PORT          listen here (repeatable; replaces the default 127.0.0.1:8080)
  --threads N                 io threads (default: one per CPU)
  --document-root DIR         serve static files from DIR
  --config FILE               read settings from a TOML file first (flags override it)
  --log-level LEVEL           trace, debug, info (default), warn, error, off
  --tls-cert FILE             serve TLS on the --listen before it: PEM certificate and chain
  --tls-key FILE              its PEM private key (default: in the --tls-cert file)
  --tls-ca FILE               CA certificates for --tls-verify-client
  --tls-verify-client         require a client certificate signed by --tls-ca
  --tls-min-version V         1.2 (default) or 1.3
  --tls-ciphers LIST          TLS 1.2 cipher list, OpenSSL syntax
  --allowed-origin ORIGIN     accept WebSocket upgrades only from these origins (repeatable)
  --permessage-deflate        accept permessage-deflate (RFC 7692) when a client offers it
  --deflate-no-context-takeover
                              with --permessage-deflate: both sides reset their compressor per
                              message (no zlib state held between messages; broadcasts
                              compressed once per io thread)
  --sgc-path PATH             where the default protocol (JSON-RPC, subprotocol esegece.com:
                              channels, RPC, QoS, queues, transactions) answers (default /sgc;
                              "" turns it off)
  --presence-path PATH        where the Presence protocol (subprotocol presence.esegece.com:
                              members, channels, invitations) answers (default /ws/presence;
                              "" turns it off, and the /presence demo page with it)
  --files-path PATH           where the Files protocol (subprotocol files.esegece.com: file
                              transfer with QoS 0/1/2) answers (default /ws/files; "" = off).
                              A file sent to a channel is relayed to its other subscribers
  --files-dir DIR             where received files are written (default
                              $TMPDIR/switchboard-files-<uid>, /tmp when TMPDIR is unset)
  --files-max-size BYTES      largest file the Files route accepts (default 67108864)
  --plain-tcp PATH            serve clients that do not speak HTTP as plain TCP, through the
                              WebSocket route PATH (e.g. /echo), messages ended by a terminator
  --plain-tcp-terminator S    the terminator: C escapes \n \r \t \0 \\ \xHH (default \n;
                              "" makes every read a message)
  --auth-users FILE           require credentials on WebSocket upgrades: `user=password` lines,
                              checked for Basic, /sgc/auth/url/<user>/<password>/... and the
                              session form (/sgc/req/auth/session/<user>/<password> -> token,
                              then /sgc/auth/session/<token>/...)
  --jwt-secret SECRET         accept Authorization: Bearer JWTs signed HS256 with SECRET (>= 32 bytes)
  --jwt-public-key PEM|FILE   accept Bearer JWTs signed RS256 or ES256 by this key
  --max-message-size BYTES    largest WebSocket message (default 16777216; close 1009 past it)
  --max-header-size BYTES     largest HTTP request head (default 8192; 431 past it)
  --max-body-size BYTES       largest HTTP request body (default 1048576; 413 past it)
  --max-backpressure BYTES    unsent bytes allowed per connection (default 1048576)
  --max-connections N         sockets open at once; more are answered 503 (default 0: no cap)
  --throttle BYTES_PER_SEC    limit each connection to this rate in each direction (default 0: off)
  --max-connections-per-ip N  sockets open at once from one address (default 0: no cap)
  --slow-consumer POLICY      close (default) or drop, when a connection passes that limit
  --slow-consumer-code CODE   close code for the close policy: 1008 (default) or 1013
  --heartbeat-interval-ms MS  ping every connection this often (default 0: off)
  --heartbeat-timeout-ms MS   close when no pong arrives within this (default 0: off)
  --idle-timeout-ms MS        close a WebSocket that sent nothing this long (default 0: off)
  --cluster URL               join a cluster over Redis: redis://HOST:PORT[/DB] (default: none,
                              a single node with the in-process broker)
  --role ROLE                 node (default) or balancer: a balancer serves GET /lb/node and
                              sends WebSocket upgrades to the least-loaded node (needs --cluster)
  --advertise URL             the ws:// or wss:// URL other nodes and the balancer give clients
                              for this node (default ws://<the first --listen>)
  --node-id ID                this node's id in the cluster (default: random 64-bit hex)
  --cluster-dead-after MS     a node that stops heartbeating is gone after this (default 10000)
  --lb-mode MODE              balancer: redirect (307 to the node, default) or proxy (relay)
  --version                   print the version and exit
  --help                      print this and exit
)";
}

daemon_options parse_command_line(int argc, char** argv) {
  daemon_options d;
  // The config file goes first, whatever its position, so that flags override it.
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0) {
      const std::string level = runtime::load_toml(argv[i + 1], d.server);
      if (!level.empty()) {
        const auto l = runtime::log::parse_level(level);
        if (!l)
          throw runtime::config_error(std::string(argv[i + 1]) + ": bad log_level '" + level + "'");
        d.log_level = *l;
      }
    }
  }
  bool listen_given = false;
  bool origins_given = false;
  runtime::server_options& o = d.server;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      d.show_help = true;
      continue;
    }
    if (flag == "--version") {
      d.show_version = true;
      continue;
    }
    // TLS flags configure the binding of the --listen before them.
    const auto tls_binding = [&]() -> runtime::tls_options& {
      if (!listen_given)
        throw runtime::config_error(flag + " must follow the --listen it applies to");
      return o.bindings.back().tls;
    };
    if (flag == "--permessage-deflate") {
      o.permessage_deflate = true;
      continue;
    }
    if (flag == "--deflate-no-context-takeover") {
      o.deflate.server_no_context_takeover = o.deflate.client_no_context_takeover = true;
      o.deflate.release_after_message = true;  // hold no zlib state between messages
      continue;
    }
    if (flag == "--tls-verify-client") {
      tls_binding().verify_client = true;
      continue;
    }
    if (i + 1 >= argc) throw runtime::config_error(flag + " needs a value (see --help)");
    const std::string value = argv[++i];
    if (flag == "--config") {
      // already read
    } else if (flag == "--listen") {
      if (!listen_given) o.bindings.clear();
      listen_given = true;
      o.bindings.push_back(runtime::parse_binding(value));
    } else if (flag == "--tls-cert") {
      tls_binding().certificate_file = value;
    } else if (flag == "--tls-key") {
      tls_binding().private_key_file = value;
    } else if (flag == "--tls-ca") {
      tls_binding().ca_file = value;
    } else if (flag == "--tls-min-version") {
      tls_binding().min_version = value;
    } else if (flag == "--tls-ciphers") {
      tls_binding().ciphers = value;
    } else if (flag == "--auth-users") {
      o.auth.users_file = value;
    } else if (flag == "--jwt-secret") {
      o.auth.jwt_secret = value;
    } else if (flag == "--jwt-public-key") {
      o.auth.jwt_public_key = value;
    } else if (flag == "--threads") {
      o.threads = parse_number<std::size_t>(flag, value);
    } else if (flag == "--document-root") {
      o.document_root = value;
    } else if (flag == "--log-level") {
      const auto l = runtime::log::parse_level(value);
      if (!l)
        throw runtime::config_error("--log-level takes trace, debug, info, warn, error or off");
      d.log_level = *l;
    } else if (flag == "--allowed-origin") {
      if (!origins_given) o.allowed_origins.clear();
      origins_given = true;
      o.allowed_origins.push_back(value);
    } else if (flag == "--max-message-size") {
      o.max_message_size = parse_number<std::size_t>(flag, value);
    } else if (flag == "--max-header-size") {
      o.max_header_size = parse_number<std::size_t>(flag, value);
    } else if (flag == "--max-body-size") {
      o.max_body_size = parse_number<std::size_t>(flag, value);
    } else if (flag == "--throttle") {
      o.throttle_bytes_per_sec = parse_number<std::uint64_t>(flag, value);
    } else if (flag == "--max-connections") {
      o.max_connections = parse_number<std::size_t>(flag, value);
    } else if (flag == "--max-connections-per-ip") {
      o.max_connections_per_ip = parse_number<std::size_t>(flag, value);
    } else if (flag == "--max-backpressure") {
      o.max_backpressure = parse_number<std::size_t>(flag, value);
    } else if (flag == "--slow-consumer") {
      if (value == "close")
        o.slow_consumer = runtime::slow_consumer_policy::close;
      else if (value == "drop")
        o.slow_consumer = runtime::slow_consumer_policy::drop;
      else
        throw runtime::config_error("--slow-consumer takes close or drop");
    } else if (flag == "--slow-consumer-code") {
      o.slow_consumer_close_code = parse_number<std::uint16_t>(flag, value);
    } else if (flag == "--heartbeat-interval-ms") {
      o.heartbeat_interval_ms = parse_number<std::uint32_t>(flag, value);
    } else if (flag == "--heartbeat-timeout-ms") {
      o.heartbeat_timeout_ms = parse_number<std::uint32_t>(flag, value);
    } else if (flag == "--sgc-path") {
      if (!value.empty() && value.front() != '/')
        throw runtime::config_error("--sgc-path must be a path starting with '/' (or \"\")");
      d.sgc_path = value;
    } else if (flag == "--presence-path" || flag == "--files-path") {
      if (!value.empty() && value.front() != '/')
        throw runtime::config_error(flag + " must be a path starting with '/' (or \"\")");
      (flag == "--presence-path" ? d.presence_path : d.files_path) = value;
    } else if (flag == "--files-dir") {
      if (value.empty()) throw runtime::config_error("--files-dir needs a directory");
      d.files_dir = value;
    } else if (flag == "--files-max-size") {
      d.files_max_size = parse_number<std::int64_t>(flag, value);
    } else if (flag == "--plain-tcp") {
      o.plain_tcp_route = value;
    } else if (flag == "--plain-tcp-terminator") {
      o.plain_tcp_terminator = unescape(flag, value);
    } else if (flag == "--cluster") {
      if (!value.empty() && value != "local") cluster::parse_redis_url(value);  // throws if bad
      d.cluster_url = value == "local" ? std::string{} : value;
    } else if (flag == "--role") {
      if (value != "node" && value != "balancer")
        throw runtime::config_error("--role takes node or balancer");
      d.role = value;
    } else if (flag == "--advertise") {
      const auto u = runtime::parse_url(value);
      if (!u || (u->scheme != "ws" && u->scheme != "wss") || u->target != "/")
        throw runtime::config_error("--advertise takes ws://HOST:PORT or wss://HOST:PORT, not '" +
                                    value + "'");
      d.advertise = value;
      while (!d.advertise.empty() && d.advertise.back() == '/')
        d.advertise.pop_back();
    } else if (flag == "--node-id") {
      if (value.empty() || value.size() > 64 ||
          value.find_first_not_of(
              "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
              std::string::npos)
        throw runtime::config_error("--node-id takes 1 to 64 letters, digits, '-', '_' or '.'");
      d.node_id = value;
    } else if (flag == "--cluster-dead-after") {
      d.cluster_dead_after_ms = parse_number<std::uint32_t>(flag, value);
      if (d.cluster_dead_after_ms < 1000)
        throw runtime::config_error("--cluster-dead-after must be at least 1000 ms");
    } else if (flag == "--lb-mode") {
      if (!cluster::parse_balancer_mode(value))
        throw runtime::config_error("--lb-mode takes redirect or proxy");
      d.lb_mode = value;
    } else if (flag == "--idle-timeout-ms") {
      o.idle_timeout_ms = parse_number<std::uint32_t>(flag, value);
    } else {
      throw runtime::config_error("unknown option " + flag + " (see --help)");
    }
  }
  runtime::validate(o);
  if (!d.presence_path.empty() &&
      (d.presence_path == d.sgc_path || d.presence_path == d.files_path))
    throw runtime::config_error("--presence-path " + d.presence_path +
                                " is taken by another route");
  if (!d.files_path.empty() && d.files_path == d.sgc_path)
    throw runtime::config_error("--files-path " + d.files_path + " is taken by another route");
  if (d.role == "balancer" && d.cluster_url.empty())
    throw runtime::config_error("--role balancer needs --cluster redis://HOST:PORT");
  if (d.files_dir.empty()) d.files_dir = default_files_dir();
  return d;
}

std::string default_files_dir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = tmp && *tmp == '/' ? tmp : "/tmp";
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  return dir + "/switchboard-files-" + std::to_string(::getuid());
}

}  // namespace switchboard::app
