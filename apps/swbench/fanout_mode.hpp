// fanout_mode.hpp: `swbench fanout`, one publisher to many subscribers on one channel.
//
// --connections N subscriber connections and one publisher connection (connection id 0; the
// subscribers are ids 1..N, spread over --source-ips like the echo mode's) open first. Each
// subscriber subscribes in the --dialect's way and waits for the confirmation; when the connect
// phase is over (driver.hpp) and every subscriber is confirmed (or 5 s have passed), the
// publisher publishes at --rate messages per second (paced to the nanosecond: its thread sleeps
// in ppoll() until the next message is due), or, with --rate 0, as fast as the subscribers take
// them with at most --depth messages in flight (published minus delivered to every subscriber).
// It stops at the end of the window.
//
// Each published payload is exactly --size bytes of text (at least 38):
//
//   swb:SSSSSSSSSSSSSSSS:TTTTTTTTTTTTTTTT:xxxx...   S: sequence, T: send time (CLOCK_MONOTONIC ns),
//                                                 both 16 hex digits; x: filler
//
// wrapped in the dialect's envelope, so every subscriber measures end-to-end latency (the
// publisher queued it at T; the subscriber's read brought it at its read time; one process, one
// clock) and checks that sequences only grow.
//
// Dialects (the same WebSocket client code, client_loop.hpp, for all three):
//   sgc       Switchboard's default protocol (protocols/sgc/README.md): subscribers send
//             {"jsonrpc":"2.0","method":"sgc@subscribe","params":{"channel":"bench"}} and wait
//             for the sgc@subscribe result; the publisher sends
//             {"jsonrpc":"2.0","method":"sgc@publish","params":{"channel":"bench","message":"P"}};
//             subscribers take P from the sgc@event. The `esegece.com` subprotocol is not
//             offered (ws_client.hpp offers none); the daemon's /sgc route serves the same
//             handler either way.
//   raw       a broadcast server: every message a subscriber receives is a payload; the
//             publisher ignores anything it gets back.
//   socketio  socket.io v4 over engine.io's WebSocket transport (the URL should be
//             ws://HOST:PORT/socket.io/?EIO=4&transport=websocket): after the server's open
//             packet "0{...}" the client sends "40" and waits for "40{...}"; subscribers then
//             emit 42["join","bench"] and wait for 42["joined",...]; the publisher emits
//             42["pub","P"]; subscribers take P from 42["msg","P"]. Pings "2" are answered "3".
//
// Measured (window as in driver.hpp: --warmup, then --duration):
//   publishes/s      messages published in the window per second
//   deliveries/s     payloads received by all subscribers in the window per second
//   latency          send time to receive time, of every delivery of a message published in
//                    the window (including those that arrive after it, during the drain)
//   losses           expected deliveries of the messages published in the window (their
//                    number times the subscribers confirmed at its start) minus those received
//                    by the end of the drain (up to 2 s after the window, or as soon as all
//                    have arrived): a delivery later than that counts as lost
//   server CPU       as in echo mode (--server-pid)
#pragma once

#include "apps/swbench/options.hpp"

namespace switchboard::swbench {

// Runs the fan-out benchmark, prints the report on stdout and writes --json. Returns 0 when
// every connection opened, every subscriber was confirmed, nothing was lost and no error was
// seen, 1 otherwise, 2 for a usage error.
int run_fanout(const options& opt);

}  // namespace switchboard::swbench
