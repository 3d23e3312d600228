// fwd.hpp: forward declarations of runtime/auth/ (CAF-style), and the one clock type it uses.
//
// Include this where an authenticator is only held or passed (runtime/connection.hpp), and the
// full header where it is called. Nothing in runtime/auth/ reads a clock: every function that
// judges expiry takes the current time as a time_point argument.
#pragma once

#include <chrono>

namespace switchboard::runtime::auth {

// Wall-clock time: JWT NumericDates are seconds since the Unix epoch (RFC 7519 section 2).
using time_point = std::chrono::system_clock::time_point;

struct credentials;
struct presented_credentials;
class jwt_key;
class jwt_verifier;
struct jwt_options;
struct jwt_claims;
class user_list;
class session_tokens;
struct session_options;
struct auth_request;
struct auth_result;
class authenticator;
class chain;
struct auth_config;

}  // namespace switchboard::runtime::auth
