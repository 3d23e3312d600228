// status_page.hpp: the page served at "/": version, uptime, connections, traffic, refreshed
// live from /status.json.
#pragma once

#include <string_view>

namespace switchboard::app {
std::string_view status_page_html();
}
