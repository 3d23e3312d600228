// mime.hpp: the Content-Type of a file from its extension.
#pragma once

#include <string_view>

namespace switchboard::runtime {

// "text/html; charset=utf-8" for "index.html"; application/octet-stream when unknown.
std::string_view mime_type(std::string_view path) noexcept;

}  // namespace switchboard::runtime
