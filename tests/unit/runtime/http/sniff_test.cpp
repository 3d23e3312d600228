// Tests for runtime/http/sniff.hpp and the shared-frame helper plain TCP uses.
#include "runtime/http/sniff.hpp"
#include "runtime/websocket/frame.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <string>
#include <string_view>

namespace rt = switchboard::runtime;
namespace ws = switchboard::runtime::websocket;

namespace {
rt::sniff_result sniff(std::string_view s) {
  return rt::sniff(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}
}  // namespace

BOOST_AUTO_TEST_SUITE(http_sniff)

BOOST_AUTO_TEST_CASE(request_lines_are_http) {
  for (const char* line :
       {"GET / HTTP/1.1\r\n", "POST /x", "HEAD ", "OPTIONS * HTTP/1.1", "PATCH /a", "DELETE /b",
        "PUT /c", "TRACE /", "CONNECT a:1 HTTP/1.1", "PRI * HTTP/2.0"})
    BOOST_TEST((sniff(line) == rt::sniff_result::http), line);
}

BOOST_AUTO_TEST_CASE(prefixes_wait_for_more) {
  for (const char* part : {"", "G", "GE", "GET", "C", "CONN", "CONNECT", "OPTION"})
    BOOST_TEST((sniff(part) == rt::sniff_result::need_more), part);
}

BOOST_AUTO_TEST_CASE(everything_else_is_plain_tcp) {
  using namespace std::string_literals;
  for (const std::string& data :
       {"CONNECT\naccept-version:1.2\n"s, "hello\n"s, "get / HTTP/1.1"s, "GETX /"s,
        "\x10\x0c\x00\x04MQTT"s, "HELLO WORLD"s, " GET /"s, "GET\t/"s})
    BOOST_TEST((sniff(data) == rt::sniff_result::plain_tcp), data);
}

BOOST_AUTO_TEST_CASE(shared_frame_payload) {
  for (std::size_t size : {0u, 1u, 125u, 126u, 65535u, 65536u}) {
    const std::string payload(size, 'p');
    std::string frame;
    ws::append_frame(frame, ws::opcode::binary, payload);
    BOOST_TEST(ws::unmasked_frame_payload(frame) == payload);
    BOOST_TEST(ws::unmasked_frame_payload(frame + "x").empty());  // not exactly one frame
    if (!frame.empty()) BOOST_TEST(ws::unmasked_frame_payload(frame.substr(0, 1)).empty());
  }
  std::string masked;
  const std::array<std::uint8_t, 4> key{1, 2, 3, 4};
  ws::append_frame(masked, ws::opcode::text, "abc", true, &key);
  BOOST_TEST(ws::unmasked_frame_payload(masked).empty());
}

BOOST_AUTO_TEST_SUITE_END()
