// client_reconnect: the callback style, with the watchdog. The client subscribes in its
// on_connect hook, so after the server restarts it subscribes again by itself.
//
//   build/bin/client_reconnect ws://127.0.0.1:8080/broadcast
//
// Stop and restart the daemon while it runs: it reconnects with backoff (500 ms, doubling to
// 5 s) and resends its "subscribe" line. Ctrl-C to quit.
#include "runtime/client.hpp"

#include <csignal>
#include <cstdio>
#include <thread>

int main(int argc, char** argv) {
  namespace rt = switchboard::runtime;
  rt::client_options options;
  options.url = argc > 1 ? argv[1] : "ws://127.0.0.1:8080/broadcast";
  options.heartbeat_interval_ms = 2000;  // notice a dead server within seconds
  options.heartbeat_timeout_ms = 4000;
  options.reconnect.enabled = true;
  options.reconnect.max_delay_ms = 5000;

  std::shared_ptr<rt::websocket_client> client;
  rt::client_events events;
  events.on_connect = [&](const rt::connect_info& info) {
    std::printf("%s %s\n", info.reconnected ? "reconnected to" : "connected to", info.url.c_str());
    client->send_text("subscribe news");  // the resubscribe hook: runs on every open
  };
  events.on_message = [](auto, std::string_view text) {
    std::printf("message: %.*s\n", static_cast<int>(text.size()), text.data());
  };
  events.on_disconnect = [](std::uint16_t code, std::string_view reason) {
    std::printf("disconnected: %u %.*s\n", code, static_cast<int>(reason.size()), reason.data());
  };
  events.on_error = [](const std::error_code&, const std::string& what, bool final) {
    std::printf("%s: %s\n", final ? "giving up" : "attempt failed", what.c_str());
  };

  sigset_t signals;  // wait for Ctrl-C here; the io thread inherits the blocked mask
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  rt::io_pool pool(1);
  pool.start();
  client = rt::websocket_client::make(pool, options, events);
  client->connect();
  int received = 0;
  sigwait(&signals, &received);
  client->close(1000, "bye");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the close go out
  pool.stop();
  pool.join();
}
