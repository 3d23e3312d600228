#include "runtime/auth/authenticator.hpp"

#include "runtime/auth/users.hpp"
#include "runtime/config.hpp"

#include <algorithm>

namespace switchboard::runtime::auth {
namespace {

bool is_ctl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7F;
}

// The realm goes inside a quoted-string; refusing '"' and '\' spares us escaping it.
std::string checked_realm(std::string realm) {
  for (const char c : realm)
    if (c == '"' || c == '\\' || is_ctl(c))
      throw config_error("auth realm must not contain '\"', '\\' or control characters");
  return realm;
}

password_check checked(password_check check) {
  if (!check) throw config_error("auth: empty password check");
  return check;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos)
      return false;
  }
  return true;
}

}  // namespace

unsigned status_for(decision d) noexcept {
  switch (d) {
    case decision::allowed:
      return 101;
    case decision::unauthorized:
      return 401;
    case decision::forbidden:
      return 403;
    case decision::token_issued:
      return 200;
  }
  return 401;
}

auth_result auth_result::allow(std::string user) {
  auth_result r;
  r.decision = decision::allowed;
  r.user = std::move(user);
  return r;
}

auth_result auth_result::deny(std::string reason) {
  auth_result r;
  r.decision = decision::unauthorized;
  r.reason = std::move(reason);
  return r;
}

auth_result auth_result::forbid(std::string reason) {
  auth_result r;
  r.decision = decision::forbidden;
  r.reason = std::move(reason);
  return r;
}

std::string authenticator::challenge(const presented_credentials&) const {
  return {};
}

password_check check_against(std::shared_ptr<const user_list> users) {
  if (!users) throw config_error("auth: no user list");
  return [users = std::move(users)](std::string_view user, std::string_view password) {
    return users->check(user, password);
  };
}

// ---- Basic

basic_authenticator::basic_authenticator(password_check check, std::string realm)
    : check_(checked(std::move(check))), realm_(checked_realm(std::move(realm))) {}

basic_authenticator::basic_authenticator(std::shared_ptr<const user_list> users, std::string realm)
    : basic_authenticator(check_against(std::move(users)), std::move(realm)) {}

std::optional<auth_result> basic_authenticator::authenticate(const auth_request&,
                                                             const credentials& c) const {
  if (c.scheme != scheme::basic) return std::nullopt;
  if (!check_(c.user, c.password)) return auth_result::deny("wrong user or password");
  return auth_result::allow(c.user);
}

std::string basic_authenticator::challenge(const presented_credentials&) const {
  return "Basic realm=\"" + realm_ + "\", charset=\"UTF-8\"";
}

// ---- URL

url_authenticator::url_authenticator(password_check check) : check_(checked(std::move(check))) {}

url_authenticator::url_authenticator(std::shared_ptr<const user_list> users)
    : url_authenticator(check_against(std::move(users))) {}

std::optional<auth_result> url_authenticator::authenticate(const auth_request&,
                                                           const credentials& c) const {
  if (c.scheme != scheme::url) return std::nullopt;
  if (!check_(c.user, c.password)) return auth_result::deny("wrong user or password");
  return auth_result::allow(c.user);
}

// ---- Session

session_authenticator::session_authenticator(password_check check,
                                             std::shared_ptr<session_tokens> tokens)
    : check_(checked(std::move(check))), tokens_(std::move(tokens)) {
  if (!tokens_) throw config_error("auth: session authenticator without a token table");
}

session_authenticator::session_authenticator(std::shared_ptr<const user_list> users,
                                             std::shared_ptr<session_tokens> tokens)
    : session_authenticator(check_against(std::move(users)), std::move(tokens)) {}

std::optional<auth_result> session_authenticator::authenticate(const auth_request& r,
                                                               const credentials& c) const {
  if (c.scheme == scheme::session_request) {
    if (!check_(c.user, c.password)) return auth_result::deny("wrong user or password");
    auth_result result;
    if (const std::error_code ec = tokens_->issue(c.user, r.now, result.body))
      return auth_result::deny(ec.message());
    result.decision = decision::token_issued;
    result.user = c.user;
    result.headers.emplace_back("Cache-Control", "no-store");  // as RFC 6749 5.1 for tokens
    return result;
  }
  if (c.scheme == scheme::session) {
    std::string user;
    if (const std::error_code ec = tokens_->redeem(c.token, r.now, user))
      return auth_result::deny(ec.message());
    return auth_result::allow(std::move(user));
  }
  return std::nullopt;
}

// ---- JWT

jwt_authenticator::jwt_authenticator(std::shared_ptr<const jwt_verifier> verifier,
                                     std::string realm)
    : verifier_(std::move(verifier)), realm_(checked_realm(std::move(realm))) {
  if (!verifier_) throw config_error("auth: JWT authenticator without a verifier");
}

std::optional<auth_result> jwt_authenticator::authenticate(const auth_request& r,
                                                           const credentials& c) const {
  if (c.scheme != scheme::bearer) return std::nullopt;
  jwt_claims claims;
  if (const std::error_code ec = verifier_->verify(c.token, r.now, claims))
    return auth_result::deny("invalid token: " + ec.message());
  return auth_result::allow(std::move(claims.subject));
}

std::string jwt_authenticator::challenge(const presented_credentials& p) const {
  std::string value = "Bearer realm=\"" + realm_ + "\"";
  if (p.from_header.scheme == scheme::bearer) value += ", error=\"invalid_token\"";
  return value;
}

// ---- Callback

callback_authenticator::callback_authenticator(function decide, std::string challenge)
    : decide_(std::move(decide)), challenge_(std::move(challenge)) {
  if (!decide_) throw config_error("auth: empty callback");
  for (const char c : challenge_)
    if (is_ctl(c)) throw config_error("auth: control character in a challenge");
}

