// credentials_test.cpp: tests of runtime/auth/credentials.hpp: the Basic (RFC 7617), Bearer
// (RFC 6750) and other-scheme forms of the Authorization value, the manual's URL, session and
// token-request paths, the route path each leaves, and every credentials_errc.
#include "runtime/auth/credentials.hpp"

#include "runtime/auth/base64.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

namespace auth = switchboard::runtime::auth;
using auth::credentials_errc;
using auth::scheme;

namespace {

std::string basic(std::string_view user_colon_password) {
  return "Basic " + auth::encode_base64(user_colon_password);
}

std::error_code header(std::string_view value, auth::credentials& out) {
  return auth::parse_authorization(value, out);
}

struct path_result {
  std::error_code ec;
  auth::credentials c;
  std::string route;
};

path_result path(std::string_view p) {
  path_result r;
  std::string_view route;
  r.ec = auth::parse_path(p, r.c, route);
  r.route = std::string(route);
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(auth_credentials)

BOOST_AUTO_TEST_CASE(basic_example_rfc7617_2) {
  auth::credentials c;
  // "Aladdin:open sesame" is the RFC's example.
  BOOST_TEST(!header("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", c));
  BOOST_TEST((c.scheme == scheme::basic));
  BOOST_TEST(c.user == "Aladdin");
  BOOST_TEST(c.password == "open sesame");
}

BOOST_AUTO_TEST_CASE(basic_scheme_is_case_insensitive_rfc7235_2_1) {
  for (const char* s : {"basic", "BASIC", "bAsIc"}) {
    auth::credentials c;
    BOOST_TEST(!header(std::string(s) + " " + auth::encode_base64("u:p"), c));
    BOOST_TEST((c.scheme == scheme::basic));
  }
  auth::credentials c;
  BOOST_TEST(!header("  Basic    " + auth::encode_base64("u:p") + " \t", c));  // OWS, 1*SP
  BOOST_TEST(c.user == "u");
}

BOOST_AUTO_TEST_CASE(basic_password_may_contain_colons_and_be_empty_rfc7617_2) {
  auth::credentials c;
  BOOST_TEST(!header(basic("user:pa:ss:"), c));
  BOOST_TEST(c.user == "user");
  BOOST_TEST(c.password == "pa:ss:");
  BOOST_TEST(!header(basic("user:"), c));
  BOOST_TEST(c.user == "user");
  BOOST_TEST(c.password.empty());
  BOOST_TEST(!header(basic(":secret"), c));  // an empty user-id parses; no list holds one
  BOOST_TEST(c.user.empty());
  BOOST_TEST(c.password == "secret");
  BOOST_TEST(!header(basic(":"), c));
}

BOOST_AUTO_TEST_CASE(basic_without_colon_rfc7617_2) {
  auth::credentials c;
  BOOST_TEST(header(basic("userpassword"), c) == credentials_errc::missing_colon);
  BOOST_TEST(header(basic(""), c) == credentials_errc::missing_credentials);  // "Basic "
  BOOST_TEST(header("Basic", c) == credentials_errc::missing_credentials);
  BOOST_TEST(header("Basic   ", c) == credentials_errc::missing_credentials);
}

BOOST_AUTO_TEST_CASE(basic_bad_base64) {
  for (const char* token : {"dTpw", "dTpw=", "dTp", "dTpw====", "dT pw", "dTpw,", "dTpw\"", "!!!!",
                            "dTp-", "dTp_", "dTpx=="}) {
    BOOST_TEST_CONTEXT(token) {
      auth::credentials c;
      const std::string value = std::string("Basic ") + token;
      const std::error_code ec = header(value, c);
      // "dTpw" is base64 of "u:p" and valid; every other one is not canonical base64.
      if (std::string_view(token) == "dTpw")
        BOOST_TEST(!ec);
      else
        BOOST_TEST(ec == credentials_errc::bad_base64);
    }
  }
  auth::credentials c;
  BOOST_TEST(header("Basic dTpw dTpw", c) == credentials_errc::bad_base64);  // two tokens
}

BOOST_AUTO_TEST_CASE(basic_non_ascii_passes_through_rfc7617_2_1) {
  auth::credentials c;
  // UTF-8, as a client sends after charset="UTF-8" (the RFC's "test:123£" example).
  BOOST_TEST(!header("Basic dGVzdDoxMjPCow==", c));
  BOOST_TEST(c.user == "test");
  BOOST_TEST(c.password == "123\xC2\xA3");
  // Latin-1 bytes are not rejected either: compared as octets, they match nothing listed
  // in UTF-8.
  BOOST_TEST(!header(basic("Zo\xEB:p\xE4ss"), c));
  BOOST_TEST(c.user == "Zo\xEB");
  BOOST_TEST(c.password == "p\xE4ss");
}

BOOST_AUTO_TEST_CASE(basic_control_characters_rfc7617_2) {
  for (const char* decoded : {"us\ter:p", "user:p\x7F", "user:\r\n", "u\x01:p"}) {
    auth::credentials c;
    BOOST_TEST(header(basic(decoded), c) == credentials_errc::control_character);
  }
  auth::credentials c;
  BOOST_TEST(header(basic(std::string("u\0x:p", 5)), c) == credentials_errc::control_character);
}

BOOST_AUTO_TEST_CASE(bearer_token_rfc6750_2_1) {
  auth::credentials c;
  BOOST_TEST(!header("Bearer mF_9.B5f-4.1JqM", c));  // the RFC's example
  BOOST_TEST((c.scheme == scheme::bearer));
  BOOST_TEST(c.token == "mF_9.B5f-4.1JqM");
  BOOST_TEST(!header("bearer abc+/~==", c));
  BOOST_TEST(c.token == "abc+/~==");
  for (const char* bad :
       {"Bearer a=b", "Bearer =", "Bearer a b", "Bearer a,b", "Bearer \"a\"", "Bearer a\x80"}) {
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST(header(bad, c) == credentials_errc::bad_bearer_token);
    }
  }
  BOOST_TEST(header("Bearer", c) == credentials_errc::missing_credentials);
}

BOOST_AUTO_TEST_CASE(other_schemes_are_kept_for_callbacks_rfc7235_2_1) {
  auth::credentials c;
  BOOST_TEST(!header("Digest username=\"u\", realm=\"r\"", c));
  BOOST_TEST((c.scheme == scheme::other));
  BOOST_TEST(c.scheme_name == "Digest");
  BOOST_TEST(c.token == "username=\"u\", realm=\"r\"");
  BOOST_TEST(!header("Negotiate", c));
  BOOST_TEST(c.scheme_name == "Negotiate");
  BOOST_TEST(c.token.empty());
}

BOOST_AUTO_TEST_CASE(malformed_scheme_rfc7235_2_1) {
  auth::credentials c;
  for (const char* bad :
       {"=abc", "\"Basic\" abc", "Basic,abc", "Basic\tabc", "(x) y", "Bas@ic x"}) {
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST(header(bad, c) == credentials_errc::bad_scheme);
    }
  }
}

