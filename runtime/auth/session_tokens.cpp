#include "runtime/auth/session_tokens.hpp"

#include "runtime/auth/base64.hpp"
#include "runtime/config.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

namespace switchboard::runtime::auth {
namespace {

constexpr std::size_t token_bytes = 32;

struct category final : std::error_category {
  const char* name() const noexcept override { return "auth.session"; }
  std::string message(int ev) const override {
    switch (static_cast<session_errc>(ev)) {
      case session_errc::unknown_token:
        return "unknown session token";
      case session_errc::expired:
        return "session token expired";
      case session_errc::rng_failed:
        return "random number generator failed";
    }
    return "unknown session error";
  }
};

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> d{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), d.data(), &size, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  return d;
}

}  // namespace

const std::error_category& session_category() noexcept {
  static const category instance;
  return instance;
}

std::size_t session_tokens::digest_hash::operator()(const digest& d) const noexcept {
  // The digest is uniformly distributed already: its first bytes are a fine hash.
  std::size_t h = 0;
  std::memcpy(&h, d.data(), sizeof h);
  return h;
}

session_tokens::session_tokens(session_options options) : options_(options) {
  if (options_.ttl.count() <= 0) throw config_error("session token ttl must be positive");
  if (options_.max_tokens == 0) throw config_error("session max_tokens must be positive");
}

void session_tokens::erase(std::unordered_map<digest, entry, digest_hash>::iterator it) {
  order_.erase(it->second.order);
  tokens_.erase(it);
}

std::error_code session_tokens::issue(std::string_view user, time_point now, std::string& token) {
  unsigned char random[token_bytes];
  if (RAND_bytes(random, sizeof random) != 1) return session_errc::rng_failed;
  std::string text =
      encode_base64url(std::string_view(reinterpret_cast<const char*>(random), sizeof random));
  OPENSSL_cleanse(random, sizeof random);
  const digest key = sha256(text);

  const std::lock_guard<std::mutex> lock(mutex_);
  // Expired tokens at the old end go first; then the oldest live ones while over the bound.
  while (!order_.empty()) {
    const auto oldest = tokens_.find(order_.front());
    if (oldest->second.expires > now && tokens_.size() < options_.max_tokens) break;
    erase(oldest);
  }
  order_.push_back(key);
  if (!tokens_.emplace(key, entry{std::string(user), now + options_.ttl, std::prev(order_.end())})
           .second) {
    order_.pop_back();  // the same 256 random bits twice: the generator is broken
    return session_errc::rng_failed;
  }
  token = std::move(text);
  return {};
}

std::error_code session_tokens::redeem(std::string_view token, time_point now, std::string& user) {
  const digest key = sha256(token);
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto it = tokens_.find(key);
  if (it == tokens_.end()) return session_errc::unknown_token;
  if (now >= it->second.expires) {
    erase(it);
    return session_errc::expired;
  }
  if (options_.single_use) {
    user = std::move(it->second.user);
    erase(it);
  } else {
    user = it->second.user;
  }
  return {};
}

std::size_t session_tokens::purge(time_point now) {
  const std::lock_guard<std::mutex> lock(mutex_);
  std::size_t dropped = 0;
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    if (now >= it->second.expires) {
      order_.erase(it->second.order);
      it = tokens_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  return dropped;
}

std::size_t session_tokens::size() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return tokens_.size();
}

}  // namespace switchboard::runtime::auth
