#include "runtime/config.hpp"

#include <toml++/toml.h>

#include <set>

namespace switchboard::runtime {

binding parse_binding(const std::string& text) {
  binding b;
  std::string port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw config_error("listen address '" + text + "' must look like [::1]:8080");
    b.host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos)
      throw config_error("listen address '" + text + "' must look like HOST:PORT");
    b.host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  if (b.host.empty()) throw config_error("listen address '" + text + "' has no host");
  char* end = nullptr;
  const long port = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || port < 0 || port > 65535)
    throw config_error("listen address '" + text + "' has a bad port");
  b.port = static_cast<std::uint16_t>(port);
  return b;
}

void validate(const server_options& o) {
  if (o.bindings.empty()) throw config_error("at least one listen address is needed");
  if (!o.plain_tcp_route.empty() && o.plain_tcp_route.front() != '/')
    throw config_error("plain_tcp route must be a path starting with '/'");
  if (o.threads > 256) throw config_error("threads must be at most 256");
  if (o.max_message_size < 125) throw config_error("max_message_size must be at least 125");
  if (o.max_header_size < 256) throw config_error("max_header_size must be at least 256");
  if (o.max_backpressure < 1024) throw config_error("max_backpressure must be at least 1024");
  if (o.slow_consumer_close_code != 1008 && o.slow_consumer_close_code != 1013)
    throw config_error("slow_consumer_close_code must be 1008 or 1013");
  if (const char* bad = websocket::invalid_option(o.deflate))
    throw config_error(std::string("deflate setting ") + bad + " is out of range");
  if (o.heartbeat_timeout_ms != 0 && o.heartbeat_interval_ms == 0)
    throw config_error("heartbeat_timeout needs heartbeat_interval");
}

namespace {

// Reads one table's keys, refusing any key it does not know.
class table_reader {
 public:
  table_reader(const toml::table& table, std::string name)
      : table_(table), name_(std::move(name)) {}

  template <class T>
  void get(const char* key, T& out) {
    seen_.insert(key);
    const toml::node* node = table_.get(key);
    if (!node) return;
    if constexpr (std::is_same_v<T, std::string>) {
      if (auto v = node->value<std::string>()) return void(out = *v);
      fail(key, "must be a string");
    } else if constexpr (std::is_same_v<T, bool>) {
      if (auto v = node->value<bool>()) return void(out = *v);
      fail(key, "must be true or false");
    } else {
      auto v = node->value<std::int64_t>();
      if (!v) fail(key, "must be an integer");
      if (*v < 0 || static_cast<std::uint64_t>(*v) > std::numeric_limits<T>::max())
        fail(key, "is out of range");
      out = static_cast<T>(*v);
    }
  }

  void get_strings(const char* key, std::vector<std::string>& out) {
    seen_.insert(key);
    const toml::node* node = table_.get(key);
    if (!node) return;
    const toml::array* array = node->as_array();
    if (!array) fail(key, "must be an array of strings");
    out.clear();
    for (const auto& item : *array) {
      auto v = item.value<std::string>();
      if (!v) fail(key, "must be an array of strings");
      out.push_back(*v);
    }
  }

  void mark_seen(const char* key) { seen_.insert(key); }

  void reject_unknown() const {
    for (const auto& [key, value] : table_)
      if (!seen_.count(std::string(key.str())))
        throw config_error("unknown setting " + name_ + "." + std::string(key.str()));
  }

  [[noreturn]] void fail(const char* key, const char* why) const {
    throw config_error("setting " + name_ + "." + key + " " + why);
  }

 private:
  const toml::table& table_;
  std::string name_;
  std::set<std::string> seen_;
};

const toml::table& section(const toml::table& root, const char* name) {
  static const toml::table empty;
  const toml::node* node = root.get(name);
  if (!node) return empty;
  if (!node->is_table()) throw config_error(std::string("[") + name + "] must be a table");
  return *node->as_table();
}

}  // namespace

