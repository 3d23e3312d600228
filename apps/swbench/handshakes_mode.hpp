// handshakes_mode.hpp: `swbench handshakes`, WebSocket connections opened and closed per second.
//
// A closed loop of --connections connectors. Each repeats one cycle: TCP connect (from its
// --source-ips address), the upgrade (response checked, Sec-WebSocket-Accept included), with
// --echo one message of --size bytes and its echo, then the closing handshake: our close frame,
// the server's answer, the socket closed; then the next cycle at once, on a new socket. So the
// figure is the server's sustainable rate of whole connection lifetimes at that concurrency.
//
// Phases (driver.hpp): in the connect phase every connector opens its first connection, not
// counted; at the end of it they all close it and start cycling. Counted: cycles that end inside
// the window (--warmup, then --duration; with --count N the window also ends when N cycles have
// ended in all, and no more than N are started).
//
// Measured: handshakes/s and per server-CPU-second; the handshake latency (connect() issued to
// the 101 response parsed) and the cycle latency (to the server's close frame), p50/p99/p99.9,
// of the window's cycles. A cycle that fails (refused, reset, a bad response, a wrong echo) is
// an error, and its connector starts again on the next loop turn.
//
// Returns 0 when no cycle failed (and with --count, all N completed), 1 otherwise, 2 for a
// usage error.
#pragma once

#include "apps/swbench/options.hpp"

namespace switchboard::swbench {

int run_handshakes(const options& opt);

}  // namespace switchboard::swbench
