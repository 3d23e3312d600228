// net.hpp: the socket-level helpers swbench's modes share: target and source address parsing,
// non-blocking connects from a chosen source address, and the file descriptor limit.
//
// Source addresses: Linux picks a client port per (source, destination) pair from
// ip_local_port_range (about 28k ports), so one source address reaches at most ~28k
// connections to one server port. Binding each socket to one of several 127.0.0.x addresses
// before connect() lifts that limit (as uWebSockets' scale_test.c does); IP_BIND_ADDRESS_NO_PORT
// defers the port choice to connect(), where the kernel checks the whole 4-tuple.
#pragma once

#include "apps/swbench/options.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace switchboard::swbench {

// Parses ws://HOST:PORT/PATH or wss://... (HOST an IPv4 literal or "localhost"; PATH defaults
// to "/"; PORT to 80 or 443).
// Returns an empty string on success, otherwise what is wrong.
std::string parse_ws_url(const std::string& url, ws_target& out);

// Parses "A.B.C.D" or an inclusive range "A.B.C.D-A.B.C.E" (at most 65536 addresses) into host
// byte order addresses. Returns an empty string on success, otherwise what is wrong.
std::string parse_ip_range(const std::string& text, std::vector<std::uint32_t>& out);

// Opens a non-blocking TCP socket with TCP_NODELAY, binds it to `source_ip` (host order; 0 lets
// the kernel choose) and starts connecting to `dst`. Returns the descriptor, or -errno.
int start_connect(const sockaddr_in& dst, std::uint32_t source_ip);

// Raises RLIMIT_NOFILE (soft, and hard when allowed) to at least `wanted` descriptors. Returns
// the soft limit in force afterwards.
std::uint64_t raise_fd_limit(std::uint64_t wanted);

// Raises the limit for `sockets` connections and a few descriptors more. False, with the
// reason on stderr, when it cannot go that far (one process is not enough).
bool enough_fds(std::uint64_t sockets);

}  // namespace switchboard::swbench
