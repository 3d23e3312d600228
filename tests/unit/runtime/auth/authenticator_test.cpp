// authenticator_test.cpp: tests of runtime/auth/authenticator.hpp: each authenticator alone
// and in a chain, the status for each case (401 without or with wrong credentials, 403 for a
// refusal of valid ones, 200 for a session token), the WWW-Authenticate challenges (RFC 7235
// 4.1, RFC 7617, RFC 6750 3.1), the route path the URL and session forms leave, the manual's
// session flow end to end, and make_chain from the daemon's configuration.
#include "runtime/auth/authenticator.hpp"

#include "runtime/auth/base64.hpp"
#include "runtime/auth/users.hpp"
#include "runtime/config.hpp"
#include "test_keys.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace auth = switchboard::runtime::auth;
namespace keys = switchboard::runtime::auth::test;
using auth::decision;
using std::chrono::seconds;
using switchboard::runtime::config_error;

namespace {

const std::string secret = "an HS256 secret of 32 bytes or more";
const auth::time_point now = auth::time_point(seconds(1700000000));

std::shared_ptr<const auth::user_list> users() {
  return std::make_shared<const auth::user_list>(
      auth::user_list::parse("admin=1234\nalice=wonder land\n"));
}

std::string basic(std::string_view user_colon_password) {
  return "Basic " + auth::encode_base64(user_colon_password);
}

std::string bearer_for(std::string_view sub, long exp = 1700003600) {
  return "Bearer " + auth::sign_hs256(secret, "{\"sub\":\"" + std::string(sub) +
                                                  "\",\"exp\":" + std::to_string(exp) + "}");
}

// Every scheme of the daemon, in make_chain's order.
struct full_chain {
  std::shared_ptr<auth::session_tokens> tokens = std::make_shared<auth::session_tokens>();
  auth::chain chain;
  explicit full_chain(auth::chain_options o = {}) : chain(std::move(o)) {
    chain.add(std::make_shared<auth::url_authenticator>(users()))
        .add(std::make_shared<auth::session_authenticator>(users(), tokens))
        .add(std::make_shared<auth::basic_authenticator>(users()))
        .add(std::make_shared<auth::jwt_authenticator>(std::make_shared<const auth::jwt_verifier>(
            std::vector<auth::jwt_key>{auth::jwt_key::hs256(secret)})));
  }
  auth::auth_result operator()(std::string_view path, std::string_view authorization = {},
                               auth::time_point t = now) const {
    return chain.authenticate({path, authorization, "192.0.2.1:4242", t});
  }
};

std::vector<std::string> header_values(const auth::auth_result& r, std::string_view name) {
  std::vector<std::string> values;
  for (const auto& [n, v] : r.headers)
    if (n == name) values.push_back(v);
  return values;
}

const std::vector<std::string> both_challenges = {"Basic realm=\"switchboard\", charset=\"UTF-8\"",
                                                  "Bearer realm=\"switchboard\""};

}  // namespace

BOOST_AUTO_TEST_SUITE(auth_authenticator)

BOOST_AUTO_TEST_CASE(status_per_decision) {
  BOOST_TEST(auth::status_for(decision::allowed) == 101u);
  BOOST_TEST(auth::status_for(decision::unauthorized) == 401u);
  BOOST_TEST(auth::status_for(decision::forbidden) == 403u);
  BOOST_TEST(auth::status_for(decision::token_issued) == 200u);
}

BOOST_AUTO_TEST_CASE(no_credentials_401_with_every_challenge_rfc7235_4_1) {
  const full_chain authenticate;
  const auth::auth_result r = authenticate("/chat");
  BOOST_TEST((r.decision == decision::unauthorized));
  BOOST_TEST(r.reason == "no credentials");
  BOOST_TEST(header_values(r, "WWW-Authenticate") == both_challenges);
  BOOST_TEST(r.user.empty());
  BOOST_TEST(r.route_path.empty());
}

