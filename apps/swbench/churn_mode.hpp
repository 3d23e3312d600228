// churn_mode.hpp: `swbench churn`, members joining and leaving one channel while the others
// stay and watch: join/leave operations per second, the events they cause, and the server's
// memory per member.
//
// Why a mode of swbench and not a separate program: it needs everything swbench already is
// (thousands of connections on the epoll loops, source addresses, the driver's phases, server
// CPU and RSS, the progress line and the JSON), and only the per-message logic is new.
//
// --connections N members on channel "bench"; connection ids 0..--churners-1 are churners, the
// rest stay. --dialect says how a member joins and leaves:
//   sgc       the default protocol (the daemon's /sgc): join is sgc@subscribe, leave
//             sgc@unsubscribe; each is confirmed to the member alone (no one else hears of it).
//   presence  the Presence protocol (the daemon's /ws/presence, spec section 5.2): on the
//             server's sgc@presence@session the member announces itself with
//             sgc@presence@member@new under the session id it was given, waits for that
//             announcement to come back, then joins with sgc@presence@channel@member@new; a
//             leave is sgc@presence@channel@member@remove. The server tells the channel's
//             members of every join and leave, so one operation is an event for each of them.
//
// Phases (driver.hpp): the connect phase opens every connection and makes each a member of the
// channel (a connection counts as settled once its own join is confirmed). The server's RSS is
// read before the first connection and when the window begins:
//
//   memory per member = (RSS when the window begins - RSS before) / members
//
// which includes the connection itself (compare `swbench connections` for a bare one). Then
// each churner repeats a cycle: leave and join sent together, done when its own join is
// confirmed (sgc: the sgc@subscribe result; presence: the join event naming it). --warmup, then
// the window of --duration (or until --count cycles in all). After the window, cycles in flight
// finish and events still on their way arrive (a drain of up to 10 s).
//
// Measured: operations (a leave or a join: two per cycle) per second and per server-CPU-second;
// events per second (join and leave messages received by any member in the window); the cycle
// latency; memory per member; how long the setup took and how many events it caused (presence
// announces every new member to all members, so setting up N members costs about N^2 events).
//
// Checked (errors when not so), counting everything from the start of the churn to the end of
// the drain:
//   sgc       confirmations received == 2 x cycles, and the stable members received nothing;
//   presence  every stable member received exactly 2 x cycles join and leave events about
//             churners (it must hear of each of them, once).
//
// Returns 0 when every member joined, nothing failed and the checks hold, 1 otherwise, 2 for a
// usage error.
#pragma once

#include "apps/swbench/options.hpp"

namespace switchboard::swbench {

int run_churn(const options& opt);

}  // namespace switchboard::swbench
