// envelope.hpp: sealing and opening the inter-node envelope (proto/envelope.proto).
#pragma once

#include "cluster/proto/envelope.pb.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::cluster {

// The wire major this build writes and the highest it reads.
inline constexpr std::uint32_t wire_version = 1;

// `e` with version and origin set, serialized.
std::string seal(v1::Envelope& e, const std::string& origin);

// False (and `e` unspecified) when `bytes` is not an envelope or its major is above ours.
bool open(std::string_view bytes, v1::Envelope& e);

}  // namespace switchboard::cluster
