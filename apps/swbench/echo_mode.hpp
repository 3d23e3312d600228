// echo_mode.hpp: `swbench echo`, closed-loop WebSocket echo round trips (the method of
// uWebSockets' benchmarks/load_test.c and Beast's wsload, with pipelining added).
//
// Each connection keeps --depth messages in flight: when the connect phase is over (all
// connections open; see driver.hpp) it sends `depth` messages, and every echo it receives
// triggers the next send, so the offered load adapts to the server (closed loop). Each message
// carries a tag in its first 8 bytes (the connection id and its sequence number, as 8 base64
// digits, so text frames stay valid UTF-8) and a fixed filler; an echo must come back on the same
// connection, in order, with the same opcode, length, tag and last byte, otherwise it counts as a
// bad echo.
//
// Measured: round trips completed in the window per second, per server CPU second, and the
// latency of each (send time to receive time of its echo; the clock is read once per read()).
#pragma once

#include "apps/swbench/options.hpp"

namespace switchboard::swbench {

// Runs the echo benchmark, prints the report on stdout and writes --json. Returns the process
// exit code: 0 when every connection opened and no error was seen, 1 otherwise.
int run_echo(const options& opt);

}  // namespace switchboard::swbench
