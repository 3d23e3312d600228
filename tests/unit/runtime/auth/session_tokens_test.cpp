// session_tokens_test.cpp: tests of runtime/auth/session_tokens.hpp: token shape (32 random
// bytes as base64url), single use and reuse, expiry at issue time + ttl, eviction of the oldest
// past max_tokens, purge, and concurrent issue/redeem from several threads.
#include "runtime/auth/session_tokens.hpp"

#include "runtime/auth/base64.hpp"
#include "runtime/config.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace auth = switchboard::runtime::auth;
using auth::session_errc;
using std::chrono::seconds;

namespace {

const auth::time_point t0 = auth::time_point(seconds(1700000000));

std::string issue(auth::session_tokens& tokens, const std::string& user, auth::time_point t = t0) {
  std::string token;
  BOOST_TEST_REQUIRE(!tokens.issue(user, t, token));
  return token;
}

std::error_code redeem(auth::session_tokens& tokens, const std::string& token,
                       auth::time_point t = t0, std::string* user = nullptr) {
  std::string u;
  const std::error_code ec = tokens.redeem(token, t, u);
  if (user) *user = u;
  return ec;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(auth_session_tokens)

BOOST_AUTO_TEST_CASE(tokens_are_32_random_bytes_base64url) {
  auth::session_tokens tokens;
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string token = issue(tokens, "alice");
    BOOST_TEST_REQUIRE(token.size() == 43u);
    std::string raw;
    BOOST_TEST_REQUIRE(auth::decode_base64url(token, raw));
    BOOST_TEST_REQUIRE(raw.size() == 32u);
    BOOST_TEST_REQUIRE(seen.insert(token).second);
  }
  BOOST_TEST(tokens.size() == 1000u);
}

BOOST_AUTO_TEST_CASE(single_use_by_default) {
  auth::session_tokens tokens;
  BOOST_TEST(tokens.options().single_use);
  const std::string token = issue(tokens, "alice");
  std::string user;
  BOOST_TEST(!redeem(tokens, token, t0 + seconds(1), &user));
  BOOST_TEST(user == "alice");
  BOOST_TEST(redeem(tokens, token, t0 + seconds(2)) == session_errc::unknown_token);
  BOOST_TEST(tokens.size() == 0u);
}

BOOST_AUTO_TEST_CASE(reusable_until_expiry) {
  auth::session_options o;
  o.single_use = false;
  o.ttl = seconds(30);
  auth::session_tokens tokens(o);
  const std::string token = issue(tokens, "bob");
  std::string user;
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(!redeem(tokens, token, t0 + seconds(10 * i), &user));
    BOOST_TEST(user == "bob");
  }
  BOOST_TEST(redeem(tokens, token, t0 + seconds(30)) == session_errc::expired);
  BOOST_TEST(redeem(tokens, token, t0 + seconds(31)) == session_errc::unknown_token);  // dropped
}

BOOST_AUTO_TEST_CASE(expiry_at_issue_time_plus_ttl) {
  auth::session_tokens tokens;  // ttl 60 s
  BOOST_TEST(tokens.options().ttl.count() == 60);
  const std::string a = issue(tokens, "alice");
  const std::string b = issue(tokens, "alice");
  BOOST_TEST(!redeem(tokens, a, t0 + seconds(60) - std::chrono::nanoseconds(1)));
  BOOST_TEST(redeem(tokens, b, t0 + seconds(60)) == session_errc::expired);
  BOOST_TEST(tokens.size() == 0u);
}

