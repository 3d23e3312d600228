// ws_client.hpp: a blocking WebSocket client for tests, built on Boost.Beast (a real peer
// library: what our server must interoperate with). One Beast TU, compiled once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace switchboard::test {

struct received {
  bool binary = false;
  std::string data;
};

class ws_client {
 public:
  // Connects and completes the handshake; throws on failure.
  ws_client(const std::string& host, std::uint16_t port, const std::string& target = "/");
  ~ws_client();

  void send(const std::string& text);
  void send_binary(const std::string& data);
  // The next message, or nullopt on timeout or close (then close_code() tells which).
  std::optional<received> read(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  void close(std::uint16_t code = 1000, const std::string& reason = {});
  // The code of the close frame the server sent (0 while open).
  std::uint16_t close_code() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// A loopback port in 20000-32000 that nothing listens on now.
std::uint16_t free_port();

}  // namespace switchboard::test
