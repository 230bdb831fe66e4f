#!/usr/bin/env bash
# scripts/e2e.sh - browser tests: keyboard-only journeys and axe-core on every page, in Debian's
# headless Chromium driven by playwright-core (e2e/). Exits non-zero if any test fails.
#
#   scripts/e2e.sh                 # all tests in e2e/tests/
#   scripts/e2e.sh tests/axe.test.mjs   # one file (paths relative to e2e/)
#
# Environment:
#   ZHUCAN_BIN           server binary (default $CARGO_TARGET_DIR or target, /debug/zhucan; built with
#                        `cargo build --bin zhucan` only if missing)
#   E2E_TIMEOUT          overall limit in seconds (default 600)
#   E2E_CONCURRENCY      test files run in parallel (default 1; each file starts its own server)
#   ZHUCAN_E2E_SEED_CACHE=0   seed the demo district for every server instead of copying a
#                        seeded data dir (slower)
#   ZHUCAN_E2E_SCREENSHOTS=1  also screenshot every page axe checks (e2e/artifacts/)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
t0=$(date +%s)

"$ROOT/e2e/install.sh"

if [ -n "${ZHUCAN_BIN:-}" ]; then
  case "$ZHUCAN_BIN" in /*) ;; *) ZHUCAN_BIN="$PWD/$ZHUCAN_BIN" ;; esac
  [ -x "$ZHUCAN_BIN" ] || { echo "e2e.sh: ZHUCAN_BIN=$ZHUCAN_BIN is not an executable" >&2; exit 2; }
else
  ZHUCAN_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/zhucan"
  if [ ! -x "$ZHUCAN_BIN" ]; then
    echo "e2e.sh: $ZHUCAN_BIN missing; building it (cargo build --bin zhucan)"
    (cd "$ROOT" && cargo build --bin zhucan)
  fi
fi
export ZHUCAN_BIN
echo "e2e.sh: server binary $ZHUCAN_BIN ($(date -r "$ZHUCAN_BIN" '+%F %T'))"

cd "$ROOT/e2e"
rm -rf artifacts
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=(tests/); fi

status=0
timeout --kill-after=20 "${E2E_TIMEOUT:-600}" \
  node --test --test-reporter=spec --test-concurrency="${E2E_CONCURRENCY:-1}" "${targets[@]}" || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "e2e.sh: timed out after ${E2E_TIMEOUT:-600}s" >&2
fi
echo "e2e.sh: finished in $(( $(date +%s) - t0 ))s with status $status (screenshots in e2e/artifacts/)"
exit "$status"