std::optional<auth_result> callback_authenticator::authenticate(const auth_request& r,
                                                                const credentials& c) const {
  if (c.scheme == scheme::session_request) return std::nullopt;
  return decide_(r, c);
}

std::string callback_authenticator::challenge(const presented_credentials&) const {
  return challenge_;
}

// ---- Chain

chain::chain(chain_options options) : options_(std::move(options)) {
  if (options_.max_credentials_size == 0)
    throw config_error("auth: max_credentials_size must be positive");
  for (const auto& [name, value] : options_.failure_headers) {
    if (!is_token(name)) throw config_error("auth: bad failure header name '" + name + "'");
    for (const char c : value)
      if (c == '\r' || c == '\n' || c == '\0')
        throw config_error("auth: failure header " + name + " has CR, LF or NUL in its value");
  }
}

chain& chain::add(std::shared_ptr<const authenticator> a) {
  if (!a) throw config_error("auth: null authenticator");
  authenticators_.push_back(std::move(a));
  return *this;
}

chain& chain::set_authorizer(authorizer f) {
  authorizer_ = std::move(f);
  return *this;
}

auth_result chain::fail(auth_result result, const presented_credentials* p) const {
  if (result.decision != decision::forbidden) result.user.clear();  // 403 keeps it for the logs
  result.route_path.clear();
  result.body.clear();
  if (result.decision == decision::unauthorized && p) {
    for (const auto& a : authenticators_) {
      std::string value = a->challenge(*p);
      if (value.empty()) continue;
      const bool seen = std::any_of(
          result.headers.begin(), result.headers.end(),
          [&](const auto& h) { return h.first == "WWW-Authenticate" && h.second == value; });
      if (!seen) result.headers.emplace_back("WWW-Authenticate", std::move(value));
    }
  }
  result.headers.insert(result.headers.end(), options_.failure_headers.begin(),
                        options_.failure_headers.end());
  return result;
}

auth_result chain::authenticate(const auth_request& r) const {
  presented_credentials p;
  if (const std::error_code ec =
          parse_request(r.path, r.authorization, p, options_.max_credentials_size)) {
    p = presented_credentials{};  // unspecified after an error; challenge() must not read it
    return fail(auth_result::deny(ec.message()), is_session_request(r.path) ? nullptr : &p);
  }

  // A token request: its path alone decides, and it never opens a WebSocket.
  if (p.from_path.scheme == scheme::session_request) {
    std::optional<auth_result> failure;
    for (const auto& a : authenticators_) {
      std::optional<auth_result> res = a->authenticate(r, p.from_path);
      if (!res || res->decision == decision::allowed) continue;
      res->scheme = scheme::session_request;
      if (res->decision == decision::token_issued) return std::move(*res);
      if (res->decision == decision::forbidden) return fail(std::move(*res), nullptr);
      if (!failure) failure = std::move(res);
    }
    if (!failure) failure = auth_result::deny("session tokens are not enabled");
    failure->scheme = scheme::session_request;
    return fail(std::move(*failure), nullptr);
  }

  std::optional<auth_result> failure;
  for (const credentials* c : {&p.from_path, &p.from_header}) {
    if (c->scheme == scheme::none) continue;
    bool handled = false;
    for (const auto& a : authenticators_) {
      std::optional<auth_result> res = a->authenticate(r, *c);
      if (!res || res->decision == decision::token_issued) continue;
      handled = true;
      res->scheme = c->scheme;
      if (res->decision == decision::allowed) {
        res->route_path = std::string(p.route_path);
        if (authorizer_ && !authorizer_(r, *res)) {
          auth_result refused = auth_result::forbid("user '" + res->user + "' is not allowed");
          refused.scheme = res->scheme;
          refused.user = std::move(res->user);
          return fail(std::move(refused), &p);
        }
        return std::move(*res);
      }
      if (res->decision == decision::forbidden) return fail(std::move(*res), &p);
      if (!failure) failure = std::move(res);
    }
    if (!handled && !failure) {
      failure = auth_result::deny("no authenticator for " + std::string(scheme_name(c->scheme)) +
                                  " credentials");
      failure->scheme = c->scheme;
    }
  }
  if (!failure) failure = auth_result::deny("no credentials");
  return fail(std::move(*failure), &p);
}

// ---- Configuration

std::unique_ptr<chain> make_chain(const auth_config& config) {
  auto result = std::make_unique<chain>(config.chain);
  if (!config.users_file.empty()) {
    auto users = std::make_shared<const user_list>(user_list::load_file(config.users_file));
    if (users->empty()) throw config_error("auth users file " + config.users_file + ": no users");
    if (config.url) result->add(std::make_shared<url_authenticator>(users));
    if (config.session)
      result->add(std::make_shared<session_authenticator>(
          users, std::make_shared<session_tokens>(config.sessions)));
    if (config.basic) result->add(std::make_shared<basic_authenticator>(users, config.realm));
  }
  std::vector<jwt_key> keys;
  if (!config.jwt_secret.empty()) keys.push_back(jwt_key::hs256(config.jwt_secret));
  if (!config.jwt_public_key.empty())
    keys.push_back(config.jwt_public_key.find("-----BEGIN") != std::string::npos
                       ? jwt_key::from_pem(config.jwt_public_key)
                       : jwt_key::from_pem_file(config.jwt_public_key));
  if (!keys.empty())
    result->add(std::make_shared<jwt_authenticator>(
        std::make_shared<const jwt_verifier>(std::move(keys), config.jwt), config.realm));
  if (result->empty()) return nullptr;
  return result;
}

}  // namespace switchboard::runtime::auth