BOOST_AUTO_TEST_CASE(basic_rfc7617) {
  const full_chain authenticate;
  auth::auth_result r = authenticate("/chat", basic("alice:wonder land"));
  BOOST_TEST((r.decision == decision::allowed));
  BOOST_TEST((r.scheme == auth::scheme::basic));
  BOOST_TEST(r.user == "alice");
  BOOST_TEST(r.route_path == "/chat");
  BOOST_TEST(r.headers.empty());

  r = authenticate("/chat", basic("alice:wonderland"));
  BOOST_TEST((r.decision == decision::unauthorized));
  BOOST_TEST(r.reason == "wrong user or password");
  BOOST_TEST(header_values(r, "WWW-Authenticate") == both_challenges);
  r = authenticate("/chat", basic("mallory:1234"));
  BOOST_TEST((r.decision == decision::unauthorized));
  BOOST_TEST(r.reason == "wrong user or password");  // same answer for an unknown user
}

BOOST_AUTO_TEST_CASE(malformed_credentials_401) {
  const full_chain authenticate;
  auth::auth_result r = authenticate("/chat", "Basic not-base64!");
  BOOST_TEST((r.decision == decision::unauthorized));
  BOOST_TEST(r.reason == "Basic credentials are not valid base64");
  BOOST_TEST(header_values(r, "WWW-Authenticate") == both_challenges);
  r = authenticate("/sgc/auth/url/admin");
  BOOST_TEST((r.decision == decision::unauthorized));
  BOOST_TEST(r.reason == "authentication path lacks a segment");
  // A malformed path is refused even with good credentials in the header.
  r = authenticate("/sgc/auth/url/admin%zz/1234", basic("admin:1234"));
  BOOST_TEST((r.decision == decision::unauthorized));
}

BOOST_AUTO_TEST_CASE(url_form_and_route_path_manual) {
  const full_chain authenticate;
  auth::auth_result r = authenticate("/sgc/auth/url/admin/1234");
  BOOST_TEST((r.decision == decision::allowed));
  BOOST_TEST((r.scheme == auth::scheme::url));
  BOOST_TEST(r.user == "admin");
  BOOST_TEST(r.route_path == "/");
  r = authenticate("/sgc/auth/url/alice/wonder%20land/chat/room");
  BOOST_TEST((r.decision == decision::allowed));
  BOOST_TEST(r.user == "alice");
  BOOST_TEST(r.route_path == "/chat/room");
  r = authenticate("/sgc/auth/url/admin/12345");
  BOOST_TEST((r.decision == decision::unauthorized));
  BOOST_TEST(r.reason == "wrong user or password");
}

BOOST_AUTO_TEST_CASE(path_credentials_come_first) {
  const full_chain authenticate;
  // Both valid: the path's user.
  auth::auth_result r = authenticate("/sgc/auth/url/admin/1234/x", basic("alice:wonder land"));
  BOOST_TEST(r.user == "admin");
  // Path wrong, header right: the header's user, and the route is still the remainder.
  r = authenticate("/sgc/auth/url/admin/bad/x", basic("alice:wonder land"));
  BOOST_TEST((r.decision == decision::allowed));
  BOOST_TEST((r.scheme == auth::scheme::basic));
  BOOST_TEST(r.user == "alice");
  BOOST_TEST(r.route_path == "/x");
  // Both wrong: the first failure (the path's).
  r = authenticate("/sgc/auth/url/admin/bad/x", bearer_for("bob", 1));
  BOOST_TEST((r.decision == decision::unauthorized));
  BOOST_TEST((r.scheme == auth::scheme::url));
  BOOST_TEST(r.reason == "wrong user or password");
}

