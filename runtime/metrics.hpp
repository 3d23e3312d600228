// metrics.hpp: the server's counters as Prometheus text (exposition format 0.0.4) and JSON.
#pragma once

#include <cstdint>
#include <string>

namespace switchboard::runtime {

struct server_stats;

struct process_info {
  double uptime_seconds = 0;
  std::uint64_t resident_bytes = 0;  // RSS, from /proc/self/statm
  double cpu_seconds = 0;            // user + system, from getrusage
};

process_info read_process_info(double uptime_seconds);

std::string render_prometheus(const server_stats& s, const process_info& p,
                              const std::string& version);
std::string render_json(const server_stats& s, const process_info& p, const std::string& version);

}  // namespace switchboard::runtime
