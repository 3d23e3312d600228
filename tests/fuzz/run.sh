#!/usr/bin/env bash
# run.sh: build the libFuzzer targets with clang++-14 (ASan + UBSan) and run each in turn.
#
# Standalone on purpose: libFuzzer needs clang while the tree builds with the default compiler,
# so this compiles only the codec sources (runtime/websocket/*.cpp) and the targets into
# build-fuzz/ at the repository root, rebuilding what is out of date. Targets run one after
# the other (each is single-threaded), from the seeds in tests/fuzz/corpus/<target>/ plus the
# corpus grown by earlier runs in build-fuzz/corpus/<target>/. Crashes, leaks, timeouts and
# out-of-memory inputs land in build-fuzz/artifacts/.
#
# Exit status: 0 when every target ran its time without a finding, 1 on any finding or build
# failure, 2 on bad usage, 77 when clang++-14 or its libFuzzer runtime is missing (ctest's
# SKIP_RETURN_CODE). libFuzzer's own exit code for a crash is also 77, so it is mapped to 1.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: tests/fuzz/run.sh [--seconds N] [--target NAME]... [--build-only]
  --seconds N    run each target for N seconds (default 60)
  --target NAME  run only this target (websocket_frame, http_handshake, websocket_deflate, auth_jwt,
                 proxy_replies, url_redirect, sgc_codec, files_codec, presence_codec,
                 cluster_wire); repeatable
  --build-only   build the targets, do not run them
Environment: CXX (default clang++-14), FUZZ_FLAGS (extra libFuzzer flags, e.g. -jobs=2).
EOF
}

seconds=60
build_only=0
targets=()
all_targets=(websocket_frame http_handshake websocket_deflate auth_jwt proxy_replies url_redirect
             sgc_codec files_codec presence_codec cluster_wire)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    --target) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; targets+=("$2"); shift 2 ;;
    --target=*) targets+=("${1#*=}"); shift ;;
    --build-only) build_only=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "run.sh: --seconds needs a number" >&2; exit 2; }
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ -f "$(dirname "$0")/$t.cpp" ]] || { echo "run.sh: unknown target $t" >&2; exit 2; }
done

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=build-fuzz
cxx=${CXX:-clang++-14}

if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "run.sh: $cxx not found; skipping the fuzz targets" >&2
  exit 77
fi

# -O1 -g as libFuzzer recommends; UBSan findings abort (no recovery) so libFuzzer sees them.
sanitize=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
cxxflags=(-std=c++17 -O1 -g -Wall -Wextra -I"$root" "${sanitize[@]}")
codec_sources=(runtime/websocket/error.cpp runtime/websocket/frame.cpp
               runtime/websocket/utf8.cpp runtime/websocket/handshake.cpp
               runtime/websocket/deflate.cpp)
headers=(runtime/websocket/*.hpp)
codec_sources+=(runtime/auth/base64.cpp runtime/auth/credentials.cpp runtime/auth/jwt.cpp
               runtime/auth/users.cpp runtime/auth/session_tokens.cpp runtime/auth/authenticator.cpp)
headers+=(runtime/auth/*.hpp)
codec_sources+=(runtime/proxy.cpp runtime/url.cpp)
headers+=(runtime/proxy.hpp runtime/url.hpp)
codec_sources+=(protocols/sgc/codec.cpp)
headers+=(protocols/sgc/codec.hpp)
codec_sources+=(protocols/files/codec.cpp)
headers+=(protocols/files/codec.hpp)
codec_sources+=(protocols/presence/codec.cpp)
headers+=(protocols/presence/codec.hpp)
# The cluster's wire: the topic framing and the Protobuf envelope (protoc's C++ for it is
# generated into $out/gen and compiled like the rest; libprotobuf itself is Debian's).
protos=(cluster/proto/*.proto)
codec_sources+=(cluster/topic_frame.cpp cluster/envelope.cpp)
headers+=(cluster/topic_frame.hpp cluster/envelope.hpp)
for p in "${protos[@]}"; do codec_sources+=("$out/gen/${p%.proto}.pb.cc"); done
cxxflags+=(-I"$root/$out/gen")

mkdir -p "$out/obj" "$out/artifacts" "$out/gen"

# True when $1 is missing or older than any of the other arguments.
stale() {
  local target=$1
  shift
  [[ -e "$target" ]] || return 0
  local dep
  for dep in "$@"; do [[ "$dep" -nt "$target" ]] && return 0; done
  return 1
}

# libclang-rt-14-dev provides the libFuzzer runtime; without it there is nothing to build.
probe="$out/obj/probe"
if stale "$probe"; then
  if ! printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' |
      "$cxx" -fsanitize=fuzzer -x c++ - -o "$probe" 2>/dev/null; then
    echo "run.sh: $cxx cannot link -fsanitize=fuzzer (libclang-rt-14-dev missing?); skipping" >&2
    exit 77
  fi
fi

if stale "$out/gen/cluster/proto/envelope.pb.cc" "${protos[@]}"; then
  echo "run.sh: protoc cluster/proto/*.proto"
  protoc --cpp_out="$out/gen" -I "$root" "${protos[@]}"
fi

# Codec objects: compiled once with coverage instrumentation, two at a time.
objects=()
pids=()
for src in "${codec_sources[@]}"; do
  obj="$out/obj/$(echo "${src%.cpp}" | tr / _).o"  # by path: two codec.cpp never collide
  objects+=("$obj")
  if stale "$obj" "$src" "${headers[@]}"; then
    echo "run.sh: compiling $src"
    "$cxx" "${cxxflags[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj" &
    pids+=($!)
    if [[ ${#pids[@]} -ge 2 ]]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  fi
done
for pid in "${pids[@]}"; do wait "$pid"; done

for t in "${targets[@]}"; do
  if stale "$out/$t" "tests/fuzz/$t.cpp" "${objects[@]}" "${headers[@]}"; then
    echo "run.sh: building $out/$t"
    "$cxx" "${cxxflags[@]}" -fsanitize=fuzzer "tests/fuzz/$t.cpp" "${objects[@]}" -lprotobuf -lcrypto -lz \
      -o "$out/$t"
  fi
done
[[ $build_only -eq 0 ]] || exit 0

failed=()
for t in "${targets[@]}"; do
  mkdir -p "$out/corpus/$t"
  echo "run.sh: running $t for ${seconds}s (log: $out/$t.log)"
  status=0
  # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
  "$out/$t" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -max_total_time="$seconds" \
    -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" ${FUZZ_FLAGS:-} \
    "$out/corpus/$t" "tests/fuzz/corpus/$t" >"$out/$t.log" 2>&1 || status=$?
  # The summary: the last status line and the final stats.
  grep -E '^#[0-9]+.*(DONE|cov:)' "$out/$t.log" | tail -n 1 || true
  grep -E '^(Done|stat::)' "$out/$t.log" || true
  if [[ $status -ne 0 ]]; then
    echo "run.sh: $t FAILED (exit $status); see $out/$t.log and $out/artifacts/" >&2
    grep -E 'ERROR|SUMMARY|Test unit written' "$out/$t.log" >&2 || true
    failed+=("$t")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run.sh: findings in: ${failed[*]}" >&2
  exit 1
fi
echo "run.sh: no findings (${targets[*]}, ${seconds}s each)"
