// proxy_test.cpp: tests of runtime/proxy.hpp, the client side of the HTTP CONNECT (RFC 9110
// section 9.3.6) and SOCKS5 (RFC 1928, RFC 1929) proxy handshakes.
//
// Requests are compared byte for byte. Every reply is fed whole, one byte at a time and split
// at every point (STYLE.md item 10), with the same outcome; every proper prefix gives
// need_more; the bytes after the handshake stay with the caller. Each errc is produced once by
// the input that breaks its rule, and the limits are tested at the limit and one past it.
#include "runtime/proxy.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace proxy = switchboard::runtime::proxy;
using proxy::errc;

namespace {

std::string bytes(std::initializer_list<int> list) {
  std::string out;
  for (const int b : list)
    out += static_cast<char>(b);
  return out;
}

// ---- HTTP helpers -------------------------------------------------------------------------

struct http_outcome {
  proxy::http_connect_result::kind_type kind = proxy::http_connect_result::need_more;
  unsigned status = 0;
  std::string reason;
  std::error_code error_code;
  std::size_t used = 0;  // bytes of the whole input consumed up to the outcome
};

// Feeds `input` in pieces cut at `cuts` (ascending offsets) and stops at done or error.
http_outcome run_http(std::string_view input, const std::vector<std::size_t>& cuts,
                      std::size_t limit = proxy::http_connect_parser::default_max_header_size) {
  proxy::http_connect_parser parser(limit);
  http_outcome out;
  std::size_t from = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(input.size());
  for (const std::size_t to : ends) {
    if (to < from) continue;
    const proxy::http_connect_result r = parser.feed(input.data() + from, to - from);
    BOOST_TEST_REQUIRE(r.consumed <= to - from);
    out.used += r.consumed;
    out.kind = r.kind;
    if (r.kind == proxy::http_connect_result::need_more) {
      BOOST_TEST(r.consumed == to - from);  // need_more absorbs everything
      from = to;
      continue;
    }
    out.status = r.status;
    out.reason = std::string(r.reason);
    out.error_code = r.error_code;
    return out;
  }
  return out;
}

http_outcome http_whole(std::string_view input,
                        std::size_t limit = proxy::http_connect_parser::default_max_header_size) {
  return run_http(input, {}, limit);
}

bool same(const http_outcome& a, const http_outcome& b) {
  return a.kind == b.kind && a.status == b.status && a.reason == b.reason &&
         a.error_code == b.error_code &&
         (a.kind == proxy::http_connect_result::error || a.used == b.used);
}

// Whole, one byte at a time, and cut in two at every point: the same outcome each time.
http_outcome http_every_split(
    std::string_view input,
    std::size_t limit = proxy::http_connect_parser::default_max_header_size) {
  const http_outcome whole = http_whole(input, limit);
  std::vector<std::size_t> each;
  for (std::size_t i = 1; i < input.size(); ++i)
    each.push_back(i);
  BOOST_TEST(same(run_http(input, each, limit), whole));
  for (std::size_t i = 0; i <= input.size(); ++i) {
    BOOST_TEST_CONTEXT("cut at " << i) {
      BOOST_TEST(same(run_http(input, {i}, limit), whole));
    }
  }
  return whole;
}

// ---- SOCKS5 helpers -----------------------------------------------------------------------

struct socks_outcome {
  proxy::socks5_result::kind_type kind = proxy::socks5_result::need_more;
  std::vector<std::string> outputs;  // requests handed back, in order
  std::error_code error_code;
  proxy::socks5_address::type_type bound_type = proxy::socks5_address::ipv4;
  std::string bound_address;
  std::uint16_t bound_port = 0;
  std::size_t used = 0;
};

socks_outcome run_socks(proxy::socks5_client& client, std::string_view input,
                        const std::vector<std::size_t>& cuts) {
  socks_outcome out;
  std::size_t from = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(input.size());
  for (const std::size_t to : ends) {
    if (to < from) continue;
    const proxy::socks5_result r = client.feed(input.data() + from, to - from);
    BOOST_TEST_REQUIRE(r.consumed <= to - from);
    out.used += r.consumed;
    out.kind = r.kind;
    if (r.kind == proxy::socks5_result::need_more) {
      BOOST_TEST(r.consumed == to - from);
      if (!r.output.empty()) out.outputs.emplace_back(r.output);
      from = to;
      continue;
    }
    out.error_code = r.error_code;
    if (r.kind == proxy::socks5_result::done) {
      out.bound_type = r.bound.type;
      out.bound_address = std::string(r.bound.address);
      out.bound_port = r.bound.port;
    }
    return out;
  }
  return out;
}

struct socks_target {
  std::string host = "example.com";
  std::uint16_t port = 443;
  std::string user;
  std::string password;
};

socks_outcome socks_run(const socks_target& t, std::string_view input,
                        const std::vector<std::size_t>& cuts) {
  proxy::socks5_client client(t.host, t.port, t.user, t.password);
  return run_socks(client, input, cuts);
}

bool same(const socks_outcome& a, const socks_outcome& b) {
  return a.kind == b.kind && a.outputs == b.outputs && a.error_code == b.error_code &&
         a.bound_type == b.bound_type && a.bound_address == b.bound_address &&
         a.bound_port == b.bound_port &&
         (a.kind == proxy::socks5_result::error || a.used == b.used);
}

// Each reply of a lock-step exchange fed separately (as the proxy sends them), whole, one
// byte at a time and cut in two at every point. Returns the outcome of the whole feeds.
// `replies` are the proxy's messages; the last may carry tunnel bytes after it.
socks_outcome socks_every_split(const socks_target& t, const std::vector<std::string>& replies) {
  std::string all;
  std::vector<std::size_t> boundaries;
  for (const std::string& r : replies) {
    all += r;
    boundaries.push_back(all.size());
  }
  boundaries.pop_back();
  const socks_outcome whole = socks_run(t, all, boundaries);
  std::vector<std::size_t> each;
  for (std::size_t i = 1; i < all.size(); ++i)
    each.push_back(i);
  BOOST_TEST(same(socks_run(t, all, each), whole));
  for (std::size_t i = 1; i < all.size(); ++i) {
    std::vector<std::size_t> cuts = boundaries;
    cuts.push_back(i);
    std::sort(cuts.begin(), cuts.end());
    BOOST_TEST_CONTEXT("extra cut at " << i) {
      BOOST_TEST(same(socks_run(t, all, cuts), whole));
    }
  }
  return whole;
}

const std::string method_none = bytes({0x05, 0x00});
const std::string method_password = bytes({0x05, 0x02});
const std::string auth_ok = bytes({0x01, 0x00});
// The CONNECT reply with BND.ADDR 192.0.2.1, BND.PORT 1080 (0x0438).
const std::string reply_ipv4 = bytes({0x05, 0x00, 0x00, 0x01, 192, 0, 2, 1, 0x04, 0x38});

std::string connect_request_for_example_com() {
  return bytes({0x05, 0x01, 0x00, 0x03, 11}) + "example.com" + bytes({0x01, 0xBB});
}

}  // namespace

