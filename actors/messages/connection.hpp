// messages/connection.hpp: the vocabulary between io threads, connection actors, the group
// registry and channel actors (CAF 0.17 atoms and message types).
//
// Connection handles (runtime::connection_ptr) and encoded frames (runtime::shared_buffer)
// travel inside one process only; CAF_ALLOW_UNSAFE_MESSAGE_TYPE says so (they are never
// serialized; the cluster layer sends its own Protobuf envelope instead).
#pragma once

#include "runtime/connection.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include <cstdint>
#include <string>

namespace switchboard::actors {

using connection_id = runtime::connection_id;

// Connection actor: lifecycle and traffic from its io thread.
using opened_atom = caf::atom_constant<caf::atom("opened")>;
using text_atom = caf::atom_constant<caf::atom("text")>;
using binary_atom = caf::atom_constant<caf::atom("binary")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
// Channel membership (connection actor and channel actors).
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("unsubscr")>;
using publish_atom = caf::atom_constant<caf::atom("publish")>;
using count_atom = caf::atom_constant<caf::atom("count")>;
// Groups.
using add_atom = caf::atom_constant<caf::atom("add")>;
using remove_atom = caf::atom_constant<caf::atom("remove")>;
using remove_all_atom = caf::atom_constant<caf::atom("removeall")>;
using broadcast_atom = caf::atom_constant<caf::atom("broadcast")>;
using members_atom = caf::atom_constant<caf::atom("members")>;
using list_atom = caf::atom_constant<caf::atom("list")>;

}  // namespace switchboard::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchboard::runtime::connection_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchboard::runtime::shared_buffer)
