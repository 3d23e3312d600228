// web_assets.hpp: files the daemon serves from memory, embedded at build time by
// embed_asset.cmake (apps/switchboard/CMakeLists.txt) from their sources, which stay the single
// source of truth:
//   /sgc.js  protocols/sgc/sgc.js     the sgc protocol's browser client
//   /chat    protocols/sgc/chat.html  the chat demo built on it
#pragma once

#include <string_view>

namespace switchboard::app {
std::string_view sgc_js();
std::string_view chat_html();
}  // namespace switchboard::app
