#!/usr/bin/env bash
# The test command: every Rust test on SQLite and PostgreSQL, then the browser tests.
# Needs PostgreSQL on TEST_DATABASE_URL (default: the local server, trust auth); each test
# creates and drops its own database. Installs Chromium and the Node packages if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "== Rust tests (SQLite and PostgreSQL)"
cargo test --workspace --no-fail-fast

echo "== browser tests (Playwright + axe-core in Chromium)"
cargo build --bin zhucan
bash scripts/e2e.sh
