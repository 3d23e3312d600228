// atoms.hpp: the typed messages application actors exchange with the sgc server (server.hpp:
// subscribe_actor, moderate). Kept apart so applications need no other internal header.
#pragma once

#include <caf/atom.hpp>

namespace switchboard::protocols::sgc {

// (event_atom, std::string channel, std::string message_json, std::uint64_t sequence): a
// publish, to an actor subscribed to the channel.
using event_atom = caf::atom_constant<caf::atom("sgcevent")>;
// (moderate_atom, std::string channel, std::string message_json, std::string publisher_guid,
// std::uint8_t queue_level): a client's publish, to the channel's moderator.
using moderate_atom = caf::atom_constant<caf::atom("sgcmod")>;

}  // namespace switchboard::protocols::sgc