// ---- check_target ---------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(proxy_target)

BOOST_AUTO_TEST_CASE(valid_targets) {
  for (const std::string_view host :
       {"example.com", "a", "xn--bcher-kva.example", "_srv.example.com", "localhost", "192.0.2.1",
        "1.2.3", "010.1.1.1", "::1", "[::1]", "2001:db8::1", "[2001:db8::1]", "::ffff:192.0.2.1",
        "~!$&'()*+,;=-._"}) {
    BOOST_TEST_CONTEXT(host) {
      BOOST_TEST(!proxy::check_target(host, 443));
    }
  }
  BOOST_TEST(!proxy::check_target("x", 1));
  BOOST_TEST(!proxy::check_target("x", 65535));
}

BOOST_AUTO_TEST_CASE(invalid_hosts_rfc3986_3_2_2) {
  for (const std::string_view host :
       std::initializer_list<std::string_view>{"",
                                               "exa mple.com",
                                               "example.com\r\nX-Injected: 1",
                                               "example.com/path",
                                               "user@example.com",
                                               "example.com:443",
                                               "a:b",
                                               "[::1",
                                               "::1]",
                                               "[]",
                                               "[example.com]",
                                               "[192.0.2.1]",
                                               "fe80::1%eth0",
                                               "[fe80::1%25eth0]",
                                               "[v1.fe]",
                                               "exa%41mple.com",
                                               "b\xC3\xBC"
                                               "cher.de",
                                               "tab\there",
                                               std::string_view("nul\0byte", 8),
                                               std::string_view("::1\0", 4),
                                               std::string_view("[::1\0]", 6),
                                               std::string_view("0001:db8::\0", 11),
                                               std::string_view("[::1\0x]", 7),
                                               "1::2::3",
                                               "[[::1]]"}) {
    BOOST_TEST_CONTEXT(host) {
      BOOST_TEST(proxy::check_target(host, 443) == errc::bad_host);
    }
  }
}

BOOST_AUTO_TEST_CASE(host_length_limit_255) {
  BOOST_TEST(!proxy::check_target(std::string(255, 'a'), 80));
  BOOST_TEST(proxy::check_target(std::string(256, 'a'), 80) == errc::host_too_long);
  BOOST_TEST(proxy::check_target(std::string(300, ' '), 80) == errc::host_too_long);
}

