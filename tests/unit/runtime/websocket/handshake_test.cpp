// handshake_test.cpp: tests of runtime/websocket/handshake.hpp, the server's opening handshake
// checks (RFC 6455 section 4.2.1), the accept key (4.2.2) and the header list helpers
// (RFC 7230 section 7, the #rule).
//
// Each rule of 4.2.1 is broken once on an otherwise valid request, the RFC's own example
// request (section 1.2) and accept key (section 1.3) are checked byte for byte, and each
// handshake_errc is checked against the HTTP status it maps to.
#include "runtime/websocket/handshake.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace ws = switchboard::runtime::websocket;
using ws::handshake_errc;

namespace {

// The client request of RFC 6455 section 1.2.
ws::handshake_request rfc_request() {
  ws::handshake_request r;
  r.method = "GET";
  r.version = 11;
  r.host = "server.example.com";
  r.upgrade = "websocket";
  r.connection = "Upgrade";
  r.key = "dGhlIHNhbXBsZSBub25jZQ==";
  r.origin = "http://example.com";
  r.protocols = "chat, superchat";
  r.websocket_version = "13";
  return r;
}

std::vector<std::string> strings(const std::vector<std::string_view>& views) {
  return {views.begin(), views.end()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(websocket_handshake)

BOOST_AUTO_TEST_CASE(accept_key_example_rfc6455_1_3) {
  BOOST_TEST(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // Header values arrive with optional whitespace around them (RFC 7230 section 3.2).
  BOOST_TEST(ws::accept_key(" dGhlIHNhbXBsZSBub25jZQ==\t") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // Base64 of a 20-byte SHA-1: 28 characters ending in one '='.
  const std::string other = ws::accept_key("AQIDBAUGBwgJCgsMDQ4PEA==");
  BOOST_TEST(other.size() == 28u);
  BOOST_TEST(other.back() == '=');
  BOOST_TEST(other != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

BOOST_AUTO_TEST_CASE(example_request_is_accepted_rfc6455_1_2) {
  const ws::handshake_request r = rfc_request();
  BOOST_TEST(!ws::check_request(r));
  BOOST_TEST(ws::is_upgrade(r));
  BOOST_TEST(strings(ws::split_list(r.protocols)) ==
             (std::vector<std::string>{"chat", "superchat"}));
}

BOOST_AUTO_TEST_CASE(method_must_be_get_rfc6455_4_2_1_item_1) {
  for (const char* method : {"POST", "HEAD", "PUT", "get", "GET ", ""}) {
    BOOST_TEST_CONTEXT("method '" << method << "'") {
      ws::handshake_request r = rfc_request();
      r.method = method;  // methods are case-sensitive (RFC 7230 section 3.1.1)
      BOOST_TEST(ws::check_request(r) == handshake_errc::not_get);
    }
  }
  BOOST_TEST(ws::status_for(handshake_errc::not_get) == 400u);
}

BOOST_AUTO_TEST_CASE(http_version_at_least_1_1_rfc6455_4_2_1_item_1) {
  ws::handshake_request r = rfc_request();
  r.version = 10;
  BOOST_TEST(ws::check_request(r) == handshake_errc::bad_http_version);
  r.version = 9;
  BOOST_TEST(ws::check_request(r) == handshake_errc::bad_http_version);
  r.version = 20;  // "HTTP/1.1 or higher"
  BOOST_TEST(!ws::check_request(r));
  BOOST_TEST(ws::status_for(handshake_errc::bad_http_version) == 400u);
}

BOOST_AUTO_TEST_CASE(missing_host_rfc6455_4_2_1_item_2) {
  ws::handshake_request r = rfc_request();
  r.host = "";
  BOOST_TEST(ws::check_request(r) == handshake_errc::missing_host);
  BOOST_TEST(ws::status_for(handshake_errc::missing_host) == 400u);
}

BOOST_AUTO_TEST_CASE(upgrade_must_contain_websocket_rfc6455_4_2_1_item_3) {
  for (const char* upgrade : {"", "h2c", "websockets", "web socket", "websocket/13x"}) {
    BOOST_TEST_CONTEXT("Upgrade: " << upgrade) {
      ws::handshake_request r = rfc_request();
      r.upgrade = upgrade;
      BOOST_TEST(ws::check_request(r) == handshake_errc::no_upgrade);
      BOOST_TEST(!ws::is_upgrade(r));
    }
  }
  // "an |Upgrade| header field containing the value "websocket", treated as an ASCII
  // case-insensitive value", also as one element of a list.
  for (const char* upgrade : {"WebSocket", "WEBSOCKET", "h2c, websocket", " websocket ,foo"}) {
    BOOST_TEST_CONTEXT("Upgrade: " << upgrade) {
      ws::handshake_request r = rfc_request();
      r.upgrade = upgrade;
      BOOST_TEST(!ws::check_request(r));
      BOOST_TEST(ws::is_upgrade(r));
    }
  }
  BOOST_TEST(ws::status_for(handshake_errc::no_upgrade) == 400u);
}

BOOST_AUTO_TEST_CASE(connection_must_contain_upgrade_rfc6455_4_2_1_item_4) {
  for (const char* connection :
       {"", "keep-alive", "close", "upgrade-insecure", "keep-alive upgrade"}) {
    BOOST_TEST_CONTEXT("Connection: " << connection) {
      ws::handshake_request r = rfc_request();
      r.connection = connection;
      BOOST_TEST(ws::check_request(r) == handshake_errc::no_connection_upgrade);
    }
  }
  // Firefox sends "keep-alive, Upgrade".
  for (const char* connection :
       {"upgrade", "UPGRADE", "keep-alive, Upgrade", "Upgrade,keep-alive"}) {
    BOOST_TEST_CONTEXT("Connection: " << connection) {
      ws::handshake_request r = rfc_request();
      r.connection = connection;
      BOOST_TEST(!ws::check_request(r));
    }
  }
  BOOST_TEST(ws::status_for(handshake_errc::no_connection_upgrade) == 400u);
}

BOOST_AUTO_TEST_CASE(key_is_base64_of_16_bytes_rfc6455_4_2_1_item_5) {
  const char* const bad[] = {
      "",                           // missing
      "dGhlIHNhbXBsZSBub25jZQ=",    // 23 characters
      "dGhlIHNhbXBsZSBub25jZQ===",  // 25 characters
      "dGhlIHNhbXBsZSBub25jZQAA",   // no padding: 18 bytes
      "dGhlIHNhbXBsZSBub25j====",   // 15 bytes
      "dGhlIHNhbXBsZSBub25jZ*==",   // not in the alphabet
      "dGhlIHNhbXBsZSBub25jZ-==",   // base64url, not base64
      "dGhlIHNhbXBsZSBub25jZR==",   // 'R': padding bits of the last character set
      "dGhlIHNhbXBsZSBub25jZ/==",   // '/': likewise
      "dGhlIHNhbXBsZSB ub25jZQ==",  // space inside
  };
  for (const char* key : bad) {
    BOOST_TEST_CONTEXT("key '" << key << "'") {
      ws::handshake_request r = rfc_request();
      r.key = key;
      BOOST_TEST(ws::check_request(r) == handshake_errc::bad_key);
    }
  }
  // The four characters whose low four bits are zero may end the data: A, Q, g, w.
  for (const char* key :
       {"AAAAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAAAQ==", "/+/+/+/+/+/+/+/+/+/+/g==",
        "zzzzzzzzzzzzzzzzzzzzzw==", " dGhlIHNhbXBsZSBub25jZQ== "}) {
    BOOST_TEST_CONTEXT("key '" << key << "'") {
      ws::handshake_request r = rfc_request();
      r.key = key;
      BOOST_TEST(!ws::check_request(r));
    }
  }
  BOOST_TEST(ws::status_for(handshake_errc::bad_key) == 400u);
}

BOOST_AUTO_TEST_CASE(key_appears_once_rfc6455_11_3_1) {
  // "The |Sec-WebSocket-Key| header field MUST NOT appear more than once in an HTTP request."
  ws::handshake_request r = rfc_request();
  r.key_count = 2;
  BOOST_TEST(ws::check_request(r) == handshake_errc::bad_key);
  r.key_count = 0;  // no field at all, and so no key
  r.key = "";
  BOOST_TEST(ws::check_request(r) == handshake_errc::bad_key);
}

BOOST_AUTO_TEST_CASE(version_must_be_13_rfc6455_4_4) {
  for (const char* version : {"", "8", "12", "14", "13, 8", "013"}) {
    BOOST_TEST_CONTEXT("Sec-WebSocket-Version: " << version) {
      ws::handshake_request r = rfc_request();
      r.websocket_version = version;
      BOOST_TEST(ws::check_request(r) == handshake_errc::unsupported_version);
    }
  }
  ws::handshake_request r = rfc_request();
  r.websocket_version = " 13 ";
  BOOST_TEST(!ws::check_request(r));
  // Section 4.4: answer with 426 and the versions the server speaks.
  BOOST_TEST(ws::status_for(handshake_errc::unsupported_version) == 426u);
}

BOOST_AUTO_TEST_CASE(draft_hixie76_is_refused_rfc6455_4_2_1) {
  ws::handshake_request r = rfc_request();
  r.key = "";
  r.has_hixie_keys = true;
  BOOST_TEST(ws::check_request(r) == handshake_errc::draft_hixie76);
  BOOST_TEST(ws::status_for(handshake_errc::draft_hixie76) == 400u);
  // Key1/Key2 beside a proper key do not matter.
  r = rfc_request();
  r.has_hixie_keys = true;
  BOOST_TEST(!ws::check_request(r));
}

BOOST_AUTO_TEST_CASE(origin_allow_list_rfc6455_4_2_2_item_4) {
  const std::vector<std::string> allowed = {"https://app.example.com", "http://example.com"};
  ws::handshake_request r = rfc_request();
  BOOST_TEST(!ws::check_request(r, allowed));
  r.origin = "HTTP://EXAMPLE.COM";  // compared case-insensitively
  BOOST_TEST(!ws::check_request(r, allowed));
  r.origin = "http://evil.example.com";
  BOOST_TEST(ws::check_request(r, allowed) == handshake_errc::origin_not_allowed);
  r.origin = "";  // no Origin (a non-browser client) with an allow list
  BOOST_TEST(ws::check_request(r, allowed) == handshake_errc::origin_not_allowed);
  BOOST_TEST(!ws::check_request(r));  // no list: any origin
  BOOST_TEST(ws::status_for(handshake_errc::origin_not_allowed) == 403u);
}

BOOST_AUTO_TEST_CASE(rules_are_checked_in_order_rfc6455_4_2_1) {
  // An empty request breaks every rule; the first one is named.
  BOOST_TEST(ws::check_request(ws::handshake_request{}) == handshake_errc::not_get);
  ws::handshake_request r;
  r.method = "GET";
  BOOST_TEST(ws::check_request(r) == handshake_errc::missing_host);
}

BOOST_AUTO_TEST_CASE(error_category_names_each_code) {
  for (int e = static_cast<int>(handshake_errc::not_get);
       e <= static_cast<int>(handshake_errc::origin_not_allowed); ++e) {
    const std::error_code ec = static_cast<handshake_errc>(e);
    BOOST_TEST(ec.category().name() == std::string("websocket.handshake"));
    BOOST_TEST(ec.message() != "unknown handshake error");
  }
}

BOOST_AUTO_TEST_CASE(split_list_rfc7230_7) {
  using v = std::vector<std::string>;
  BOOST_TEST(strings(ws::split_list("")) == v{});
  BOOST_TEST(strings(ws::split_list("chat")) == v{"chat"});
  BOOST_TEST(strings(ws::split_list("chat, superchat")) == (v{"chat", "superchat"}));
  // "a recipient MUST accept ... empty list elements" and optional whitespace.
  BOOST_TEST(strings(ws::split_list(" a ,, b\t,  ,")) == (v{"a", "b"}));
  BOOST_TEST(strings(ws::split_list(",,,")) == v{});
  BOOST_TEST(strings(ws::split_list(" \t ")) == v{});
  BOOST_TEST(strings(ws::split_list("permessage-deflate; client_max_window_bits, x-webkit")) ==
             (v{"permessage-deflate; client_max_window_bits", "x-webkit"}));
}

BOOST_AUTO_TEST_CASE(list_contains_is_token_exact_rfc7230_7) {
  BOOST_TEST(ws::list_contains("keep-alive, Upgrade", "upgrade"));
  BOOST_TEST(ws::list_contains("Upgrade", "upgrade"));
  BOOST_TEST(ws::list_contains(" upgrade ", "upgrade"));
  BOOST_TEST(!ws::list_contains("upgrades", "upgrade"));
  BOOST_TEST(!ws::list_contains("keep-alive upgrade", "upgrade"));
  BOOST_TEST(!ws::list_contains("", "upgrade"));
  BOOST_TEST(ws::list_contains("a,,upgrade", "upgrade"));
}

BOOST_AUTO_TEST_CASE(iequals_is_ascii_only) {
  BOOST_TEST(ws::iequals("WebSocket", "websocket"));
  BOOST_TEST(ws::iequals("", ""));
  BOOST_TEST(!ws::iequals("websocket", "websockets"));
  BOOST_TEST(!ws::iequals("[", "{"));        // 0x5B and 0x7B differ by 0x20 but are not letters
  BOOST_TEST(!ws::iequals("\xC9", "\xE9"));  // Latin-1 E-acute: not ASCII, not folded
}

BOOST_AUTO_TEST_SUITE_END()
