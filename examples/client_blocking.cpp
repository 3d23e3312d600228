// client_blocking: the blocking style of the WebSocket client, for scripts and tests.
//
//   build/bin/client_blocking ws://127.0.0.1:8080/echo
//
// Connects, sends three messages, prints what comes back, closes with 1000.
#include "runtime/client.hpp"

#include <cstdio>

int main(int argc, char** argv) {
  namespace rt = switchboard::runtime;
  rt::client_options options;
  options.url = argc > 1 ? argv[1] : "ws://127.0.0.1:8080/echo";
  options.permessage_deflate = true;  // used when the server agrees; no error when it does not

  rt::blocking_client client(options);
  if (const std::error_code ec = client.connect()) {
    std::fprintf(stderr, "connect failed: %s\n", client.what().c_str());
    return 1;
  }
  std::printf("connected to %s (extensions: %s)\n", client.info().url.c_str(),
              client.info().extensions.empty() ? "none" : client.info().extensions.c_str());
  for (const char* text : {"one", "two", "three"})
    client.send_text(text);
  for (int i = 0; i < 3; ++i) {
    const auto m = client.receive(std::chrono::seconds(5));
    if (!m) break;
    std::printf("received: %s\n", m->payload.c_str());
  }
  client.close(1000, "done");
  std::printf("closed with %u\n", client.close_code());
}