BOOST_AUTO_TEST_CASE(unknown_tokens) {
  auth::session_tokens tokens;
  issue(tokens, "alice");
  for (const char* bad : {"", "x", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
    BOOST_TEST(redeem(tokens, bad) == session_errc::unknown_token);
  const std::string token = issue(tokens, "alice");
  BOOST_TEST(redeem(tokens, token.substr(0, 42)) == session_errc::unknown_token);
  BOOST_TEST(redeem(tokens, token + "A") == session_errc::unknown_token);
  BOOST_TEST(!redeem(tokens, token));
}

BOOST_AUTO_TEST_CASE(oldest_evicted_past_max_tokens) {
  auth::session_options o;
  o.max_tokens = 3;
  auth::session_tokens tokens(o);
  std::vector<std::string> issued;
  for (int i = 0; i < 5; ++i)
    issued.push_back(issue(tokens, "u" + std::to_string(i), t0 + seconds(i)));
  BOOST_TEST(tokens.size() == 3u);  // at the limit, never past it
  BOOST_TEST(redeem(tokens, issued[0], t0 + seconds(5)) == session_errc::unknown_token);
  BOOST_TEST(redeem(tokens, issued[1], t0 + seconds(5)) == session_errc::unknown_token);
  std::string user;
  for (int i = 2; i < 5; ++i) {
    BOOST_TEST(!redeem(tokens, issued[i], t0 + seconds(5), &user));
    BOOST_TEST(user == "u" + std::to_string(i));
  }
  // A redeemed token frees its place: no eviction until the bound is reached again.
  const std::string a = issue(tokens, "a", t0 + seconds(6));
  const std::string b = issue(tokens, "b", t0 + seconds(6));
  const std::string c = issue(tokens, "c", t0 + seconds(6));
  BOOST_TEST(tokens.size() == 3u);
  BOOST_TEST(!redeem(tokens, a, t0 + seconds(7)));
}

BOOST_AUTO_TEST_CASE(default_bound_is_100000) {
  BOOST_TEST(auth::session_options{}.max_tokens == 100000u);
}

BOOST_AUTO_TEST_CASE(expired_tokens_make_room_first) {
  auth::session_options o;
  o.max_tokens = 2;
  o.ttl = seconds(10);
  auth::session_tokens tokens(o);
  issue(tokens, "old", t0);
  const std::string live = issue(tokens, "live", t0 + seconds(5));
  // At t0 + 12 the first has expired: issuing drops it, the live one stays.
  issue(tokens, "new", t0 + seconds(12));
  BOOST_TEST(tokens.size() == 2u);
  BOOST_TEST(!redeem(tokens, live, t0 + seconds(12)));
}

BOOST_AUTO_TEST_CASE(purge_drops_expired) {
  auth::session_options o;
  o.ttl = seconds(10);
  o.max_tokens = 3;
  auth::session_tokens tokens(o);
  issue(tokens, "a", t0);
  issue(tokens, "b", t0 + seconds(5));
  const std::string c = issue(tokens, "c", t0 + seconds(8));
  BOOST_TEST(tokens.purge(t0 + seconds(9)) == 0u);
  BOOST_TEST(tokens.purge(t0 + seconds(15)) == 2u);
  BOOST_TEST(tokens.size() == 1u);
  // The eviction order survives the purge: c is still the oldest.
  const std::string d = issue(tokens, "d", t0 + seconds(16));
  const std::string e = issue(tokens, "e", t0 + seconds(16));
  const std::string f = issue(tokens, "f", t0 + seconds(16));
  BOOST_TEST(tokens.size() == 3u);
  BOOST_TEST(redeem(tokens, c, t0 + seconds(17)) == session_errc::unknown_token);
  for (const std::string* t : {&d, &e, &f})
    BOOST_TEST(!redeem(tokens, *t, t0 + seconds(17)));
}

BOOST_AUTO_TEST_CASE(bad_options_rejected) {
  auth::session_options o;
  o.ttl = seconds(0);
  BOOST_CHECK_THROW(auth::session_tokens{o}, switchboard::runtime::config_error);
  o = {};
  o.max_tokens = 0;
  BOOST_CHECK_THROW(auth::session_tokens{o}, switchboard::runtime::config_error);
}

BOOST_AUTO_TEST_CASE(concurrent_issue_and_redeem) {
  auth::session_options o;
  o.max_tokens = 500;
  auth::session_tokens tokens(o);
  std::atomic<int> redeemed{0}, evicted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string token, user;
        if (tokens.issue("u" + std::to_string(t), t0, token)) continue;
        if (i % 3 == 0) continue;  // leave some behind to force eviction
        const std::error_code ec = tokens.redeem(token, t0, user);
        if (!ec && user == "u" + std::to_string(t)) ++redeemed;
        if (ec == session_errc::unknown_token) ++evicted;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  BOOST_TEST(tokens.size() <= 500u);
  BOOST_TEST(redeemed + evicted == 4 * (2000 - 667));
  BOOST_TEST(redeemed > 0);
}

BOOST_AUTO_TEST_CASE(every_errc_has_a_message) {
  for (int e = 1; e <= static_cast<int>(session_errc::rng_failed); ++e) {
    const std::error_code ec = static_cast<session_errc>(e);
    BOOST_TEST(std::string(ec.category().name()) == "auth.session");
    BOOST_TEST(ec.message() != "unknown session error");
  }
}

BOOST_AUTO_TEST_SUITE_END()
