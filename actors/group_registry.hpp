// group_registry.hpp: the actor that owns every group (the manual's TsgcWSGroups): named sets
// of connections, with broadcast to a group or to every group a pattern matches ("Room*"),
// and a removed event for each member that leaves, explicitly or by disconnecting.
#pragma once

#include "actors/messages/connection.hpp"

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <functional>
#include <string>
#include <vector>

namespace switchboard::runtime {
class server;
}

namespace switchboard::actors {

using group_registry_actor =
    caf::typed_actor<caf::reacts_to<add_atom, std::string, runtime::connection_ptr>,
                     caf::reacts_to<remove_atom, std::string, connection_id>,
                     caf::reacts_to<remove_all_atom, connection_id>,
                     caf::reacts_to<broadcast_atom, std::string, runtime::shared_buffer>,
                     caf::replies_to<members_atom, std::string>::with<std::vector<connection_id>>,
                     caf::replies_to<list_atom>::with<std::vector<std::string>>>;

using group_removed_handler = std::function<void(const std::string& group, connection_id id)>;

// `on_removed` must outlive the actor; it runs inside the actor.
group_registry_actor spawn_group_registry(caf::actor_system& system, runtime::server& server,
                                          const group_removed_handler* on_removed);

}  // namespace switchboard::actors
