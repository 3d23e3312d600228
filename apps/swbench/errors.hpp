// errors.hpp: how every swbench mode counts what went wrong: connections that failed to open or
// were ended by the server, protocol violations, the server's own error answers, and the first
// of them in words (the report prints it, so a failed run says why without a debugger).
//
// One per worker thread (no locking), merged at the end. A mode with its own kinds of error
// (a wrong echo, a lost delivery) derives from it and adds them.
#pragma once

#include "apps/swbench/client_loop.hpp"

#include <cstdint>
#include <string>

namespace switchboard::swbench {

struct conn_errors {
  std::uint64_t connect_failed = 0;    // socket(), bind() or connect() failed
  std::uint64_t handshake_failed = 0;  // bad or refused upgrade response
  std::uint64_t protocol_error = 0;    // the server broke RFC 6455
  std::uint64_t closed = 0;            // closed or reset by the server mid-run
  std::uint64_t server_error = 0;      // an error answer of the protocol (sgc "error", ...)
  std::string first;                   // the first error, described

  std::uint64_t total() const {
    return connect_failed + handshake_failed + protocol_error + closed + server_error;
  }
  void merge(const conn_errors& o);
  // Keeps `what` if it is the first error.
  void note(const std::string& what) {
    if (first.empty()) first = what;
  }
  // Counts a connection's end by `cause` (nothing for `local`, our own close) and describes it.
  void closed_by(const connection& c, close_cause cause, ws_errc detail);
  // "connect 1, handshake 0, ..." for the report.
  std::string breakdown() const;
};

// A server message quoted for an error text: at most 120 bytes.
std::string quote(const std::uint8_t* data, std::size_t size);

}  // namespace switchboard::swbench