BOOST_AUTO_TEST_CASE(empty_header_presents_nothing) {
  auth::credentials c;
  BOOST_TEST(!header("", c));
  BOOST_TEST((c.scheme == scheme::none));
  BOOST_TEST(!header(" \t ", c));
  BOOST_TEST((c.scheme == scheme::none));
}

BOOST_AUTO_TEST_CASE(header_length_limit) {
  auth::credentials c;
  const std::string at_limit = "Bearer " + std::string(auth::default_max_credentials_size - 7, 'a');
  BOOST_TEST(!header(at_limit, c));
  BOOST_TEST(header(at_limit + "a", c) == credentials_errc::too_long);
  BOOST_TEST(auth::parse_authorization("Bearer abcdef", c, 12) == credentials_errc::too_long);
  BOOST_TEST(!auth::parse_authorization("Bearer abcde", c, 12));
}

BOOST_AUTO_TEST_CASE(url_form_manual) {
  path_result r = path("/sgc/auth/url/admin/1234");  // the manual's example
  BOOST_TEST(!r.ec);
  BOOST_TEST((r.c.scheme == scheme::url));
  BOOST_TEST(r.c.user == "admin");
  BOOST_TEST(r.c.password == "1234");
  BOOST_TEST(r.route == "/");

  r = path("/sgc/auth/url/admin/1234/");
  BOOST_TEST(r.route == "/");
  r = path("/sgc/auth/url/admin/1234/chat/room");
  BOOST_TEST(!r.ec);
  BOOST_TEST(r.c.password == "1234");
  BOOST_TEST(r.route == "/chat/room");
  r = path("/sgc/auth/url/admin/");  // empty password
  BOOST_TEST(!r.ec);
  BOOST_TEST(r.c.password.empty());
  BOOST_TEST(r.route == "/");
}

