#!/usr/bin/env bash
# Installs what the build needs, builds, and starts the daemon on its embedded defaults
# (ws://127.0.0.1:8080, status page at http://127.0.0.1:8080/). Extra arguments go to the daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --build-only
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target switchboard
exec ./build/bin/switchboard "$@"
