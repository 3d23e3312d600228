// echo_server: every WebSocket message comes back to its sender.
//
//   build/bin/echo_server 127.0.0.1:9000
//   then connect to ws://127.0.0.1:9000/ (any path) and send something.
#include "actors/hub.hpp"

#include <cstdio>

int main(int argc, char** argv) {
  namespace sb = switchboard::actors;
  sb::hub_options options;
  if (argc > 1) options.server.bindings = {switchboard::runtime::parse_binding(argv[1])};

  sb::hub hub(options);
  hub.on_connect([](sb::connection& c) {
    std::printf("connection %llu from %s\n", static_cast<unsigned long long>(c.id()),
                c.remote_address().c_str());
  });
  hub.on_message([](sb::connection& c, const sb::message& m) {
    if (m.is_text())
      c.send(m.text());
    else
      c.send_binary(m.data());
  });
  hub.on_disconnect([](sb::connection& c, std::uint16_t code, std::string_view) {
    std::printf("connection %llu closed with %u\n", static_cast<unsigned long long>(c.id()), code);
  });
  hub.run();  // until Ctrl-C
}
