// channel.hpp: one actor per channel name, created on first subscribe. It owns the channel's
// subscriber set and fans a published frame out to them: the frame is encoded once by the
// publisher and the same buffer is queued on every subscriber, one post per io thread,
// without a hop through each subscriber's actor (DESIGN.md, "Data flow, one publish").
#pragma once

#include "actors/messages/connection.hpp"

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <string>

namespace switchboard::runtime {
class server;
}

namespace switchboard::actors {

using channel_actor = caf::typed_actor<caf::reacts_to<subscribe_atom, runtime::connection_ptr>,
                                       caf::reacts_to<unsubscribe_atom, connection_id>,
                                       caf::reacts_to<publish_atom, runtime::shared_buffer>,
                                       caf::replies_to<count_atom>::with<std::uint64_t>>;

channel_actor spawn_channel(caf::actor_system& system, std::string name, runtime::server& server);

}  // namespace switchboard::actors