std::string load_toml(const std::string& path, server_options& o) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw config_error(path + ": " + std::string(e.description()));
  }
  try {
    for (const auto& [key, value] : root)
      if (key != "server" && key != "limits" && key != "timeouts" && key != "auth" &&
          key != "plain_tcp" && key != "deflate")
        throw config_error("unknown section [" + std::string(key.str()) + "]");

    std::string log_level;
    table_reader server(section(root, "server"), "server");
    if (const toml::node* listen = section(root, "server").get("listen")) {
      // Each entry: "HOST:PORT", or a table { address = "HOST:PORT", tls_cert = ..., ... }.
      const toml::array* entries = listen->as_array();
      if (!entries) server.fail("listen", "must be an array");
      o.bindings.clear();
      for (const auto& entry : *entries) {
        if (auto text = entry.value<std::string>()) {
          o.bindings.push_back(parse_binding(*text));
          continue;
        }
        const toml::table* t = entry.as_table();
        if (!t) server.fail("listen", "entries must be strings or tables");
        table_reader b(*t, "server.listen");
        std::string address;
        b.get("address", address);
        if (address.empty()) b.fail("address", "is required");
        binding bound = parse_binding(address);
        b.get("tls_cert", bound.tls.certificate_file);
        b.get("tls_key", bound.tls.private_key_file);
        b.get("tls_ca", bound.tls.ca_file);
        b.get("tls_verify_client", bound.tls.verify_client);
        b.get("tls_min_version", bound.tls.min_version);
        b.get("tls_ciphers", bound.tls.ciphers);
        b.reject_unknown();
        o.bindings.push_back(std::move(bound));
      }
    }
    server.mark_seen("listen");
    server.get("threads", o.threads);
    server.get("document_root", o.document_root);
    server.get_strings("allowed_origins", o.allowed_origins);
    server.get("log_level", log_level);
    server.get("permessage_deflate", o.permessage_deflate);
    server.reject_unknown();

    table_reader limits(section(root, "limits"), "limits");
    limits.get("max_message_size", o.max_message_size);
    limits.get("max_header_size", o.max_header_size);
    limits.get("max_body_size", o.max_body_size);
    limits.get("max_backpressure", o.max_backpressure);
    limits.get("max_connections", o.max_connections);
    limits.get("throttle_bytes_per_sec", o.throttle_bytes_per_sec);
    limits.get("max_connections_per_ip", o.max_connections_per_ip);
    std::string policy;
    limits.get("slow_consumer", policy);
    if (policy == "close")
      o.slow_consumer = slow_consumer_policy::close;
    else if (policy == "drop")
      o.slow_consumer = slow_consumer_policy::drop;
    else if (!policy.empty())
      limits.fail("slow_consumer", "must be \"close\" or \"drop\"");
    limits.get("slow_consumer_close_code", o.slow_consumer_close_code);
    limits.reject_unknown();

    table_reader auth(section(root, "auth"), "auth");
    auth.get("users_file", o.auth.users_file);
    auth.get("jwt_secret", o.auth.jwt_secret);
    auth.get("jwt_public_key", o.auth.jwt_public_key);
    auth.get("jwt_issuer", o.auth.jwt.issuer);
    auth.reject_unknown();

    table_reader deflate(section(root, "deflate"), "deflate");
    deflate.get("server_no_context_takeover", o.deflate.server_no_context_takeover);
    deflate.get("client_no_context_takeover", o.deflate.client_no_context_takeover);
    deflate.get("server_max_window_bits", o.deflate.server_max_window_bits);
    deflate.get("client_max_window_bits", o.deflate.client_max_window_bits);
    deflate.get("compression_level", o.deflate.compression_level);
    deflate.get("mem_level", o.deflate.mem_level);
    deflate.get("release_after_message", o.deflate.release_after_message);
    deflate.get("min_size", o.deflate_min_size);
    deflate.reject_unknown();

    table_reader plain_tcp(section(root, "plain_tcp"), "plain_tcp");
    plain_tcp.get("route", o.plain_tcp_route);
    plain_tcp.get("terminator", o.plain_tcp_terminator);
    plain_tcp.reject_unknown();

    table_reader timeouts(section(root, "timeouts"), "timeouts");
    timeouts.get("heartbeat_interval_ms", o.heartbeat_interval_ms);
    timeouts.get("heartbeat_timeout_ms", o.heartbeat_timeout_ms);
    timeouts.get("idle_timeout_ms", o.idle_timeout_ms);
    timeouts.get("handshake_timeout_ms", o.handshake_timeout_ms);
    timeouts.get("keep_alive_timeout_ms", o.keep_alive_timeout_ms);
    timeouts.get("close_timeout_ms", o.close_timeout_ms);
    timeouts.reject_unknown();
    validate(o);
    return log_level;
  } catch (const config_error& e) {
    throw config_error(path + ": " + e.what());
  }
}

}  // namespace switchboard::runtime
