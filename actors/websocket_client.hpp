// websocket_client.hpp: the WebSocket client as an actor (runtime/client.hpp underneath).
//
// spawn_websocket_client() returns an actor that owns one runtime::websocket_client: it
// connects at once (with the watchdog, when options.reconnect is enabled) and reports to a
// listener actor, as messages:
//
//   (ws_connected_atom, url, subprotocol, bool reconnected)  every open; reconnected = the
//                                                            hook to subscribe again
//   (text_atom, std::string)    (binary_atom, std::string)   each message received
//   (closed_atom, uint16_t code, std::string reason)         an open connection ended
//   (ws_error_atom, std::string what, bool final)            an attempt failed
//
// It takes (text_atom, std::string) and (binary_atom, std::string) to send, and
// (closed_atom, uint16_t code, std::string reason) to close; it then quits. It also quits,
// closing with 1001, when it is told to exit or its listener goes away. Events are sent from
// the io thread straight to the listener (no hop through the client actor); sends hop through
// the client actor, which keeps their order.
#pragma once

#include "actors/messages/connection.hpp"
#include "runtime/client.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

namespace switchboard::actors {

using ws_connected_atom = caf::atom_constant<caf::atom("wsconn")>;
using ws_error_atom = caf::atom_constant<caf::atom("wserror")>;

// `pool` runs the connection and must outlive the actor. Throws config_error for a bad URL.
caf::actor spawn_websocket_client(caf::actor_system& system, runtime::io_pool& pool,
                                  runtime::client_options options, caf::actor listener);

}  // namespace switchboard::actors
