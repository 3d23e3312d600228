// broadcast_server: a chat in a few lines. A client joins the room its path names
// (ws://host:port/room1 joins "room1"); a message goes to everyone in that room, and
// "!all <text>" to every room whose name starts with "room" (a wildcard group broadcast).
//
//   build/bin/broadcast_server 127.0.0.1:9001
#include "actors/hub.hpp"

#include <cstdio>
#include <string>

namespace sb = switchboard::actors;

static std::string room_of(const sb::connection& c) {
  const std::string path = c.target().substr(1, c.target().find('?') - 1);
  return path.empty() ? "lobby" : path;
}

int main(int argc, char** argv) {
  sb::hub_options options;
  if (argc > 1) options.server.bindings = {switchboard::runtime::parse_binding(argv[1])};
  sb::hub hub(options);
  hub.on_connect([&hub](sb::connection& c) { hub.groups().add(room_of(c), c.id()); });
  hub.on_message([&hub](sb::connection& c, const sb::message& m) {
    if (m.text().rfind("!all ", 0) == 0)
      hub.groups().broadcast("room*", m.text().substr(5));
    else
      hub.groups().broadcast(room_of(c), m.text());
  });
  hub.groups().on_removed([](const std::string& room, std::uint64_t id) {
    std::printf("connection %llu left %s\n", static_cast<unsigned long long>(id), room.c_str());
  });
  hub.run();  // until Ctrl-C
}