BOOST_AUTO_TEST_CASE(session_flow_manual) {
  const full_chain authenticate;
  // 1. GET /sgc/req/auth/session/admin/1234 returns the token.
  const auth::auth_result issued = authenticate("/sgc/req/auth/session/admin/1234");
  BOOST_TEST((issued.decision == decision::token_issued));
  BOOST_TEST(auth::status_for(issued.decision) == 200u);
  BOOST_TEST(issued.user == "admin");
  BOOST_TEST(issued.body.size() == 43u);
  BOOST_TEST(header_values(issued, "Cache-Control") == std::vector<std::string>{"no-store"});
  BOOST_TEST(issued.route_path.empty());
  // 2. ws://host/sgc/auth/session/<token> connects, routing "/".
  auth::auth_result r = authenticate("/sgc/auth/session/" + issued.body, {}, now + seconds(1));
  BOOST_TEST((r.decision == decision::allowed));
  BOOST_TEST((r.scheme == auth::scheme::session));
  BOOST_TEST(r.user == "admin");
  BOOST_TEST(r.route_path == "/");
  // 3. Once only.
  r = authenticate("/sgc/auth/session/" + issued.body, {}, now + seconds(2));
  BOOST_TEST((r.decision == decision::unauthorized));
  BOOST_TEST(r.reason == "unknown session token");
  // A token not used within the ttl expires; a route after the token is kept.
  const std::string token = authenticate("/sgc/req/auth/session/alice/wonder%20land").body;
  r = authenticate("/sgc/auth/session/" + token + "/chat", {}, now + seconds(60));
  BOOST_TEST((r.decision == decision::unauthorized));
  BOOST_TEST(r.reason == "session token expired");
  const std::string token2 = authenticate("/sgc/req/auth/session/alice/wonder%20land").body;
  r = authenticate("/sgc/auth/session/" + token2 + "/chat", {}, now + seconds(59));
  BOOST_TEST(r.user == "alice");
  BOOST_TEST(r.route_path == "/chat");
}

BOOST_AUTO_TEST_CASE(token_request_failures_have_no_challenge) {
  const full_chain authenticate;
  auth::auth_result r = authenticate("/sgc/req/auth/session/admin/wrong");
  BOOST_TEST((r.decision == decision::unauthorized));
  BOOST_TEST(r.reason == "wrong user or password");
  BOOST_TEST(header_values(r, "WWW-Authenticate").empty());
  BOOST_TEST(r.body.empty());
  // The header does not help a token request.
  r = authenticate("/sgc/req/auth/session/admin/wrong", basic("admin:1234"));
  BOOST_TEST((r.decision == decision::unauthorized));
  r = authenticate("/sgc/req/auth/session/admin/1234/extra");
  BOOST_TEST((r.decision == decision::unauthorized));
  BOOST_TEST(header_values(r, "WWW-Authenticate").empty());
  // Without a session authenticator.
  auth::chain basic_only;
  basic_only.add(std::make_shared<auth::basic_authenticator>(users()));
  r = basic_only.authenticate({"/sgc/req/auth/session/admin/1234", {}, {}, now});
  BOOST_TEST((r.decision == decision::unauthorized));
  BOOST_TEST(r.reason == "session tokens are not enabled");
}

BOOST_AUTO_TEST_CASE(bearer_jwt_rfc6750) {
  const full_chain authenticate;
  auth::auth_result r = authenticate("/chat", bearer_for("bob"));
  BOOST_TEST((r.decision == decision::allowed));
  BOOST_TEST((r.scheme == auth::scheme::bearer));
  BOOST_TEST(r.user == "bob");
  BOOST_TEST(r.route_path == "/chat");

  r = authenticate("/chat", bearer_for("bob", 1600000000));
  BOOST_TEST((r.decision == decision::unauthorized));
  BOOST_TEST(r.reason == "invalid token: token expired");
  // RFC 6750 3.1: error="invalid_token" when the token was presented.
  BOOST_TEST(header_values(r, "WWW-Authenticate") ==
             (std::vector<std::string>{"Basic realm=\"switchboard\", charset=\"UTF-8\"",
                                       "Bearer realm=\"switchboard\", error=\"invalid_token\""}));
  r = authenticate("/chat", "Bearer " + auth::sign_hs256(std::string(40, 'k'), "{\"exp\":2e9}"));
  BOOST_TEST(r.reason == "invalid token: token signature does not verify");
}

