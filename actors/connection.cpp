#include "actors/connection.hpp"

namespace switchboard::actors {

bool connection::send(std::string_view text) const {
  if (!c_ || !c_->is_open()) return false;
  c_->send_text(text);
  return true;
}

bool connection::send_binary(std::string_view data) const {
  if (!c_ || !c_->is_open()) return false;
  c_->send_binary(data);
  return true;
}

void connection::close(std::uint16_t code, std::string reason) const {
  if (c_) c_->close(code, std::move(reason));
}

std::string connection::remote_address() const {
  return c_ ? c_->remote().address().to_string() : std::string{};
}

std::uint16_t connection::remote_port() const {
  return c_ ? c_->remote().port() : 0;
}

const std::string& connection::target() const {
  static const std::string empty;
  return c_ ? c_->target() : empty;
}

const std::string& connection::subprotocol() const {
  static const std::string empty;
  return c_ ? c_->subprotocol() : empty;
}

}  // namespace switchboard::actors
