#!/usr/bin/env bash
# Installs everything Switchboard's build and tests need on Debian 12, then nothing else.
# Both README commands and .ci/run call this script, so what CI proves is what a user runs.
# Idempotent: packages already present are skipped, so a second run takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: compiler, CMake, and the libraries the code links.
build_pkgs=(build-essential cmake git pkg-config
            libcaf-dev libboost-dev libboost-system-dev libboost-test-dev
            libssl-dev zlib1g-dev rapidjson-dev libtomlplusplus-dev libprotobuf-dev protobuf-compiler
            libhiredis-dev)
# Tests: real peers (python3-websockets, node ws, Chromium), the openssl CLI (test
# certificates), the libFuzzer toolchain, the proxies the client is tested through, and Redis
# (the cluster tests start their own redis-server).
test_pkgs=(python3 python3-websockets openssl chromium nodejs npm clang-14 libclang-rt-14-dev
           tinyproxy microsocks dante-server redis-server)

want=("${build_pkgs[@]}")
if [ "${1:-}" != "--build-only" ]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  # nodejs/npm may come from outside Debian (a newer node on PATH is fine).
  case "$p" in nodejs) command -v node >/dev/null && continue ;; npm) command -v npm >/dev/null && continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" != "--build-only" ] && [ -f tests/interop/package.json ]; then
  # Peers from npm (node ws, puppeteer-core driving Debian's Chromium). No lockfile is kept:
  # package.json pins exact versions.
  if [ ! -d tests/interop/node_modules ] || [ tests/interop/package.json -nt tests/interop/node_modules ]; then
    echo "setup: npm packages for tests/interop"
    (cd tests/interop && npm install --no-package-lock --no-audit --no-fund --loglevel=error >/dev/null)
    touch tests/interop/node_modules
  fi
fi
if [ "${1:-}" != "--build-only" ] && [ -f tests/bench/peers/package.json ]; then
  # The fan-out benchmark's peers (node ws broadcast, socket.io rooms); pinned, no lockfile.
  if [ ! -d tests/bench/peers/node_modules ] || [ tests/bench/peers/package.json -nt tests/bench/peers/node_modules ]; then
    echo "setup: npm packages for tests/bench/peers"
    (cd tests/bench/peers && npm install --no-package-lock --no-audit --no-fund --loglevel=error >/dev/null)
    touch tests/bench/peers/node_modules
  fi
fi
echo "setup: ok"