BOOST_AUTO_TEST_CASE(scheme_nobody_handles) {
  auth::chain basic_only;
  basic_only.add(std::make_shared<auth::basic_authenticator>(users(), "my realm"));
  auth::auth_result r = basic_only.authenticate({"/", bearer_for("bob"), {}, now});
  BOOST_TEST((r.decision == decision::unauthorized));
  BOOST_TEST(r.reason == "no authenticator for Bearer credentials");
  BOOST_TEST(header_values(r, "WWW-Authenticate") ==
             std::vector<std::string>{"Basic realm=\"my realm\", charset=\"UTF-8\""});
  r = basic_only.authenticate({"/sgc/auth/url/admin/1234", {}, {}, now});
  BOOST_TEST(r.reason == "no authenticator for URL credentials");
  r = basic_only.authenticate({"/", "ApiKey 123", {}, now});
  BOOST_TEST(r.reason == "no authenticator for other credentials");
}

BOOST_AUTO_TEST_CASE(callback_sees_every_scheme_manual_onunknownauthentication) {
  std::vector<std::string> seen;
  auth::chain c;
  c.add(std::make_shared<auth::callback_authenticator>(
      [&](const auth::auth_request& r,
          const auth::credentials& cr) -> std::optional<auth::auth_result> {
        seen.push_back(std::string(auth::scheme_name(cr.scheme)) + "|" + std::string(r.remote));
        if (cr.scheme == auth::scheme::other && cr.scheme_name == "ApiKey")
          return cr.token == "good" ? auth::auth_result::allow("service")
                                    : auth::auth_result::deny("bad key");
        if (cr.scheme == auth::scheme::basic && cr.user == "banned")
          return auth::auth_result::forbid("banned");
        return std::nullopt;
      },
      "ApiKey"));
  c.add(std::make_shared<auth::basic_authenticator>(
      [](std::string_view, std::string_view) { return true; }));  // would allow anyone

  auth::auth_result r = c.authenticate({"/x", "ApiKey good", "198.51.100.7:1", now});
  BOOST_TEST((r.decision == decision::allowed));
  BOOST_TEST(r.user == "service");
  BOOST_TEST(r.route_path == "/x");
  r = c.authenticate({"/x", "ApiKey bad", "198.51.100.7:1", now});
  BOOST_TEST((r.decision == decision::unauthorized));
  BOOST_TEST(r.reason == "bad key");
  BOOST_TEST(
      header_values(r, "WWW-Authenticate") ==
      (std::vector<std::string>{"ApiKey", "Basic realm=\"switchboard\", charset=\"UTF-8\""}));
  // forbidden ends the chain: the permissive Basic authenticator is not asked.
  r = c.authenticate({"/x", basic("banned:x"), "198.51.100.7:1", now});
  BOOST_TEST((r.decision == decision::forbidden));
  BOOST_TEST(auth::status_for(r.decision) == 403u);
  BOOST_TEST(r.reason == "banned");
  BOOST_TEST(header_values(r, "WWW-Authenticate").empty());
  // nullopt passes on: Basic allows.
  r = c.authenticate({"/x", basic("anyone:x"), "198.51.100.7:1", now});
  BOOST_TEST((r.decision == decision::allowed));
  BOOST_TEST(r.user == "anyone");
  // The callback is never asked about token requests.
  seen.clear();
  c.authenticate({"/sgc/req/auth/session/a/b", {}, {}, now});
  BOOST_TEST(seen.empty());
  BOOST_TEST(seen.size() == 0u);
}

BOOST_AUTO_TEST_CASE(unauthorized_lets_the_next_try) {
  // The manual's AuthUsers, then OnAuthentication for users not in the list.
  auth::chain c;
  c.add(std::make_shared<auth::basic_authenticator>(users()));
  c.add(std::make_shared<auth::basic_authenticator>(
      [](std::string_view user, std::string_view password) {
        return user == "ldap-user" && password == "ldap-pass";
      }));
  BOOST_TEST((c.authenticate({"/", basic("admin:1234"), {}, now}).decision == decision::allowed));
  BOOST_TEST(
      (c.authenticate({"/", basic("ldap-user:ldap-pass"), {}, now}).decision == decision::allowed));
  const auth::auth_result r = c.authenticate({"/", basic("ldap-user:x"), {}, now});
  BOOST_TEST((r.decision == decision::unauthorized));
  // Two identical challenges are sent once.
  BOOST_TEST(header_values(r, "WWW-Authenticate").size() == 1u);
}

