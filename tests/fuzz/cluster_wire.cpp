// cluster_wire.cpp: libFuzzer target for what one node receives from another through Redis:
// the topic framing (cluster/topic_frame.hpp) and, inside it, the versioned Protobuf envelope
// (cluster/envelope.hpp, proto/*.proto). No sockets, no Redis: the bytes a malicious or broken
// publisher could put on a topic channel.
//
// Input: one message as it arrives on a topic channel. It is copied into a heap buffer of
// exactly its size, so ASan reports any read past it. Invariants (a violation traps):
//   - parse_topic_frame() returns; a parsed frame re-serializes to the input byte for byte
//     (so the parse reads every byte it claims and no other); the sequence of a logged frame is
//     at least 1 and its epoch 1 to 64 bytes without ':';
//   - open() returns; an envelope it accepts has a version from 1 to wire_version, and
//     serializing it and opening that again gives an envelope of the same body kind, origin and
//     version (what the bridges switch on).
#include "cluster/envelope.hpp"
#include "cluster/topic_frame.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace cluster = switchboard::cluster;

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

namespace {

void check_envelope(std::string_view bytes) {
  cluster::v1::Envelope e;
  if (!cluster::open(bytes, e)) return;
  FUZZ_CHECK(e.version() >= 1 && e.version() <= cluster::wire_version);
  std::string again;
  FUZZ_CHECK(e.SerializeToString(&again));
  cluster::v1::Envelope back;
  FUZZ_CHECK(cluster::open(again, back));
  FUZZ_CHECK(back.body_case() == e.body_case());
  FUZZ_CHECK(back.origin() == e.origin());
  FUZZ_CHECK(back.version() == e.version());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto copy = std::make_unique<char[]>(size == 0 ? 1 : size);
  if (size) std::memcpy(copy.get(), data, size);
  const std::string_view in(copy.get(), size);

  cluster::topic_frame f;
  if (cluster::parse_topic_frame(in, f)) {
    std::string rebuilt;
    if (f.sequence == 0) {
      FUZZ_CHECK(f.epoch.empty());
      rebuilt = cluster::plain_topic_frame(f.payload);
    } else {
      FUZZ_CHECK(!f.epoch.empty() && f.epoch.size() <= cluster::max_epoch_size);
      FUZZ_CHECK(f.epoch.find(':') == std::string_view::npos);
      rebuilt = std::string(1, cluster::topic_frame_mark) + "l" + std::to_string(f.sequence) + ":" +
                std::string(f.epoch) + ":" + std::string(f.payload);
    }
    // A leading zero in SEQ ("007") parses too and re-serializes shorter: compare numerically.
    if (rebuilt != in) {
      FUZZ_CHECK(f.sequence != 0);
      cluster::topic_frame g;
      FUZZ_CHECK(cluster::parse_topic_frame(rebuilt, g));
      FUZZ_CHECK(g.sequence == f.sequence && g.epoch == f.epoch && g.payload == f.payload);
    }
    check_envelope(f.payload);
  }
  // The envelope alone too: most inputs are not framed, and the envelope parser should meet
  // arbitrary bytes directly.
  check_envelope(in);
  return 0;
}
