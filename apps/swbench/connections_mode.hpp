// connections_mode.hpp: `swbench connections`, N idle WebSocket connections held open, and what
// they cost the server in memory.
//
// Phases (driver.hpp): the server's RSS is read first, before anything connects; then all
// --connections open (handshake only, no data), spread over --source-ips; then --warmup seconds
// to let the server settle, then a hold of --duration seconds in which nothing is sent (pings
// are answered: a server that drops idle connections shows as errors). RSS is read when the hold
// begins and when it ends:
//
//   bytes per connection = (RSS at the end of the hold - RSS before) / connections still open
//
// so everything the server keeps per connection counts: socket buffers the kernel charges to it
// do not (they are not in its RSS), the connection's actor, buffers and bookkeeping do.
//
// Workers: one process holds at most its open-file limit (RLIMIT_NOFILE; 20,000 here) minus a
// few. Beyond that, --processes P forks P worker processes (0, the default: as many as the
// limit needs), each with its share of the connections and one loop thread; their counters live
// in memory shared with the parent (mmap MAP_SHARED), which runs the driver as for threads.
// Each worker process dies with the parent (PR_SET_PDEATHSIG). With one process, --threads
// loops share the connections as in the other modes. swbench's own CPU in the report covers the
// parent process only when it forked.
//
// Returns 0 when every connection opened and stayed open through the hold, 1 otherwise, 2 for a
// usage error.
#pragma once

#include "apps/swbench/options.hpp"

namespace switchboard::swbench {

int run_connections(const options& opt);

}  // namespace switchboard::swbench