BOOST_AUTO_TEST_CASE(authorizer_refuses_valid_credentials_403) {
  full_chain authenticate;
  authenticate.chain.set_authorizer([](const auth::auth_request& r, const auth::auth_result& a) {
    return a.user != "alice" || r.remote.substr(0, 9) == "192.0.2.1";
  });
  BOOST_TEST((authenticate("/", basic("admin:1234")).decision == decision::allowed));
  BOOST_TEST((authenticate("/", basic("alice:wonder land")).decision == decision::allowed));
  const auth::auth_result r =
      authenticate.chain.authenticate({"/", basic("alice:wonder land"), "203.0.113.9:5", now});
  BOOST_TEST((r.decision == decision::forbidden));
  BOOST_TEST(r.user == "alice");  // kept for the log line
  BOOST_TEST(r.reason == "user 'alice' is not allowed");
  BOOST_TEST(header_values(r, "WWW-Authenticate").empty());
  // Wrong credentials are still 401, not 403.
  BOOST_TEST(
      (authenticate.chain.authenticate({"/", basic("alice:x"), "203.0.113.9:5", now}).decision ==
       decision::unauthorized));
}

BOOST_AUTO_TEST_CASE(failure_headers_manual_custom_headers) {
  auth::chain_options o;
  o.failure_headers = {{"X-Auth-Help", "see https://example.com/login"}};
  full_chain authenticate(o);
  auth::auth_result r = authenticate("/");
  BOOST_TEST(header_values(r, "X-Auth-Help") ==
             std::vector<std::string>{"see https://example.com/login"});
  r = authenticate("/sgc/req/auth/session/admin/no");
  BOOST_TEST(header_values(r, "X-Auth-Help").size() == 1u);
  authenticate.chain.set_authorizer([](const auto&, const auto&) { return false; });
  r = authenticate("/", basic("admin:1234"));
  BOOST_TEST((r.decision == decision::forbidden));
  BOOST_TEST(header_values(r, "X-Auth-Help").size() == 1u);
  r = authenticate("/sgc/req/auth/session/admin/1234");  // success: no failure headers
  BOOST_TEST(header_values(r, "X-Auth-Help").empty());

  for (const auto& bad : std::vector<auth::header_list>{
           {{"", "x"}}, {{"Bad Name", "x"}}, {{"X", "a\r\nSet-Cookie: y"}}, {{"X", "a\nb"}}}) {
    auth::chain_options b;
    b.failure_headers = bad;
    BOOST_CHECK_THROW(auth::chain{b}, config_error);
  }
  auth::chain_options zero;
  zero.max_credentials_size = 0;
  BOOST_CHECK_THROW(auth::chain{zero}, config_error);
}

BOOST_AUTO_TEST_CASE(credentials_size_limit_from_options) {
  auth::chain_options o;
  o.max_credentials_size = 64;
  full_chain authenticate(o);
  BOOST_TEST((authenticate("/", basic("admin:1234")).decision == decision::allowed));
  const auth::auth_result r = authenticate("/", basic("admin:1234" + std::string(60, ' ')));
  BOOST_TEST(r.reason == "credentials too long");
}

BOOST_AUTO_TEST_CASE(bad_setup_rejected) {
  BOOST_CHECK_THROW(auth::basic_authenticator(users(), "say \"hi\""), config_error);
  BOOST_CHECK_THROW(auth::basic_authenticator(users(), "a\\b"), config_error);
  BOOST_CHECK_THROW(auth::basic_authenticator(users(), "a\nb"), config_error);
  BOOST_CHECK_THROW(auth::basic_authenticator(auth::password_check{}), config_error);
  BOOST_CHECK_THROW(auth::url_authenticator(std::shared_ptr<const auth::user_list>{}),
                    config_error);
  BOOST_CHECK_THROW(auth::session_authenticator(users(), nullptr), config_error);
  BOOST_CHECK_THROW(auth::jwt_authenticator(nullptr), config_error);
  BOOST_CHECK_THROW(auth::callback_authenticator(nullptr), config_error);
  auth::chain c;
  BOOST_CHECK_THROW(c.add(nullptr), config_error);
  BOOST_TEST(c.empty());
}