BOOST_AUTO_TEST_CASE(url_form_percent_decoding_rfc3986_2_1) {
  path_result r = path("/sgc/auth/url/j%C3%B6rg/p%2Fa%3As%25s+w%20");
  BOOST_TEST(!r.ec);
  BOOST_TEST(r.c.user == "j\xC3\xB6rg");
  BOOST_TEST(r.c.password == "p/a:s%s+w ");  // '+' stays a plus in a path
  r = path("/sgc/auth/url/%61%62/%7e");
  BOOST_TEST(r.c.user == "ab");
  BOOST_TEST(r.c.password == "~");
  for (const char* bad : {"/sgc/auth/url/a%/b", "/sgc/auth/url/a/b%2", "/sgc/auth/url/a%zz/b",
                          "/sgc/auth/url/a/%g0", "/sgc/auth/url/a/b%"}) {
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST(path(bad).ec == credentials_errc::bad_percent_encoding);
    }
  }
  BOOST_TEST(path("/sgc/auth/url/a/b%0A").ec == credentials_errc::control_character);
  BOOST_TEST(path("/sgc/auth/url/a%00/b").ec == credentials_errc::control_character);
}

BOOST_AUTO_TEST_CASE(url_form_missing_segments) {
  for (const char* bad : {"/sgc/auth/url", "/sgc/auth/url/", "/sgc/auth/url/admin"}) {
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST(path(bad).ec == credentials_errc::missing_segment);
    }
  }
  path_result r = path("/sgc/auth/url//p");  // empty user parses, matches nobody
  BOOST_TEST(!r.ec);
  BOOST_TEST(r.c.user.empty());
}

BOOST_AUTO_TEST_CASE(session_form_manual) {
  path_result r = path("/sgc/auth/session/abc-DEF_123");
  BOOST_TEST(!r.ec);
  BOOST_TEST((r.c.scheme == scheme::session));
  BOOST_TEST(r.c.token == "abc-DEF_123");
  BOOST_TEST(r.route == "/");
  r = path("/sgc/auth/session/tok/echo");
  BOOST_TEST(r.c.token == "tok");
  BOOST_TEST(r.route == "/echo");
  for (const char* bad : {"/sgc/auth/session", "/sgc/auth/session/", "/sgc/auth/session//x"}) {
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST(path(bad).ec == credentials_errc::missing_segment);
    }
  }
  BOOST_TEST(path("/sgc/auth/session/%zz").ec == credentials_errc::bad_percent_encoding);
}

