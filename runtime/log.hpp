// log.hpp: one line per event, with a level, written to stderr.
//
// Format: `2026-11-28T06:40:00.123Z info  message`. The level is set once at startup
// (--log-level); a disabled level costs one comparison. Safe to call from any thread: each line
// is formatted into a local buffer and written with one write(2), so lines never interleave.
#pragma once

#include <optional>
#include <string_view>

namespace switchboard::runtime::log {

enum class level : int { trace = 0, debug, info, warn, error, off };

void set_level(level l) noexcept;
level current_level() noexcept;
std::optional<level> parse_level(std::string_view name) noexcept;

void write(level l, const char* format, ...) noexcept __attribute__((format(printf, 2, 3)));

}  // namespace switchboard::runtime::log

// SB_LOG(info, "listening on %s", where): skips formatting when the level is disabled.
#define SB_LOG(lvl, ...)                                                                         \
  do {                                                                                           \
    if (::switchboard::runtime::log::level::lvl >= ::switchboard::runtime::log::current_level()) \
      ::switchboard::runtime::log::write(::switchboard::runtime::log::level::lvl, __VA_ARGS__);  \
  } while (0)
