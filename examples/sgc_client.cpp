// sgc_client: the C++ sgc client (protocols/sgc/client.hpp) against the daemon's /sgc route.
// It subscribes to "news", publishes to it with QoS 1, calls an RPC and prints what arrives;
// the watchdog reconnects and resubscribes (with "since") if the daemon restarts.
//
//   build/bin/switchboard &                       # listens on 127.0.0.1:8080
//   build/bin/sgc_client ws://127.0.0.1:8080/sgc
//
// Ctrl-C to quit.
#include "protocols/sgc/client.hpp"

#include <csignal>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  namespace sgc = switchboard::protocols::sgc;
  sgc::client_options options;
  options.transport.url = argc > 1 ? argv[1] : "ws://127.0.0.1:8080/sgc";
  options.transport.reconnect.enabled = true;
  options.transport.reconnect.max_delay_ms = 5000;
  options.qos = sgc::qos_level::level1;  // publishes wait for the server's ACK, and are resent

  const auto print = [](const char* what, std::string_view a, std::string_view b = "") {
    std::printf("%s %.*s %.*s\n", what, static_cast<int>(a.size()), a.data(),
                static_cast<int>(b.size()), b.data());
  };
  sgc::client_events events;  // all run on the client's io thread
  events.on_connect = [](const switchboard::runtime::connect_info& info) {
    std::printf("%s %s\n", info.reconnected ? "reconnected to" : "connected to", info.url.c_str());
  };
  events.on_session = [&](std::string_view guid) { print("session", guid); };
  events.on_subscribed = [&](std::string_view channel, const sgc::subscription_info&) {
    print("subscribed", channel);
  };
  events.on_event = [&](std::string_view channel, std::string_view text, std::uint64_t seq) {
    print(("event #" + std::to_string(seq)).c_str(), channel, text);
  };
  events.on_gap = [&](std::string_view channel, std::uint64_t, std::uint64_t) {
    print("missed events on", channel);  // history did not reach back: resync here
  };
  events.on_message = [&](std::string_view channel, std::string_view text) {
    print("message", channel, text);
  };
  events.on_acknowledgment = [&](std::string_view id) { print("ack", id); };
  events.on_rpc_error = [](const sgc::rpc_reply& r) {
    std::printf("rpc error %lld %s\n", static_cast<long long>(r.code), r.message.c_str());
  };
  events.on_disconnect = [](std::uint16_t code, std::string_view) {
    std::printf("disconnected (%u)\n", code);
  };
  events.on_error = [](const std::error_code&, const std::string& what) {
    std::printf("error: %s\n", what.c_str());
  };

  sigset_t signals;  // wait for Ctrl-C here; the io thread inherits the blocked mask
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  sgc::client client(options, events);
  client.subscribe("news");  // remembered: sent on every open
  client.connect();
  client.publish("Hello from C++", "news");  // QoS 1: waits in the QoS list until open
  client.rpc("time", "", [](const sgc::rpc_reply& r) {
    if (r.ok)
      std::printf("rpc result %s\n", r.result.c_str());
    else
      std::printf("rpc error %lld %s\n", static_cast<long long>(r.code), r.message.c_str());
  });
  int received = 0;
  sigwait(&signals, &received);
}  // the destructor closes the connection and joins the io thread
