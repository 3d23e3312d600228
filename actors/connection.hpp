// connection.hpp: what an application holds for one WebSocket client: a `connection` handle
// and the `message`s it receives.
//
// A handle is cheap to copy and safe to use from any thread; after the client is gone its
// sends do nothing and return false. The underlying runtime::connection stays on its io thread.
#pragma once

#include "actors/messages/connection.hpp"
#include "runtime/websocket/rfc6455.hpp"

#include <string>
#include <string_view>

namespace switchboard::actors {

class message {
 public:
  message(runtime::websocket::opcode op, std::string data) : op_(op), data_(std::move(data)) {}
  bool is_text() const noexcept { return op_ == runtime::websocket::opcode::text; }
  bool is_binary() const noexcept { return op_ == runtime::websocket::opcode::binary; }
  runtime::websocket::opcode opcode() const noexcept { return op_; }
  // The payload (UTF-8 for text messages).
  const std::string& data() const noexcept { return data_; }
  std::string_view text() const noexcept { return data_; }

 private:
  runtime::websocket::opcode op_;
  std::string data_;
};

class connection {
 public:
  connection() = default;
  explicit connection(runtime::connection_ptr c) : c_(std::move(c)) {}

  connection_id id() const noexcept { return c_ ? c_->id() : 0; }
  explicit operator bool() const noexcept { return c_ != nullptr; }

  // Queue a text / binary message. False when the connection is closing or gone.
  bool send(std::string_view text) const;
  bool send_binary(std::string_view data) const;
  // Start the close handshake with this code and reason.
  void close(std::uint16_t code = runtime::websocket::close_code::normal,
             std::string reason = {}) const;

  // Fixed at the handshake.
  std::string remote_address() const;
  std::uint16_t remote_port() const;
  const std::string& target() const;       // the request target, e.g. "/chat?room=1"
  const std::string& subprotocol() const;  // negotiated subprotocol, or ""

  const runtime::connection_ptr& native() const noexcept { return c_; }

 private:
  runtime::connection_ptr c_;
};

}  // namespace switchboard::actors
