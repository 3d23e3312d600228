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
// Federated (a federation given to spawn_channel, federation.hpp): the sequence is the
// cluster's. The actor watches the channel's log, reads it once at start (the queue and the
// sequence; subscribe requests wait until then so "since" and the replay see the history),
// delivers each logged event as it comes (the origin node's too), fills a gap in the
// sequence from the log, and reads after its last sequence again on resync (the link came
// back). A gap is skipped only when the log answered without it (trimmed); while the log
// cannot be read, the events after the gap wait (up to queue_max_count of them) and the read
// is tried again. deliver_now (the cluster is unreachable) fans out at once, unsequenced.
//
// Messages carry connection handles and shared frames inside one process only (never
// serialized), hence CAF_ALLOW_UNSAFE_MESSAGE_TYPE for the request structs below.
#pragma once

#include "protocols/sgc/atoms.hpp"
#include "protocols/sgc/codec.hpp"
#include "protocols/sgc/federation.hpp"
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
using fed_event_atom = caf::atom_constant<caf::atom("sgcfev")>;
using fed_history_atom = caf::atom_constant<caf::atom("sgcfhist")>;
using resync_atom = caf::atom_constant<caf::atom("sgcresync")>;
using now_atom = caf::atom_constant<caf::atom("sgcnow")>;

using federated_event_ptr = std::shared_ptr<const federated_event>;
using federated_history_ptr = std::shared_ptr<const std::vector<federated_event>>;
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
    caf::reacts_to<actor_sub_atom, caf::actor>, caf::reacts_to<actor_unsub_atom, caf::actor>,
    // Federated: a logged event; the answer of a log read (ok, entries, epoch); read again
    // after the last sequence; a publish delivered here at once, unsequenced (outage).
    caf::reacts_to<fed_event_atom, federated_event_ptr>,
    caf::reacts_to<fed_history_atom, bool, federated_history_ptr, std::string>,
    caf::reacts_to<resync_atom>, caf::reacts_to<now_atom, publish_request_ptr>>;

// `patterns`: the connections whose pattern subscriptions match `name` at spawn time. `fed`:
// null for a single node; else the actor reads the log at once (the server watches the
// channel's log for it and forwards the events as fed_event_atom).
channel_actor spawn_channel(caf::actor_system& system, std::string name, runtime::server& server,
                            channel_options options, std::vector<channel_member> patterns,
                            std::shared_ptr<federation> fed = nullptr);

}  // namespace switchboard::protocols::sgc

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchboard::protocols::sgc::subscribe_request_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchboard::protocols::sgc::publish_request_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchboard::protocols::sgc::broadcast_request_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchboard::protocols::sgc::channel_member_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchboard::protocols::sgc::sse_request_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchboard::protocols::sgc::federated_event_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchboard::protocols::sgc::federated_history_ptr)
