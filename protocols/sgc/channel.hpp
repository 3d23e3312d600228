// channel.hpp: the channel actor of the sgc server (spec/sgc-protocols.md 2.4, 2.5, 2.9): one
// per channel name, spawned by the server's directory (server.cpp) on first subscribe or on a
// publish with a queue level above 0.
//
// It owns the channel's subscriber set (direct subscribers and connections whose pattern
// subscription matches the name), the per-channel sequence counter and the retained queue
// (level 1: the last event; level 2: a history bounded by count and age). A publish is
// encoded once (encode_event) into one frame (runtime::make_frame) queued on every
// subscriber through runtime::server::fanout, one post per io thread: no hop through a
// connection actor (DESIGN.md, "Data flow, one publish"). Hot path: the publish handler.
//
// Application actors are members too (server.hpp, subscribe_actor): each publish reaches
// them as a typed message (event_atom, channel, message JSON, sequence).
//
// Server-Sent Events streams are members too: each publish is formatted once more for them
// (`id: <sequence>`, `data: <message>`) and that text shared by every stream.
//
// The subscribe confirmation is sent by this actor, not by the connection's io thread, so that
// it precedes the replay of the queue on the wire (2.4 step 2.4) and can carry the recovery
// members of the "since" extension (README.md): ,"sequence":N,"recovered":true|false.
//
// Messages carry connection handles and shared frames inside one process only (never
// serialized), hence CAF_ALLOW_UNSAFE_MESSAGE_TYPE for the request structs below.
#pragma once

#include "protocols/sgc/atoms.hpp"
#include "protocols/sgc/codec.hpp"
#include "runtime/connection.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::runtime {
class server;
}

namespace switchboard::protocols::sgc {

// A connection as a channel knows it: the handle to queue frames on and its session GUID
// (include/exclude lists name GUIDs, 1.2).
struct channel_member {
  runtime::connection_ptr conn;
  std::string guid;
};

// Include/exclude lists of the server API (2.5), parsed from comma lists of GUIDs. Empty
// include: everyone.
struct target_filter {
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  bool empty() const noexcept { return include.empty() && exclude.empty(); }
  bool admits(const std::string& guid) const;
  static target_filter parse(std::string_view exclude, std::string_view include);
};

struct subscribe_request {
  channel_member who;
  std::string confirmation;   // the encoded sgc@subscribe reply
  std::size_t insert_at = 0;  // where the recovery members go (before result's closing brace)
  std::optional<std::uint64_t> since;  // the "since" extension: the last sequence seen
};

struct publish_request {
  std::string payload;  // one JSON value (raw_json text)
  queue_level queue = queue_level::level0;
  target_filter filter;
};

struct broadcast_request {
  runtime::shared_buffer frame;  // an encoded sgc@message, already framed
  target_filter filter;
};

// A Server-Sent Events stream subscribing (server.hpp, attach_sse).
struct sse_request {
  runtime::connection_ptr conn;
  std::optional<std::uint64_t> since;  // Last-Event-ID: the last sequence the stream saw
};

using subscribe_request_ptr = std::shared_ptr<const subscribe_request>;
using sse_request_ptr = std::shared_ptr<const sse_request>;
using publish_request_ptr = std::shared_ptr<const publish_request>;
using broadcast_request_ptr = std::shared_ptr<const broadcast_request>;
using channel_member_ptr = std::shared_ptr<const channel_member>;

struct channel_options {
  std::size_t queue_max_count = 1000;                // level 2 history: entries kept
  std::chrono::milliseconds queue_max_age{3600000};  // level 2 history: older entries dropped
  bool event_sequence = true;                        // write "sequence" in events
};

using sub_atom = caf::atom_constant<caf::atom("sgcsub")>;
using unsub_atom = caf::atom_constant<caf::atom("sgcunsub")>;
using padd_atom = caf::atom_constant<caf::atom("sgcpadd")>;
using pdel_atom = caf::atom_constant<caf::atom("sgcpdel")>;
using pub_atom = caf::atom_constant<caf::atom("sgcpub")>;
using bcast_atom = caf::atom_constant<caf::atom("sgcbcast")>;
using replay_atom = caf::atom_constant<caf::atom("sgcreplay")>;
using clear_atom = caf::atom_constant<caf::atom("sgcclear")>;
using count_subs_atom = caf::atom_constant<caf::atom("sgccount")>;
using stop_atom = caf::atom_constant<caf::atom("sgcstop")>;
using sse_atom = caf::atom_constant<caf::atom("sgcsse")>;
using actor_sub_atom = caf::atom_constant<caf::atom("sgcasub")>;
using actor_unsub_atom = caf::atom_constant<caf::atom("sgcaunsub")>;
using sse_end_atom = caf::atom_constant<caf::atom("sgcsseend")>;

using channel_actor = caf::typed_actor<
    // A direct subscription: add, confirm, replay (all or since a sequence).
    caf::reacts_to<sub_atom, subscribe_request_ptr>,
    caf::reacts_to<unsub_atom, runtime::connection_id>,
    // A pattern subscription that matches this channel: add (and replay the queue when the
    // bool is set: the pattern was just subscribed, not the channel just created).
    caf::reacts_to<padd_atom, channel_member_ptr, bool>,
    caf::reacts_to<pdel_atom, runtime::connection_id>,
    caf::reacts_to<pub_atom, publish_request_ptr>,
    caf::reacts_to<bcast_atom, broadcast_request_ptr>,
    // Replay the queue to one connection without subscribing it (channel "" on connect, 2.9).
    caf::reacts_to<replay_atom, channel_member_ptr>,
    // Drop the retained queue; true when something was stored (ClearQueue, 2.9).
    caf::replies_to<clear_atom>::with<bool>, caf::replies_to<count_subs_atom>::with<std::uint64_t>,
    // Quit after the messages already queued (the directory dropped this channel).
    caf::reacts_to<stop_atom>,
    // A Server-Sent Events stream: add (replaying since Last-Event-ID), remove.
    caf::reacts_to<sse_atom, sse_request_ptr>, caf::reacts_to<sse_end_atom, runtime::connection_id>,
    // An application actor: add, remove (it receives event_atom messages, atoms.hpp).
    caf::reacts_to<actor_sub_atom, caf::actor>, caf::reacts_to<actor_unsub_atom, caf::actor>>;

// `patterns`: the connections whose pattern subscriptions match `name` at spawn time.
channel_actor spawn_channel(caf::actor_system& system, std::string name, runtime::server& server,
                            channel_options options, std::vector<channel_member> patterns);

}  // namespace switchboard::protocols::sgc

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchboard::protocols::sgc::subscribe_request_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchboard::protocols::sgc::publish_request_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchboard::protocols::sgc::broadcast_request_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchboard::protocols::sgc::channel_member_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchboard::protocols::sgc::sse_request_ptr)
