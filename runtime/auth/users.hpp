// users.hpp: the user list of the manual's Authentication.AuthUsers: one `user=password` line
// per user, passwords in plain text (the manual's format; keep the file readable by the daemon
// only). Loaded once at start-up (`--auth-users FILE`), then read-only.
//
// File format, line by line (LF or CRLF; a UTF-8 byte order mark at the start is skipped):
// - the line is trimmed of spaces and tabs at both ends; blank lines are skipped;
// - a line whose first character is '#' is a comment (elsewhere '#' is part of the password);
// - otherwise it must contain '=': the user is what precedes the first '=', the password all
//   that follows (it may contain '='; it may be empty, and then only an empty password
//   matches). Spaces around '=' belong to the user and password: "a = b" is user "a ",
//   password " b", as the manual's format has no syntax for them;
// - a user must be non-empty, must not contain ':' (RFC 7617 section 2: a Basic user-id
//   cannot), and must appear once; user and password must not contain control characters.
// A broken rule throws config_error naming the source and the line number.
//
// check() compares SHA-256 digests of the passwords with CRYPTO_memcmp, so the time it takes
// does not depend on where the passwords differ or on their lengths, and an unknown user costs
// the same comparison against a dummy digest. (Whether a user exists is still observable in
// principle through the hash-table lookup; the user names are not the secret.) Only digests
// are kept in memory.
//
// Thread safety: const member functions may run concurrently; add() and parse only at set-up.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

namespace switchboard::runtime::auth {

class user_list {
 public:
  user_list() = default;

  // Reads the file format above from `text`; `source` names it in errors ("users.txt").
  static user_list parse(std::string_view text, std::string_view source = "auth users");

  // parse() of a file. Throws config_error when it cannot be read or is malformed.
  static user_list load_file(const std::string& path);

  // Adds one user. Throws config_error on an empty user, ':' in the user, a control character,
  // or a user already present.
  void add(std::string_view user, std::string_view password);

  // True when `user` is listed with exactly `password`.
  bool check(std::string_view user, std::string_view password) const;

  bool contains(std::string_view user) const;
  std::size_t size() const noexcept { return digests_.size(); }
  bool empty() const noexcept { return digests_.empty(); }

 private:
  using digest = std::array<unsigned char, 32>;
  std::unordered_map<std::string, digest> digests_;  // user -> SHA-256(password)
};

}  // namespace switchboard::runtime::auth
