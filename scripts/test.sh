#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test (unit, conformance, interop, short fuzz).
# Usage: scripts/test.sh [ctest arguments...], e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSWITCHBOARD_WERROR="${SWITCHBOARD_WERROR:-OFF}" >/dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j2 "$@"
