#include "actors/websocket_client.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

namespace switchboard::actors {
namespace {

namespace ws = runtime::websocket;

struct client_state {
  std::shared_ptr<runtime::websocket_client> client;
  static inline const char* name = "websocket_client";
};

caf::behavior client_actor(caf::stateful_actor<client_state>* self,
                           std::shared_ptr<runtime::websocket_client> client, caf::actor listener) {
  self->state.client = client;
  self->monitor(listener);
  self->set_down_handler([self](const caf::down_msg&) {
    self->state.client->close(ws::close_code::going_away, "listener gone");
    self->quit();
  });
  self->attach_functor([client] { client->close(ws::close_code::going_away, {}); });
  client->connect();
  return {
      [self](text_atom, const std::string& text) { self->state.client->send_text(text); },
      [self](binary_atom, const std::string& data) { self->state.client->send_binary(data); },
      [self](closed_atom, std::uint16_t code, const std::string& reason) {
        self->state.client->close(code, reason);
        self->quit();
      },
  };
}

}  // namespace

caf::actor spawn_websocket_client(caf::actor_system& system, runtime::io_pool& pool,
                                  runtime::client_options options, caf::actor listener) {
  // The events capture the listener, not the client actor: they go straight to it from the
  // io thread. A weak handle would do as well; the listener outlives its client by design.
  runtime::client_events ev;
  ev.on_connect = [listener](const runtime::connect_info& info) {
    caf::anon_send(listener, ws_connected_atom::value, info.url, info.subprotocol,
                   info.reconnected);
  };
  ev.on_message = [listener](ws::opcode op, std::string_view payload) {
    if (op == ws::opcode::text)
      caf::anon_send(listener, text_atom::value, std::string(payload));
    else
      caf::anon_send(listener, binary_atom::value, std::string(payload));
  };
  ev.on_disconnect = [listener](std::uint16_t code, std::string_view reason) {
    caf::anon_send(listener, closed_atom::value, code, std::string(reason));
  };
  ev.on_error = [listener](const std::error_code&, const std::string& what, bool final) {
    caf::anon_send(listener, ws_error_atom::value, what, final);
  };
  auto client = runtime::websocket_client::make(pool, std::move(options), std::move(ev));
  return system.spawn(client_actor, std::move(client), std::move(listener));
}

}  // namespace switchboard::actors
