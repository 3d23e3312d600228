// stats.cpp: see stats.hpp.
#include "apps/swbench/stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

namespace switchboard::swbench {

std::uint64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

void sleep_until_ns(std::uint64_t t) noexcept {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(t / 1000000000u);
  ts.tv_nsec = static_cast<long>(t % 1000000000u);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

latency_histogram::latency_histogram() : counts_(bucket_count, 0) {}

void latency_histogram::merge(const latency_histogram& other) {
  for (std::size_t i = 0; i < bucket_count; ++i)
    counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  if (other.max_ > max_) max_ = other.max_;
}

std::uint64_t latency_histogram::upper_bound_of(std::size_t index) noexcept {
  if (index < (1u << sub_bits)) return index;
  const unsigned shift = static_cast<unsigned>(index / half) - 1;
  const std::uint64_t top = index % half + half;
  return ((top + 1) << shift) - 1;
}

std::uint64_t latency_histogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  auto target = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  if (target == 0) target = 1;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += counts_[i];
    if (seen >= target) {
      std::uint64_t bound = upper_bound_of(i);
      return bound < max_ ? bound : max_;
    }
  }
  return max_;
}

bool read_process_cpu(int pid, double& seconds) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  std::size_t paren = line.rfind(')');
  if (paren == std::string::npos) return false;
  std::istringstream fields(line.substr(paren + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && (fields >> field); ++i) {  // field 3 is the state
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  if (!fields) return false;
  seconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return true;
}

bool read_process_memory(int pid, std::uint64_t& rss_bytes, std::uint64_t& peak_bytes) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  bool rss = false, peak = false;
  while (std::getline(in, line)) {
    unsigned long long kib = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %llu kB", &kib) == 1) {
      rss_bytes = kib * 1024;
      rss = true;
    } else if (std::sscanf(line.c_str(), "VmHWM: %llu kB", &kib) == 1) {
      peak_bytes = kib * 1024;
      peak = true;
    }
  }
  return rss && peak;
}

bool read_machine_cpu(double& busy_seconds, double& steal_seconds) {
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                     steal = 0;
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) ||
      cpu != "cpu") {
    return false;
  }
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  busy_seconds = static_cast<double>(user + nice + system + irq + softirq) / tick;
  steal_seconds = static_cast<double>(steal) / tick;
  return true;
}

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

json_object& json_object::add(const char* key, const std::string& value) {
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      quoted += esc;
    } else {
      quoted += c;
    }
  }
  quoted += '"';
  add_raw(key, quoted);
  return *this;
}

json_object& json_object::add(const char* key, double value) {
  char text[64];
  if (std::isfinite(value)) {
    std::snprintf(text, sizeof text, "%.10g", value);
  } else {
    std::snprintf(text, sizeof text, "null");
  }
  add_raw(key, text);
  return *this;
}

json_object& json_object::add(const char* key, std::uint64_t value) {
  add_raw(key, std::to_string(value));
  return *this;
}

json_object& json_object::add(const char* key, bool value) {
  add_raw(key, value ? "true" : "false");
  return *this;
}

void json_object::add_raw(const char* key, const std::string& json) {
  if (!body_.empty()) body_ += ",\n";
  body_ += "  \"";
  body_ += key;
  body_ += "\": ";
  body_ += json;
}

bool write_file(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok;
}

bool write_report(const std::string& path, const json_object& report) {
  if (write_file(path, report.str())) return true;
  std::fprintf(stderr, "swbench: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
  return false;
}

}  // namespace switchboard::swbench
