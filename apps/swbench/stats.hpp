// stats.hpp: what swbench measures and how it reports it: the clock, a latency histogram,
// process CPU time and memory from /proc, and a flat JSON object for --json.
//
// Latency histogram: log-linear buckets (HdrHistogram's layout): values below 128 ns are exact;
// above, each power of two is split into 64 buckets, so a reported percentile is at most 1/64
// (1.6%) above the true value. Recording is two shifts and an increment, with no allocation;
// one histogram per thread, merged at the end.
//
// Server CPU: utime + stime of the whole process (all threads) from /proc/PID/stat, in clock
// ticks (10 ms at USER_HZ 100): over a 10 s window that is 0.1% of one core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace switchboard::swbench {

// CLOCK_MONOTONIC in nanoseconds (vDSO: no system call).
std::uint64_t now_ns() noexcept;

// Sleeps until now_ns() >= t.
void sleep_until_ns(std::uint64_t t) noexcept;

class latency_histogram {
 public:
  latency_histogram();

  void record(std::uint64_t ns) noexcept {
    ++counts_[index_of(ns)];
    ++count_;
    sum_ += ns;
    if (ns > max_) max_ = ns;
  }

  void merge(const latency_histogram& other);

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t max() const noexcept { return max_; }
  double mean() const noexcept { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  // The smallest bucket bound below which at least `p` percent of the values fall (0 if empty).
  std::uint64_t percentile(double p) const noexcept;

 private:
  static constexpr unsigned sub_bits = 7;                 // 2^7 exact values, then 64/octave
  static constexpr unsigned half = 1u << (sub_bits - 1);  // buckets per octave
  static constexpr std::size_t bucket_count = (64 - sub_bits + 2) * half;

  static std::size_t index_of(std::uint64_t v) noexcept {
    if (v < (1u << sub_bits)) return static_cast<std::size_t>(v);
    const unsigned msb = 63u - static_cast<unsigned>(__builtin_clzll(v));
    const unsigned shift = msb - (sub_bits - 1);  // keeps the top sub_bits bits
    return (shift + 1) * half + static_cast<std::size_t>((v >> shift) - half);
  }
  static std::uint64_t upper_bound_of(std::size_t index) noexcept;

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

// utime + stime of process `pid` (all its threads), in seconds. False if unreadable.
bool read_process_cpu(int pid, double& seconds);

// Resident set size and its peak (VmRSS, VmHWM) of process `pid`, in bytes. False if unreadable.
bool read_process_memory(int pid, std::uint64_t& rss_bytes, std::uint64_t& peak_bytes);

// CPU time of the whole machine from the first line of /proc/stat, in seconds summed over all
// CPUs: busy (user, nice, system, irq, softirq) and steal (taken by the hypervisor). False if
// unreadable. Busy time not spent by the server or swbench is other load, which skews a run.
bool read_machine_cpu(double& busy_seconds, double& steal_seconds);

// User + system CPU time of this process (all swbench threads), in seconds.
double self_cpu_seconds();

// A flat JSON object, built key by key, for --json.
class json_object {
 public:
  json_object& add(const char* key, const std::string& value);
  json_object& add(const char* key, const char* value) { return add(key, std::string(value)); }
  json_object& add(const char* key, double value);
  json_object& add(const char* key, std::uint64_t value);
  json_object& add(const char* key, bool value);
  std::string str() const { return "{\n" + body_ + "\n}\n"; }

 private:
  void add_raw(const char* key, const std::string& json);
  std::string body_;
};

// Writes `text` to `path`. False (with errno set) on failure.
bool write_file(const std::string& path, const std::string& text);

// Writes a mode's --json report; says so on stderr and returns false when it cannot.
bool write_report(const std::string& path, const json_object& report);

// Nanoseconds as microseconds, for reports.
inline double to_us(std::uint64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}

}  // namespace switchboard::swbench
