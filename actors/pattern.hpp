// pattern.hpp: wildcard names, as the manual's group broadcast uses them ("Room*").
//
// '*' matches any run of characters (also none), '?' exactly one; every other character
// matches itself. Iterative with one backtrack point, so a hostile pattern costs at most
// O(|pattern| * |name|), never exponential time.
#pragma once

#include <string_view>

namespace switchboard::actors {

bool is_pattern(std::string_view text) noexcept;
bool pattern_matches(std::string_view pattern, std::string_view name) noexcept;

}  // namespace switchboard::actors