BOOST_AUTO_TEST_CASE(concurrent_authenticate) {
  const full_chain authenticate;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        const std::string token = authenticate("/sgc/req/auth/session/admin/1234").body;
        const auth::auth_result r = authenticate("/sgc/auth/session/" + token);
        if (r.decision != decision::allowed || r.user != "admin") ++failures;
        if (authenticate("/", bearer_for("x")).decision != decision::allowed) ++failures;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  BOOST_TEST(failures == 0);
}

BOOST_AUTO_TEST_CASE(make_chain_from_daemon_flags) {
  BOOST_TEST(!auth::make_chain({}).get());  // nothing configured: authentication off

  const std::string users_path = "/tmp/sb_auth_make_chain_users.txt";
  const std::string key_path = "/tmp/sb_auth_make_chain_key.pem";
  {
    std::ofstream(users_path) << "# --auth-users\nadmin=1234\n";
    std::ofstream(key_path) << keys::public_pem(keys::p256());
  }
  auth::auth_config config;
  config.users_file = users_path;
  config.jwt_secret = secret;
  config.jwt_public_key = key_path;
  std::unique_ptr<auth::chain> c = auth::make_chain(config);
  BOOST_TEST_REQUIRE(c.get() != nullptr);
  const auto run = [&](std::string_view path, std::string_view authorization = {}) {
    return c->authenticate({path, authorization, {}, now});
  };
  BOOST_TEST((run("/", basic("admin:1234")).decision == decision::allowed));
  BOOST_TEST((run("/sgc/auth/url/admin/1234").decision == decision::allowed));
  const std::string token = run("/sgc/req/auth/session/admin/1234").body;
  BOOST_TEST((run("/sgc/auth/session/" + token).decision == decision::allowed));
  BOOST_TEST(run("/", bearer_for("hs")).user == "hs");
  const auth::jwt_key ec = auth::jwt_key::from_pem(keys::private_pem(keys::p256()));
  BOOST_TEST(run("/", "Bearer " + auth::sign(ec, "{\"sub\":\"es\",\"exp\":1700003600}")).user ==
             "es");
  BOOST_TEST(header_values(run("/"), "WWW-Authenticate") == both_challenges);

  // Only some schemes; the key as PEM text.
  config.basic = false;
  config.url = false;
  config.jwt_secret.clear();
  config.jwt_public_key = keys::public_pem(keys::p256());
  c = auth::make_chain(config);
  BOOST_TEST((run("/", basic("admin:1234")).decision == decision::unauthorized));
  BOOST_TEST((run("/sgc/auth/url/admin/1234").decision == decision::unauthorized));
  BOOST_TEST((run("/sgc/req/auth/session/admin/1234").decision == decision::token_issued));
  BOOST_TEST(header_values(run("/"), "WWW-Authenticate") ==
             std::vector<std::string>{"Bearer realm=\"switchboard\""});

  // Configuration errors.
  auth::auth_config bad;
  bad.users_file = "/nonexistent/users";
  BOOST_CHECK_THROW(auth::make_chain(bad), config_error);
  std::ofstream(users_path) << "# nobody\n";
  bad.users_file = users_path;
  BOOST_CHECK_THROW(auth::make_chain(bad), config_error);
  bad = {};
  bad.jwt_secret = "short";
  BOOST_CHECK_THROW(auth::make_chain(bad), config_error);
  bad = {};
  bad.jwt_public_key = "/nonexistent/key.pem";
  BOOST_CHECK_THROW(auth::make_chain(bad), config_error);
  bad = {};
  bad.jwt_secret = secret;
  bad.realm = "\"";
  BOOST_CHECK_THROW(auth::make_chain(bad), config_error);
  std::remove(users_path.c_str());
  std::remove(key_path.c_str());
}

BOOST_AUTO_TEST_SUITE_END()
