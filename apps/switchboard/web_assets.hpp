// web_assets.hpp: files the daemon serves from memory, embedded at build time by
// embed_asset.cmake (apps/switchboard/CMakeLists.txt) from their sources, which stay the single
// source of truth:
//   /sgc.js  protocols/sgc/sgc.js     the sgc protocol's browser client
//   /chat    protocols/sgc/chat.html  the chat demo built on it
//   /presence.js  protocols/presence/presence.js    the Presence protocol's browser client
//   /files.js     protocols/files/files.js          the Files protocol's browser client
//   /presence     protocols/presence/presence.html  the demo built on both
#pragma once

#include <string_view>

namespace switchboard::app {
std::string_view sgc_js();
std::string_view chat_html();
std::string_view presence_js();
std::string_view files_js();
std::string_view presence_html();
}  // namespace switchboard::app
