// base64.hpp: strict base64 (RFC 4648 section 4) and base64url (section 5) for the
// authentication schemes: Basic credentials (RFC 7617 section 2, padded base64), JWS parts
// (RFC 7515 section 2, base64url without padding) and session tokens (base64url).
//
// Decoding is strict because every decoded value here is compared or verified: one text per
// byte string, so two spellings of a token or a signature cannot both pass (RFC 4648 section
// 3.5, "canonical encoding"). A decoder rejects whitespace, characters of the other alphabet,
// padding where it is not allowed (or missing where it is required), a length that no encoding
// produces (1 mod 4), and non-zero bits in the last character's padding bits.
#pragma once

#include <string>
#include <string_view>

namespace switchboard::runtime::auth {

// Padded base64 with '+' and '/'. Returns false (out unspecified) when `in` is not the
// canonical encoding of some byte string; the empty string decodes to empty.
bool decode_base64(std::string_view in, std::string& out);

// Unpadded base64url with '-' and '_' (RFC 7515 section 2: "with all trailing '=' characters
// omitted"). Returns false (out unspecified) on '=' anywhere, any character outside the
// alphabet, a length of 1 mod 4, or non-zero padding bits.
bool decode_base64url(std::string_view in, std::string& out);

// Padded base64 and unpadded base64url encodings of `in`.
std::string encode_base64(std::string_view in);
std::string encode_base64url(std::string_view in);

}  // namespace switchboard::runtime::auth
