#include "runtime/http/message.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace switchboard::runtime {

std::string_view http_request::header(std::string_view name) const {
  if (!native) return {};
  const auto& msg =
      *static_cast<const boost::beast::http::request<boost::beast::http::string_body>*>(native);
  const auto it = msg.find(boost::beast::string_view(name.data(), name.size()));
  if (it == msg.end()) return {};
  const auto v = it->value();
  return {v.data(), v.size()};
}

http_response http_response::text(unsigned status, std::string body) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  if (!r.body.empty() && r.body.back() != '\n') r.body.push_back('\n');
  return r;
}

std::string_view reason_phrase(unsigned status) noexcept {
  switch (status) {
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 416:
      return "Range Not Satisfiable";
    case 426:
      return "Upgrade Required";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string serialize_head(unsigned status, std::string_view content_type,
                           std::uint64_t content_length, bool keep_alive,
                           const std::vector<std::pair<std::string, std::string>>& extra) {
  std::string head;
  head.reserve(160);
  head.append("HTTP/1.1 ").append(std::to_string(status)).append(" ");
  head.append(reason_phrase(status)).append("\r\nServer: switchboard\r\n");
  if (!content_type.empty()) head.append("Content-Type: ").append(content_type).append("\r\n");
  head.append("Content-Length: ").append(std::to_string(content_length)).append("\r\n");
  if (!keep_alive) head.append("Connection: close\r\n");
  for (const auto& [name, value] : extra)
    head.append(name).append(": ").append(value).append("\r\n");
  head.append("\r\n");
  return head;
}

}  // namespace switchboard::runtime
