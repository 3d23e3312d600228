#include "runtime/metrics.hpp"

#include "runtime/server.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace switchboard::runtime {
namespace {

struct metric {
  const char* name;
  const char* type;
  const char* help;
  std::uint64_t value;
};

template <class F>
void for_each_metric(const server_stats& s, F f) {
  const metric metrics[] = {
      {"switchboard_connections_accepted_total", "counter", "Sockets accepted.",
       s.connections_accepted},
      {"switchboard_connections_refused_total", "counter",
       "Sockets refused by a connection cap (503).", s.connections_refused},
      {"switchboard_connections_open", "gauge", "Sockets open (HTTP and WebSocket).",
       s.connections_open},
      {"switchboard_websockets_open", "gauge", "WebSocket connections open.", s.websockets_open},
      {"switchboard_http_requests_total", "counter", "HTTP requests answered.", s.http_requests},
      {"switchboard_messages_in_total", "counter", "WebSocket messages received.", s.messages_in},
      {"switchboard_messages_out_total", "counter", "WebSocket messages queued to send.",
       s.messages_out},
      {"switchboard_bytes_in_total", "counter", "Bytes read from sockets.", s.bytes_in},
      {"switchboard_bytes_out_total", "counter", "Bytes written to sockets.", s.bytes_out},
      {"switchboard_dropped_messages_total", "counter",
       "Messages dropped by the slow-consumer policy.", s.dropped_messages},
      {"switchboard_slow_consumer_closes_total", "counter",
       "Connections closed by the slow-consumer policy.", s.slow_consumer_closes},
      {"switchboard_protocol_errors_total", "counter",
       "Connections failed for a protocol violation.", s.protocol_errors},
  };
  for (const auto& m : metrics)
    f(m);
}

}  // namespace

process_info read_process_info(double uptime_seconds) {
  process_info p;
  p.uptime_seconds = uptime_seconds;
  std::ifstream statm("/proc/self/statm");
  std::uint64_t pages = 0, resident = 0;
  if (statm >> pages >> resident)
    p.resident_bytes = resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) == 0)
    p.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  return p;
}

std::string render_prometheus(const server_stats& s, const process_info& p,
                              const std::string& version) {
  std::string out;
  char line[1024];
  for_each_metric(s, [&](const metric& m) {
    std::snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", m.name, m.help,
                  m.name, m.type, m.name, static_cast<unsigned long long>(m.value));
    out += line;
  });
  std::snprintf(line, sizeof line,
                "# HELP switchboard_uptime_seconds Seconds since start.\n"
                "# TYPE switchboard_uptime_seconds gauge\nswitchboard_uptime_seconds %.3f\n"
                "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n"
                "# HELP process_cpu_seconds_total User and system CPU time spent in seconds.\n"
                "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.3f\n",
                p.uptime_seconds, static_cast<unsigned long long>(p.resident_bytes), p.cpu_seconds);
  out += line;
  out += "# HELP switchboard_info Build information.\n# TYPE switchboard_info gauge\n";
  out += "switchboard_info{version=\"" + version + "\"} 1\n";
  return out;
}

std::string render_json(const server_stats& s, const process_info& p, const std::string& version) {
  std::string out = "{\"version\":\"" + version + "\"";
  char field[160];
  std::snprintf(field, sizeof field,
                ",\"uptime_seconds\":%.3f,\"resident_bytes\":%llu,\"cpu_seconds\":%.3f",
                p.uptime_seconds, static_cast<unsigned long long>(p.resident_bytes), p.cpu_seconds);
  out += field;
  for_each_metric(s, [&](const metric& m) {
    std::string name(m.name);
    name.erase(0, sizeof("switchboard_") - 1);
    std::snprintf(field, sizeof field, ",\"%s\":%llu", name.c_str(),
                  static_cast<unsigned long long>(m.value));
    out += field;
  });
  out += "}";
  return out;
}

}  // namespace switchboard::runtime
