#include "runtime/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace switchboard::runtime::log {
namespace {
std::atomic<level> g_level{level::info};
constexpr const char* names[] = {"trace", "debug", "info ", "warn ", "error"};
}  // namespace

void set_level(level l) noexcept {
  g_level.store(l, std::memory_order_relaxed);
}
level current_level() noexcept {
  return g_level.load(std::memory_order_relaxed);
}

std::optional<level> parse_level(std::string_view name) noexcept {
  if (name == "trace") return level::trace;
  if (name == "debug") return level::debug;
  if (name == "info") return level::info;
  if (name == "warn" || name == "warning") return level::warn;
  if (name == "error") return level::error;
  if (name == "off" || name == "none") return level::off;
  return std::nullopt;
}

void write(level l, const char* format, ...) noexcept {
  if (l >= level::off) return;
  char line[2048];
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  int n = std::snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                        utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                        utc.tm_sec, ts.tv_nsec / 1000000, names[static_cast<int>(l)]);
  va_list args;
  va_start(args, format);
  const int m = std::vsnprintf(line + n, sizeof line - n - 1, format, args);
  va_end(args);
  n += m < 0 ? 0
             : (m >= static_cast<int>(sizeof line) - n - 1 ? static_cast<int>(sizeof line) - n - 2
                                                           : m);
  line[n++] = '\n';
  ssize_t ignored = ::write(STDERR_FILENO, line, static_cast<std::size_t>(n));
  (void)ignored;
}

}  // namespace switchboard::runtime::log
