#include "runtime/auth/users.hpp"
#include "runtime/text.hpp"

#include "runtime/config.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace switchboard::runtime::auth {
namespace {

using digest = std::array<unsigned char, 32>;

digest sha256(std::string_view text) {
  digest d{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), d.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != d.size())
    throw std::runtime_error("SHA-256 failed");
  return d;
}

bool has_control(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return true;
  }
  return false;
}

// Why `user`/`password` cannot be added, or nullptr.
const char* invalid_entry(std::string_view user, std::string_view password) {
  if (user.empty()) return "empty user name";
  if (user.find(':') != std::string_view::npos) return "':' in a user name (Basic cannot send it)";
  if (has_control(user) || has_control(password)) return "control character";
  return nullptr;
}

}  // namespace

user_list user_list::parse(std::string_view text, std::string_view source) {
  static constexpr std::string_view bom = "\xEF\xBB\xBF";
  if (text.substr(0, bom.size()) == bom) text.remove_prefix(bom.size());
  user_list list;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = trim_ows(line);
    if (line.empty() || line.front() == '#') continue;
    const auto where = [&] { return std::string(source) + " line " + std::to_string(number); };
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) throw config_error(where() + ": expected user=password");
    const std::string_view user = line.substr(0, eq);
    const std::string_view password = line.substr(eq + 1);
    if (const char* why = invalid_entry(user, password)) throw config_error(where() + ": " + why);
    if (list.contains(user))
      throw config_error(where() + ": user '" + std::string(user) + "' listed twice");
    list.digests_.emplace(std::string(user), sha256(password));
  }
  return list;
}

user_list user_list::load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error("auth users file " + path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw config_error("auth users file " + path + ": read error");
  return parse(text.str(), path);
}

void user_list::add(std::string_view user, std::string_view password) {
  if (const char* why = invalid_entry(user, password))
    throw config_error(std::string("auth user: ") + why);
  if (contains(user)) throw config_error("auth user '" + std::string(user) + "' added twice");
  digests_.emplace(std::string(user), sha256(password));
}

bool user_list::check(std::string_view user, std::string_view password) const {
  static const digest dummy = sha256("switchboard: no such user");
  const digest given = sha256(password);
  const auto it = digests_.find(std::string(user));
  const digest& expected = it == digests_.end() ? dummy : it->second;
  const bool same = CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
  return same && it != digests_.end();
}

bool user_list::contains(std::string_view user) const {
  return digests_.count(std::string(user)) != 0;
}

}  // namespace switchboard::runtime::auth