BOOST_AUTO_TEST_CASE(port_zero) {
  BOOST_TEST(proxy::check_target("example.com", 0) == errc::bad_port);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- HTTP CONNECT ---------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(proxy_http_connect)

BOOST_AUTO_TEST_CASE(request_without_credentials_rfc9110_9_3_6) {
  BOOST_TEST(proxy::http_connect_request("server.example.com", 80, "", "") ==
             "CONNECT server.example.com:80 HTTP/1.1\r\n"
             "Host: server.example.com:80\r\n"
             "\r\n");
  // A password without a user name sends no credentials.
  BOOST_TEST(proxy::http_connect_request("example.com", 443, "", "secret") ==
             "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(request_with_basic_credentials_rfc7617_2) {
  // The example of RFC 7617 section 2: Aladdin / open sesame.
  BOOST_TEST(proxy::http_connect_request("example.com", 443, "Aladdin", "open sesame") ==
             "CONNECT example.com:443 HTTP/1.1\r\n"
             "Host: example.com:443\r\n"
             "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"
             "\r\n");
  // An empty password still sends "user:".
  BOOST_TEST(proxy::http_connect_request("example.com", 443, "user", "") ==
             "CONNECT example.com:443 HTTP/1.1\r\n"
             "Host: example.com:443\r\n"
             "Proxy-Authorization: Basic dXNlcjo=\r\n"
             "\r\n");
}

BOOST_AUTO_TEST_CASE(request_ip_literals_rfc3986_3_2_2) {
  BOOST_TEST(proxy::http_connect_request("192.0.2.1", 8080, "", "") ==
             "CONNECT 192.0.2.1:8080 HTTP/1.1\r\nHost: 192.0.2.1:8080\r\n\r\n");
  BOOST_TEST(proxy::http_connect_request("2001:db8::1", 443, "", "") ==
             "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n");
  BOOST_TEST(proxy::http_connect_request("[::1]", 443, "", "") ==
             "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(established_200) {
  const std::string response = "HTTP/1.1 200 Connection established\r\n\r\n";
  const http_outcome o = http_every_split(response);
  BOOST_TEST(o.kind == proxy::http_connect_result::done);
  BOOST_TEST(o.status == 200u);
  BOOST_TEST(o.reason == "Connection established");
  BOOST_TEST(o.used == response.size());

  proxy::http_connect_parser parser;
  const proxy::http_connect_result r = parser.feed(response.data(), response.size());
  BOOST_TEST(r.established());
}

BOOST_AUTO_TEST_CASE(every_proper_prefix_needs_more) {
  const std::string response = "HTTP/1.1 200 OK\r\nVia: 1.1 proxy\r\nX-Folded: a\r\n  b\r\n\r\n";
  for (std::size_t n = 0; n < response.size(); ++n) {
    proxy::http_connect_parser parser;
    const proxy::http_connect_result r = parser.feed(response.data(), n);
    BOOST_TEST_CONTEXT("prefix " << n) {
      BOOST_TEST(r.kind == proxy::http_connect_result::need_more);
      BOOST_TEST(r.consumed == n);
    }
  }
}

BOOST_AUTO_TEST_CASE(byte_at_a_time) {
  const std::string response = "HTTP/1.1 200 OK\r\nServer: test\r\n\r\n";
  proxy::http_connect_parser parser;
  for (std::size_t i = 0; i + 1 < response.size(); ++i) {
    const proxy::http_connect_result r = parser.feed(&response[i], 1);
    BOOST_TEST(r.kind == proxy::http_connect_result::need_more);
    BOOST_TEST(r.consumed == 1u);
  }
  const proxy::http_connect_result r = parser.feed(&response.back(), 1);
  BOOST_TEST(r.kind == proxy::http_connect_result::done);
  BOOST_TEST(r.consumed == 1u);
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.reason == "OK");
}

BOOST_AUTO_TEST_CASE(leftover_after_header_block_stays_with_caller) {
  const std::string header = "HTTP/1.1 200 Connection established\r\nProxy-Agent: test/1.0\r\n\r\n";
  const std::string tunnel = bytes({0x81, 0x05}) + "Hello" + "HTTP/1.1 200 OK\r\n\r\n";
  const std::string input = header + tunnel;
  const http_outcome o = http_every_split(input);
  BOOST_TEST(o.kind == proxy::http_connect_result::done);
  BOOST_TEST(o.used == header.size());

  // The last header byte and the tunnel in one read: consumed stops after the header.
  proxy::http_connect_parser parser;
  BOOST_TEST(parser.feed(header.data(), header.size() - 1).consumed == header.size() - 1);
  const std::string last = header.substr(header.size() - 1) + tunnel;
  const proxy::http_connect_result r = parser.feed(last.data(), last.size());
  BOOST_TEST(r.kind == proxy::http_connect_result::done);
  BOOST_TEST(r.consumed == 1u);
  BOOST_TEST(last.substr(r.consumed) == tunnel);
}

BOOST_AUTO_TEST_CASE(refused_407_with_body) {
  const std::string header =
      "HTTP/1.1 407 Proxy Authentication Required\r\n"
      "Proxy-Authenticate: Basic realm=\"proxy\"\r\n"
      "Content-Length: 13\r\n"
      "\r\n";
  const std::string input = header + "Access denied";
  const http_outcome o = http_every_split(input);
  BOOST_TEST(o.kind == proxy::http_connect_result::done);
  BOOST_TEST(o.status == 407u);
  BOOST_TEST(o.reason == "Proxy Authentication Required");
  BOOST_TEST(o.used == header.size());

  proxy::http_connect_parser parser;
  const proxy::http_connect_result r = parser.feed(input.data(), input.size());
  BOOST_TEST(!r.established());
  // The message a dialer composes from it.
  const std::string message =
      "proxy refused: " + std::to_string(r.status) + " " + std::string(r.reason);
  BOOST_TEST(message == "proxy refused: 407 Proxy Authentication Required");
}

BOOST_AUTO_TEST_CASE(other_final_statuses) {
  for (const auto& [response, status] : std::vector<std::pair<std::string, unsigned>>{
           {"HTTP/1.1 403 Forbidden\r\n\r\n", 403},
           {"HTTP/1.1 502 Bad Gateway\r\n\r\n", 502},
           {"HTTP/1.1 204 No Content\r\n\r\n", 204},
           {"HTTP/1.1 599 Whatever\r\n\r\n", 599},
           {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", 101}}) {
    BOOST_TEST_CONTEXT(response) {
      const http_outcome o = http_whole(response);
      BOOST_TEST(o.kind == proxy::http_connect_result::done);
      BOOST_TEST(o.status == status);
      BOOST_TEST(o.used == response.size());
    }
  }
  proxy::http_connect_parser parser;
  const std::string no_content = "HTTP/1.1 204 No Content\r\n\r\n";
  BOOST_TEST(parser.feed(no_content.data(), no_content.size()).established());
}

BOOST_AUTO_TEST_CASE(http_1_0_response) {
  const http_outcome o = http_every_split("HTTP/1.0 200 Connection established\r\n\r\n");
  BOOST_TEST(o.kind == proxy::http_connect_result::done);
  BOOST_TEST(o.status == 200u);
}

BOOST_AUTO_TEST_CASE(bare_lf_line_ends_rfc9112_2_2) {
  const std::string response = "HTTP/1.1 200 OK\nVia: proxy\n\nrest";
  const http_outcome o = http_every_split(response);
  BOOST_TEST(o.kind == proxy::http_connect_result::done);
  BOOST_TEST(o.status == 200u);
  BOOST_TEST(o.reason == "OK");
  BOOST_TEST(o.used == response.size() - 4);
}

BOOST_AUTO_TEST_CASE(empty_reason_phrase_rfc9112_4) {
  for (const std::string response : {"HTTP/1.1 200 \r\n\r\n", "HTTP/1.1 200\r\n\r\n"}) {
    BOOST_TEST_CONTEXT(response) {
      const http_outcome o = http_every_split(response);
      BOOST_TEST(o.kind == proxy::http_connect_result::done);
      BOOST_TEST(o.status == 200u);
      BOOST_TEST(o.reason.empty());
      BOOST_TEST(o.used == response.size());
    }
  }
}

BOOST_AUTO_TEST_CASE(reason_phrase_characters) {
  // HTAB, SP, VCHAR and obs-text are allowed and kept as sent.
  const std::string response = "HTTP/1.1 200 Tunnel\tready \xE2\x9C\x93 \r\n\r\n";
  const http_outcome o = http_every_split(response);
  BOOST_TEST(o.kind == proxy::http_connect_result::done);
  BOOST_TEST(o.reason == "Tunnel\tready \xE2\x9C\x93 ");
}

BOOST_AUTO_TEST_CASE(interim_1xx_responses_are_skipped_rfc9110_15_2) {
  const std::string response =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 102 Processing\r\nX: y\r\n\r\n"
      "HTTP/1.1 200 Connection established\r\n\r\n";
  const http_outcome o = http_every_split(response + "tail");
  BOOST_TEST(o.kind == proxy::http_connect_result::done);
  BOOST_TEST(o.status == 200u);
  BOOST_TEST(o.reason == "Connection established");
  BOOST_TEST(o.used == response.size());
}

BOOST_AUTO_TEST_CASE(obs_fold_continues_a_field_rfc9112_5_2) {
  const http_outcome o =
      http_every_split("HTTP/1.1 200 OK\r\nX-Long: part one\r\n\tpart two\r\n  three\r\n\r\n");
  BOOST_TEST(o.kind == proxy::http_connect_result::done);
  BOOST_TEST(o.status == 200u);
}

BOOST_AUTO_TEST_CASE(field_values_may_be_empty_or_contain_colons) {
  const http_outcome o = http_every_split(
      "HTTP/1.1 200 OK\r\nEmpty:\r\nX-Url: http://a:b/c\r\n!#$%&'*+-.^_`|~:x\r\n\r\n");
  BOOST_TEST(o.kind == proxy::http_connect_result::done);
}

BOOST_AUTO_TEST_CASE(bad_status_lines_rfc9112_4) {
  for (const std::string_view response : {
           "HTTP/2 200 OK\r\n\r\n",
           "HTTP/2.0 200 OK\r\n\r\n",
           "http/1.1 200 OK\r\n\r\n",
           "HTTP/1.x 200 OK\r\n\r\n",
           "HTTP/1.1  200 OK\r\n\r\n",
           "HTTP/1.1 20 OK\r\n\r\n",
           "HTTP/1.1 2000 OK\r\n\r\n",
           "HTTP/1.1 099 Low\r\n\r\n",
           "HTTP/1.1 600 High\r\n\r\n",
           "HTTP/1.1 2x0 OK\r\n\r\n",
           "HTTP/1.1 200 OK\rX\r\n\r\n",
           "HTTP/1.1 200 O\x01K\r\n\r\n",
           "HTTP/1.1 200 O\x7FK\r\n\r\n",
           "HTTP/1.1\t200 OK\r\n\r\n",
           "SSH-2.0-OpenSSH_9.2\r\n",
           "\r\nHTTP/1.1 200 OK\r\n\r\n",
           "HTTP/1.1 100 Continue\r\n\r\nGarbage\r\n\r\n",
       }) {
    BOOST_TEST_CONTEXT(response) {
      const http_outcome o = http_every_split(response);
      BOOST_TEST(o.kind == proxy::http_connect_result::error);
      BOOST_TEST(o.error_code == errc::http_bad_status_line);
    }
  }
  const std::string nul = std::string("HTTP/1.1 200 O") + '\0' + "K\r\n\r\n";
  BOOST_TEST(http_whole(nul).error_code == errc::http_bad_status_line);
}

BOOST_AUTO_TEST_CASE(bad_field_lines_rfc9112_5) {
  for (const std::string_view response : {
           "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
           "HTTP/1.1 200 OK\r\nName : space before colon\r\n\r\n",
           "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
           "HTTP/1.1 200 OK\r\nBad\"Name: x\r\n\r\n",
           "HTTP/1.1 200 OK\r\nX: a\x01z\r\n\r\n",
           "HTTP/1.1 200 OK\r\nX: a\x7Fz\r\n\r\n",
           "HTTP/1.1 200 OK\r\nX: a\rz\r\n\r\n",
           "HTTP/1.1 200 OK\r\n folded first\r\n\r\n",
           "HTTP/1.1 200 OK\r\nX: y\r\n\rX",
           "HTTP/1.1 200 OK\r\nNoValue\r\n\r\n",
       }) {
    BOOST_TEST_CONTEXT(response) {
      const http_outcome o = http_every_split(response);
      BOOST_TEST(o.kind == proxy::http_connect_result::error);
      BOOST_TEST(o.error_code == errc::http_bad_field);
    }
  }
}

BOOST_AUTO_TEST_CASE(header_limit_at_and_past) {
  const std::string head = "HTTP/1.1 200 OK\r\nX: ";
  const std::string tail = "\r\n\r\n";
  // Exactly the default 16 KiB: accepted; one byte more: refused.
  const std::size_t limit = proxy::http_connect_parser::default_max_header_size;
  const std::string at = head + std::string(limit - head.size() - tail.size(), 'a') + tail;
  BOOST_TEST_REQUIRE(at.size() == limit);
  const http_outcome ok = http_whole(at + "tunnel");
  BOOST_TEST(ok.kind == proxy::http_connect_result::done);
  BOOST_TEST(ok.used == limit);
  const std::string past = head + std::string(limit - head.size() - tail.size() + 1, 'a') + tail;
  const http_outcome too_big = http_whole(past);
  BOOST_TEST(too_big.kind == proxy::http_connect_result::error);
  BOOST_TEST(too_big.error_code == errc::http_header_too_large);

  // A small configured limit, split every way.
  const std::string small = "HTTP/1.1 200 OK\r\n\r\n";  // 19 bytes
  BOOST_TEST(http_every_split(small, small.size()).kind == proxy::http_connect_result::done);
  BOOST_TEST(http_every_split(small, small.size() - 1).error_code == errc::http_header_too_large);

  // An endless status line or field is cut off at the limit, not buffered.
  proxy::http_connect_parser parser(64);
  const std::string endless = "HTTP/1.1 200 " + std::string(1000, 'x');
  const proxy::http_connect_result r = parser.feed(endless.data(), endless.size());
  BOOST_TEST(r.kind == proxy::http_connect_result::error);
  BOOST_TEST(r.error_code == errc::http_header_too_large);
  BOOST_TEST(r.consumed == 64u);
}

BOOST_AUTO_TEST_CASE(interim_responses_count_against_the_limit) {
  std::string flood;
  while (flood.size() < 200)
    flood += "HTTP/1.1 100 Continue\r\n\r\n";
  const http_outcome o = http_whole(flood + "HTTP/1.1 200 OK\r\n\r\n", 200);
  BOOST_TEST(o.error_code == errc::http_header_too_large);
}

BOOST_AUTO_TEST_CASE(outcome_repeats_after_done_and_error) {
  proxy::http_connect_parser parser;
  const std::string response = "HTTP/1.1 200 OK\r\n\r\nmore";
  const proxy::http_connect_result first = parser.feed(response.data(), response.size());
  BOOST_TEST(first.kind == proxy::http_connect_result::done);
  BOOST_TEST(first.consumed == response.size() - 4);
  const proxy::http_connect_result again = parser.feed("more", 4);
  BOOST_TEST(again.kind == proxy::http_connect_result::done);
  BOOST_TEST(again.consumed == 0u);
  BOOST_TEST(again.status == 200u);
  BOOST_TEST(again.reason == "OK");

  proxy::http_connect_parser bad;
  BOOST_TEST(bad.feed("XTTP", 4).kind == proxy::http_connect_result::error);
  const proxy::http_connect_result still = bad.feed("HTTP/1.1 200 OK\r\n\r\n", 19);
  BOOST_TEST(still.kind == proxy::http_connect_result::error);
  BOOST_TEST(still.error_code == errc::http_bad_status_line);
  BOOST_TEST(still.consumed == 0u);

  // reset() starts over.
  bad.reset();
  BOOST_TEST(bad.feed("HTTP/1.1 200 OK\r\n\r\n", 19).kind == proxy::http_connect_result::done);
}

BOOST_AUTO_TEST_CASE(empty_feed_needs_more) {
  proxy::http_connect_parser parser;
  const proxy::http_connect_result r = parser.feed(nullptr, 0);
  BOOST_TEST(r.kind == proxy::http_connect_result::need_more);
  BOOST_TEST(r.consumed == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- SOCKS5 ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(proxy_socks5)

BOOST_AUTO_TEST_CASE(greeting_rfc1928_3) {
  BOOST_TEST(proxy::socks5_client("example.com", 443).greeting() == bytes({0x05, 0x01, 0x00}));
  BOOST_TEST(proxy::socks5_client("example.com", 443, "user", "pass").greeting() ==
             bytes({0x05, 0x02, 0x00, 0x02}));
  // A password alone offers no authentication.
  BOOST_TEST(proxy::socks5_client("example.com", 443, "", "pass").greeting() ==
             bytes({0x05, 0x01, 0x00}));
}

BOOST_AUTO_TEST_CASE(no_auth_domain_name_rfc1928_4_5) {
  const socks_outcome o = socks_every_split({}, {method_none, reply_ipv4});
  BOOST_TEST(o.kind == proxy::socks5_result::done);
  BOOST_TEST_REQUIRE(o.outputs.size() == 1u);
  BOOST_TEST(o.outputs[0] == connect_request_for_example_com());
  BOOST_TEST(o.bound_type == proxy::socks5_address::ipv4);
  BOOST_TEST(o.bound_address == bytes({192, 0, 2, 1}));
  BOOST_TEST(o.bound_port == 1080u);
  BOOST_TEST(o.used == method_none.size() + reply_ipv4.size());
}

BOOST_AUTO_TEST_CASE(username_password_rfc1929_2) {
  socks_target t;
  t.user = "alice";
  t.password = "s3cret";
  const socks_outcome o = socks_every_split(t, {method_password, auth_ok, reply_ipv4});
  BOOST_TEST(o.kind == proxy::socks5_result::done);
  BOOST_TEST_REQUIRE(o.outputs.size() == 2u);
  BOOST_TEST(o.outputs[0] == bytes({0x01, 5}) + "alice" + bytes({6}) + "s3cret");
  BOOST_TEST(o.outputs[1] == connect_request_for_example_com());
}

BOOST_AUTO_TEST_CASE(credentials_offered_but_no_auth_chosen) {
  socks_target t;
  t.user = "alice";
  t.password = "s3cret";
  const socks_outcome o = socks_every_split(t, {method_none, reply_ipv4});
  BOOST_TEST(o.kind == proxy::socks5_result::done);
  BOOST_TEST_REQUIRE(o.outputs.size() == 1u);
  BOOST_TEST(o.outputs[0] == connect_request_for_example_com());
}

BOOST_AUTO_TEST_CASE(credential_lengths_255_and_empty_password) {
  socks_target t;
  t.user = std::string(255, 'u');
  t.password = std::string(255, 'p');
  socks_outcome o = socks_every_split(t, {method_password, auth_ok, reply_ipv4});
  BOOST_TEST(o.kind == proxy::socks5_result::done);
  BOOST_TEST_REQUIRE(o.outputs.size() == 2u);
  BOOST_TEST(o.outputs[0] == bytes({0x01, 255}) + t.user + bytes({255}) + t.password);

  t.user = "u";
  t.password = "";
  o = socks_every_split(t, {method_password, auth_ok, reply_ipv4});
  BOOST_TEST(o.kind == proxy::socks5_result::done);
  BOOST_TEST_REQUIRE(!o.outputs.empty());
  BOOST_TEST(o.outputs[0] == bytes({0x01, 1, 'u', 0}));
}

BOOST_AUTO_TEST_CASE(request_address_types_rfc1928_5) {
  const std::pair<std::string, std::string> cases[] = {
      {"192.0.2.1", bytes({0x05, 0x01, 0x00, 0x01, 192, 0, 2, 1, 0x1F, 0x90})},
      {"2001:db8::1", bytes({0x05, 0x01, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0,    0,
                             0,    0,    0,    0,    0,    0,    0,    0,    1, 0x1F, 0x90})},
      {"[::1]",
       bytes({0x05, 0x01, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1F, 0x90})},
      {"1.2.3", bytes({0x05, 0x01, 0x00, 0x03, 5, '1', '.', '2', '.', '3', 0x1F, 0x90})},
  };
  for (const auto& [host, request] : cases) {
    BOOST_TEST_CONTEXT(host) {
      socks_target t;
      t.host = host;
      t.port = 8080;
      const socks_outcome o = socks_run(t, method_none, {});
      BOOST_TEST(o.kind == proxy::socks5_result::need_more);
      BOOST_TEST_REQUIRE(o.outputs.size() == 1u);
      BOOST_TEST(o.outputs[0] == request);
    }
  }
}

BOOST_AUTO_TEST_CASE(hostname_of_255_bytes) {
  socks_target t;
  t.host = std::string(255, 'h');
  t.port = 1;
  const socks_outcome o = socks_run(t, method_none, {});
  BOOST_TEST_REQUIRE(o.outputs.size() == 1u);
  BOOST_TEST(o.outputs[0] == bytes({0x05, 0x01, 0x00, 0x03, 255}) + t.host + bytes({0x00, 0x01}));
}

BOOST_AUTO_TEST_CASE(bound_address_types_rfc1928_6) {
  const std::string ipv6 = bytes({0x05, 0x00, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0,    0,
                                  0,    0,    0,    0,    0,    0,    0,    0,    7, 0xC0, 0x01});
  socks_outcome o = socks_every_split({}, {method_none, ipv6});
  BOOST_TEST(o.kind == proxy::socks5_result::done);
  BOOST_TEST(o.bound_type == proxy::socks5_address::ipv6);
  BOOST_TEST(o.bound_address == ipv6.substr(4, 16));
  BOOST_TEST(o.bound_port == 0xC001u);
  BOOST_TEST(o.used == method_none.size() + ipv6.size());

  const std::string domain = bytes({0x05, 0x00, 0x00, 0x03, 9}) + "proxy.lan" + bytes({0, 80});
  o = socks_every_split({}, {method_none, domain});
  BOOST_TEST(o.kind == proxy::socks5_result::done);
  BOOST_TEST(o.bound_type == proxy::socks5_address::domain);
  BOOST_TEST(o.bound_address == "proxy.lan");
  BOOST_TEST(o.bound_port == 80u);

  const std::string longest =
      bytes({0x05, 0x00, 0x00, 0x03, 255}) + std::string(255, 'd') + bytes({0xFF, 0xFF});
  o = socks_every_split({}, {method_none, longest});
  BOOST_TEST(o.kind == proxy::socks5_result::done);
  BOOST_TEST(o.bound_address == std::string(255, 'd'));
  BOOST_TEST(o.bound_port == 65535u);

  const std::string empty_name = bytes({0x05, 0x00, 0x00, 0x03, 0, 0, 0});
  o = socks_every_split({}, {method_none, empty_name});
  BOOST_TEST(o.kind == proxy::socks5_result::done);
  BOOST_TEST(o.bound_address.empty());
  BOOST_TEST(o.bound_port == 0u);
}

BOOST_AUTO_TEST_CASE(every_proper_prefix_needs_more) {
  socks_target t;
  t.user = "alice";
  t.password = "pw";
  const std::string replies[] = {method_password, auth_ok, reply_ipv4};
  proxy::socks5_client client(t.host, t.port, t.user, t.password);
  for (const std::string& reply : replies) {
    for (std::size_t n = 0; n + 1 < reply.size(); ++n) {
      const proxy::socks5_result r = client.feed(&reply[n], 1);
      BOOST_TEST(r.kind == proxy::socks5_result::need_more);
      BOOST_TEST(r.output.empty());
      BOOST_TEST(r.consumed == 1u);
    }
    const proxy::socks5_result r = client.feed(&reply.back(), 1);
    BOOST_TEST(r.consumed == 1u);
    if (&reply == &replies[2]) {
      BOOST_TEST(r.kind == proxy::socks5_result::done);
    } else {
      BOOST_TEST(r.kind == proxy::socks5_result::need_more);
      BOOST_TEST(!r.output.empty());
    }
  }
  BOOST_TEST((client.current_stage() == proxy::socks5_client::stage::done));
}

BOOST_AUTO_TEST_CASE(leftover_after_connect_reply_stays_with_caller) {
  const std::string tunnel = "HTTP/1.1 101 Switching Protocols\r\n";
  const socks_outcome o = socks_every_split({}, {method_none, reply_ipv4 + tunnel});
  BOOST_TEST(o.kind == proxy::socks5_result::done);
  BOOST_TEST(o.used == method_none.size() + reply_ipv4.size());

  proxy::socks5_client client("example.com", 443);
  client.feed(method_none.data(), method_none.size());
  const std::string read = reply_ipv4 + tunnel;
  const proxy::socks5_result r = client.feed(read.data(), read.size());
  BOOST_TEST(r.kind == proxy::socks5_result::done);
  BOOST_TEST(read.substr(r.consumed) == tunnel);
  // Later calls repeat the outcome and consume nothing.
  const proxy::socks5_result again = client.feed(tunnel.data(), tunnel.size());
  BOOST_TEST(again.kind == proxy::socks5_result::done);
  BOOST_TEST(again.consumed == 0u);
  BOOST_TEST(again.bound.port == 1080u);
}

BOOST_AUTO_TEST_CASE(no_acceptable_method_rfc1928_3) {
  socks_target t;
  t.user = "alice";
  t.password = "pw";
  const socks_outcome o = socks_every_split(t, {bytes({0x05, 0xFF})});
  BOOST_TEST(o.kind == proxy::socks5_result::error);
  BOOST_TEST(o.error_code == errc::socks_no_acceptable_method);
}

BOOST_AUTO_TEST_CASE(method_not_offered) {
  // Username/password chosen without credentials, GSSAPI, and an unassigned method.
  for (const int method : {0x02, 0x01, 0x03, 0x80, 0xFE}) {
    BOOST_TEST_CONTEXT(method) {
      const socks_outcome o = socks_every_split({}, {bytes({0x05, method})});
      BOOST_TEST(o.error_code == errc::socks_unexpected_method);
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_version) {
  BOOST_TEST(socks_every_split({}, {bytes({0x04, 0x00})}).error_code == errc::socks_bad_version);
  BOOST_TEST(socks_every_split({}, {bytes({'H', 'T'})}).error_code == errc::socks_bad_version);
  BOOST_TEST(socks_every_split({}, {method_none, bytes({0x04, 0x00, 0x00, 0x01, 1, 2, 3, 4, 0, 1})})
                 .error_code == errc::socks_bad_version);
}

BOOST_AUTO_TEST_CASE(auth_failed_rfc1929_2) {
  socks_target t;
  t.user = "alice";
  t.password = "wrong";
  for (const int status : {0x01, 0xFF}) {
    const socks_outcome o = socks_every_split(t, {method_password, bytes({0x01, status})});
    BOOST_TEST(o.kind == proxy::socks5_result::error);
    BOOST_TEST(o.error_code == errc::socks_auth_failed);
    BOOST_TEST(o.outputs.size() == 1u);  // the auth request went out, no CONNECT
  }
  const socks_outcome v = socks_every_split(t, {method_password, bytes({0x05, 0x00})});
  BOOST_TEST(v.error_code == errc::socks_bad_auth_version);
}

BOOST_AUTO_TEST_CASE(reply_codes_rfc1928_6) {
  const std::pair<int, errc> codes[] = {
      {0x01, errc::socks_general_failure},       {0x02, errc::socks_not_allowed},
      {0x03, errc::socks_network_unreachable},   {0x04, errc::socks_host_unreachable},
      {0x05, errc::socks_connection_refused},    {0x06, errc::socks_ttl_expired},
      {0x07, errc::socks_command_not_supported}, {0x08, errc::socks_address_type_not_supported},
      {0x09, errc::socks_unassigned_reply},      {0xFF, errc::socks_unassigned_reply},
  };
  for (const auto& [rep, e] : codes) {
    BOOST_TEST_CONTEXT(rep) {
      // The whole reply, and only VER REP (a failing proxy may close at once).
      const socks_outcome whole =
          socks_every_split({}, {method_none, bytes({0x05, rep, 0x00, 0x01, 0, 0, 0, 0, 0, 0})});
      BOOST_TEST(whole.error_code == e);
      const socks_outcome cut = socks_every_split({}, {method_none, bytes({0x05, rep})});
      BOOST_TEST(cut.error_code == e);
    }
  }
}

BOOST_AUTO_TEST_CASE(malformed_connect_replies) {
  BOOST_TEST(socks_every_split({}, {method_none, bytes({0x05, 0x00, 0x01, 0x01, 1, 2, 3, 4, 0, 1})})
                 .error_code == errc::socks_bad_reserved);
  for (const int atyp : {0x00, 0x02, 0x05, 0xFF}) {
    BOOST_TEST_CONTEXT(atyp) {
      BOOST_TEST(socks_every_split({}, {method_none, bytes({0x05, 0x00, 0x00, atyp, 1, 2, 3, 4})})
                     .error_code == errc::socks_bad_address_type);
    }
  }
}

BOOST_AUTO_TEST_CASE(data_before_our_request) {
  // The proxy cannot answer a request we have not sent: bytes after a method or auth reply.
  socks_outcome o = socks_run({}, method_none + reply_ipv4, {});
  BOOST_TEST(o.error_code == errc::socks_unexpected_data);
  socks_target t;
  t.user = "alice";
  t.password = "pw";
  o = socks_run(t, method_password + auth_ok, {});
  BOOST_TEST(o.error_code == errc::socks_unexpected_data);
  o = socks_run(t, method_password + auth_ok + reply_ipv4, {2});
  BOOST_TEST(o.error_code == errc::socks_unexpected_data);
}

BOOST_AUTO_TEST_CASE(truncated_replies_need_more) {
  const socks_outcome o = socks_every_split({}, {method_none, reply_ipv4.substr(0, 9)});
  BOOST_TEST(o.kind == proxy::socks5_result::need_more);
  BOOST_TEST(o.outputs.size() == 1u);
}

BOOST_AUTO_TEST_CASE(target_errors_fail_at_construction) {
  const std::pair<socks_target, errc> cases[] = {
      {{std::string(256, 'h'), 443, "", ""}, errc::host_too_long},
      {{"", 443, "", ""}, errc::bad_host},
      {{"bad host", 443, "", ""}, errc::bad_host},
      {{"example.com", 0, "", ""}, errc::bad_port},
      {{"example.com", 443, std::string(256, 'u'), "p"}, errc::user_too_long},
      {{"example.com", 443, "u", std::string(256, 'p')}, errc::password_too_long},
  };
  for (const auto& [t, e] : cases) {
    BOOST_TEST_CONTEXT(static_cast<int>(e)) {
      proxy::socks5_client client(t.host, t.port, t.user, t.password);
      BOOST_TEST(client.error() == e);
      BOOST_TEST((client.current_stage() == proxy::socks5_client::stage::failed));
      BOOST_TEST(client.greeting().empty());
      const proxy::socks5_result r = client.feed(method_none.data(), method_none.size());
      BOOST_TEST(r.kind == proxy::socks5_result::error);
      BOOST_TEST(r.error_code == e);
      BOOST_TEST(r.consumed == 0u);
    }
  }
  // A long password without a user is ignored, as the password is.
  BOOST_TEST(!proxy::socks5_client("example.com", 443, "", std::string(300, 'p')).error());
}

BOOST_AUTO_TEST_CASE(error_repeats_after_failure) {
  proxy::socks5_client client("example.com", 443);
  const std::string reply = bytes({0x05, 0xFF});
  BOOST_TEST(client.feed(reply.data(), reply.size()).error_code ==
             errc::socks_no_acceptable_method);
  const proxy::socks5_result r = client.feed(method_none.data(), method_none.size());
  BOOST_TEST(r.kind == proxy::socks5_result::error);
  BOOST_TEST(r.error_code == errc::socks_no_acceptable_method);
  BOOST_TEST(r.consumed == 0u);
  BOOST_TEST(client.error() == errc::socks_no_acceptable_method);
}

BOOST_AUTO_TEST_CASE(stages) {
  using stage = proxy::socks5_client::stage;
  proxy::socks5_client client("example.com", 443, "u", "p");
  BOOST_TEST((client.current_stage() == stage::method));
  BOOST_TEST(!client.error());
  client.feed(method_password.data(), 2);
  BOOST_TEST((client.current_stage() == stage::auth));
  client.feed(auth_ok.data(), 2);
  BOOST_TEST((client.current_stage() == stage::connect));
  client.feed(reply_ipv4.data(), reply_ipv4.size());
  BOOST_TEST((client.current_stage() == stage::done));
  BOOST_TEST(!client.error());
}

BOOST_AUTO_TEST_CASE(empty_feed_needs_more) {
  proxy::socks5_client client("example.com", 443);
  const proxy::socks5_result r = client.feed(nullptr, 0);
  BOOST_TEST(r.kind == proxy::socks5_result::need_more);
  BOOST_TEST(r.consumed == 0u);
  BOOST_TEST(r.output.empty());
}

BOOST_AUTO_TEST_SUITE_END()

// ---- Errors ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(proxy_error)

BOOST_AUTO_TEST_CASE(category_and_messages) {
  BOOST_TEST(std::string(proxy::proxy_category().name()) == "proxy");
  std::vector<std::string> seen;
  for (int e = static_cast<int>(errc::bad_host); e <= static_cast<int>(errc::socks_unexpected_data);
       ++e) {
    const std::error_code ec = static_cast<errc>(e);
    BOOST_TEST(&ec.category() == &proxy::proxy_category());
    const std::string message = ec.message();
    BOOST_TEST_CONTEXT(e) {
      BOOST_TEST(!message.empty());
      BOOST_TEST(message != "unknown proxy error");
      BOOST_TEST((std::find(seen.begin(), seen.end(), message) == seen.end()));
      // Every code maps to a generic condition.
      BOOST_TEST(&ec.default_error_condition().category() == &std::generic_category());
    }
    seen.push_back(message);
  }
  BOOST_TEST(std::error_code(999, proxy::proxy_category()).message() == "unknown proxy error");
}

BOOST_AUTO_TEST_CASE(reply_messages_name_rfc1928_6_meanings) {
  BOOST_TEST(
      std::error_code(errc::socks_general_failure).message().find("general SOCKS server failure") !=
      std::string::npos);
  BOOST_TEST(std::error_code(errc::socks_not_allowed)
                 .message()
                 .find("connection not allowed by ruleset") != std::string::npos);
  BOOST_TEST(
      std::error_code(errc::socks_network_unreachable).message().find("network unreachable") !=
      std::string::npos);
  BOOST_TEST(std::error_code(errc::socks_host_unreachable).message().find("host unreachable") !=
             std::string::npos);
  BOOST_TEST(std::error_code(errc::socks_connection_refused).message().find("connection refused") !=
             std::string::npos);
  BOOST_TEST(std::error_code(errc::socks_ttl_expired).message().find("TTL expired") !=
             std::string::npos);
  BOOST_TEST(
      std::error_code(errc::socks_command_not_supported).message().find("command not supported") !=
      std::string::npos);
  BOOST_TEST(std::error_code(errc::socks_address_type_not_supported)
                 .message()
                 .find("address type not supported") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(conditions) {
  BOOST_TEST((std::error_code(errc::bad_host) == std::errc::invalid_argument));
  BOOST_TEST((std::error_code(errc::http_bad_field) == std::errc::protocol_error));
  BOOST_TEST((std::error_code(errc::http_header_too_large) == std::errc::message_size));
  BOOST_TEST((std::error_code(errc::socks_auth_failed) == std::errc::permission_denied));
  BOOST_TEST((std::error_code(errc::socks_connection_refused) == std::errc::connection_refused));
  BOOST_TEST((std::error_code(errc::http_refused) == std::errc::connection_refused));
  BOOST_TEST((std::error_code(errc::socks_network_unreachable) == std::errc::network_unreachable));
  BOOST_TEST((std::error_code(errc::socks_host_unreachable) == std::errc::host_unreachable));
  BOOST_TEST((std::error_code(errc::socks_ttl_expired) == std::errc::timed_out));
  BOOST_TEST(
      (std::error_code(errc::socks_command_not_supported) == std::errc::operation_not_supported));
}

BOOST_AUTO_TEST_SUITE_END()
