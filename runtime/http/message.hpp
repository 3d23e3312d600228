// message.hpp: the HTTP request and response that route handlers see.
//
// A request is a set of views into the parsed message (Beast's parser owns the storage); it is
// valid only during the handler call. A response is plain data the handler fills in; the
// connection serializes it, adds Content-Length, Date-free fixed headers and keep-alive.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::runtime {

struct http_request {
  std::string_view method;  // "GET", "POST", ...
  std::string_view target;  // as sent: "/path?query"
  std::string_view path;    // target before '?', not percent-decoded
  std::string_view query;   // after '?', or empty
  unsigned version = 11;    // HTTP version times ten
  std::string_view body;
  boost::asio::ip::tcp::endpoint remote;

  // The first value of a header (case-insensitive name), or empty.
  std::string_view header(std::string_view name) const;

  // Internal: the parsed message the views point into.
  const void* native = nullptr;
};

struct http_response {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  static http_response text(unsigned status, std::string body);
};

// A route handler: fills `response` and returns true, or returns false to let the next route
// (and finally the static files, then 404) answer. Runs on the connection's io thread: it
// must not block.
using http_handler = std::function<bool(const http_request&, http_response&)>;

// The reason phrase of a status code ("Not Found").
std::string_view reason_phrase(unsigned status) noexcept;

// Serializes a status line and headers (with Content-Length: `content_length`, and
// Connection: close when !keep_alive), ending with the blank line.
std::string serialize_head(unsigned status, std::string_view content_type,
                           std::uint64_t content_length, bool keep_alive,
                           const std::vector<std::pair<std::string, std::string>>& extra = {});

}  // namespace switchboard::runtime
