#include "cluster/envelope.hpp"

namespace switchboard::cluster {

std::string seal(v1::Envelope& e, const std::string& origin) {
  e.set_version(wire_version);
  e.set_origin(origin);
  std::string out;
  e.SerializeToString(&out);
  return out;
}

bool open(std::string_view bytes, v1::Envelope& e) {
  if (!e.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  return e.version() >= 1 && e.version() <= wire_version;
}

}  // namespace switchboard::cluster