BOOST_AUTO_TEST_CASE(token_request_manual) {
  path_result r = path("/sgc/req/auth/session/admin/1234");
  BOOST_TEST(!r.ec);
  BOOST_TEST((r.c.scheme == scheme::session_request));
  BOOST_TEST(r.c.user == "admin");
  BOOST_TEST(r.c.password == "1234");
  BOOST_TEST(auth::is_session_request("/sgc/req/auth/session/admin/1234"));
  BOOST_TEST(auth::is_session_request("/sgc/req/auth/session"));  // malformed, still ours
  BOOST_TEST(!auth::is_session_request("/sgc/req/auth/sessions"));
  BOOST_TEST(!auth::is_session_request("/sgc/auth/session/x"));
  BOOST_TEST(path("/sgc/req/auth/session/admin/1234/").ec == credentials_errc::extra_segment);
  BOOST_TEST(path("/sgc/req/auth/session/admin/1234/x").ec == credentials_errc::extra_segment);
  BOOST_TEST(path("/sgc/req/auth/session/admin").ec == credentials_errc::missing_segment);
  BOOST_TEST(path("/sgc/req/auth/session").ec == credentials_errc::missing_segment);
}

BOOST_AUTO_TEST_CASE(ordinary_paths_present_nothing) {
  for (const char* p : {"/", "/chat", "/sgc/auth/urlx/a/b", "/sgc/auth", "/SGC/auth/url/a/b",
                        "/x/sgc/auth/url/a/b", "", "/sgc/auth/sessionx"}) {
    BOOST_TEST_CONTEXT("'" << p << "'") {
      const path_result r = path(p);
      BOOST_TEST(!r.ec);
      BOOST_TEST((r.c.scheme == scheme::none));
      BOOST_TEST(r.route == p);
    }
  }
}

BOOST_AUTO_TEST_CASE(path_length_limit) {
  const std::string user(auth::default_max_credentials_size - 16, 'u');
  const std::string p = "/sgc/auth/url/" + user + "/x";  // 16 bytes + the user: at the limit
  BOOST_TEST(p.size() == auth::default_max_credentials_size);
  BOOST_TEST(!path(p).ec);
  BOOST_TEST(path(p + "x").ec == credentials_errc::too_long);
  // An ordinary path is not ours to limit.
  BOOST_TEST(!path("/" + std::string(10000, 'x')).ec);
}

BOOST_AUTO_TEST_CASE(parse_request_reads_both) {
  auth::presented_credentials p;
  const std::string value = basic("h:pw");
  BOOST_TEST(!auth::parse_request("/sgc/auth/url/u/p/chat", value, p));
  BOOST_TEST((p.from_path.scheme == scheme::url));
  BOOST_TEST((p.from_header.scheme == scheme::basic));
  BOOST_TEST(p.from_header.user == "h");
  BOOST_TEST(p.route_path == "/chat");
  BOOST_TEST(auth::parse_request("/sgc/auth/url/u", value, p) == credentials_errc::missing_segment);
  BOOST_TEST(auth::parse_request("/", "Basic ???", p) == credentials_errc::bad_base64);
}

BOOST_AUTO_TEST_CASE(encode_path_segment_round_trips) {
  const std::string nasty = "a b/c%d:e?f#g\xC3\xA9~-._+=";
  BOOST_TEST(auth::encode_path_segment(nasty) == "a%20b%2Fc%25d%3Ae%3Ff%23g%C3%A9~-._%2B%3D");
  const path_result r = path("/sgc/auth/url/" + auth::encode_path_segment(nasty) + "/" +
                             auth::encode_path_segment(nasty));
  BOOST_TEST(!r.ec);
  BOOST_TEST(r.c.user == nasty);
  BOOST_TEST(r.c.password == nasty);
}

BOOST_AUTO_TEST_CASE(every_errc_has_a_message) {
  for (int e = 1; e <= static_cast<int>(credentials_errc::extra_segment); ++e) {
    const std::error_code ec = static_cast<credentials_errc>(e);
    BOOST_TEST(std::string(ec.category().name()) == "auth.credentials");
    BOOST_TEST(ec.message() != "unknown credentials error");
  }
  BOOST_TEST(auth::scheme_name(scheme::basic) == "Basic");
}

BOOST_AUTO_TEST_SUITE_END()
