#!/usr/bin/env bash
# Import benchmark, side by side with the baselines in one run (docs/BENCHMARKS.md):
#   1. zhucan import into SQLite   vs  sqlite3's .import of the same file into a bare table
#   2. zhucan import into PostgreSQL vs psql \copy of the same file into a bare table
#   3. zhucan demo first start (seeding 15,790 residents)
# usage: scripts/bench-import.sh [ROWS]   (default 1000000; needs a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-1000000}"
bin="${ZHUCAN_BIN:-target/release/zhucan}"
[ -x "$bin" ] || cargo build --release --bin zhucan
pg="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432}"
work="$(mktemp -d)"
trap 'rm -rf "$work"; psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS zhucan_bench" -c "DROP DATABASE IF EXISTS zhucan_bench_bare" >/dev/null 2>&1 || true' EXIT
csv="$work/persons.csv"
key="$work/key"

# Per-stage wall time of the import's writer, summed from its debug log (docs/BENCHMARKS.md).
log_filter="warn,zhucan_store::bulk=debug,zhucan_jobs=debug"
stages() {
  python3 - "$1" <<'PY'
import re, sys, collections
total, waited = collections.Counter(), ""
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)
    m = re.search(r"stages_ms=(.*)$", line)
    if m:
        for kv in m.group(1).split():
            k, v = kv.split("=")
            total[k] += float(v) / 1000
    m = re.search(r"waited_for_parser_s=([0-9.]+) in_store_s=([0-9.]+)", line)
    if m:
        waited = f"; waited for the reader {float(m.group(1)):.1f} s, in the store {float(m.group(2)):.1f} s"
print("  writer stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in total.items()) + waited)
PY
}
secs() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.2f}')" "$1" "$2"; }
now() { date +%s.%N; }

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; sqlite3 $(sqlite3 --version | cut -d' ' -f1); $(psql --version)"
t0=$(now); "$bin" gen persons --count "$rows" --seed 2026 --out "$csv" >/dev/null; t1=$(now)
echo "generated $rows rows ($(du -h "$csv" | cut -f1)) in $(secs "$t0" "$t1") s"

# --- SQLite
t0=$(now); sqlite3 "$work/bare.db" -cmd ".mode csv" ".import $csv bare"; t1=$(now)
base_sqlite=$(secs "$t0" "$t1")
"$bin" migrate --database "sqlite://$work/zhucan.db" --key-file "$key" >/dev/null
t0=$(now)
RUST_LOG="$log_filter" /usr/bin/time -f "%M" -o "$work/rss" "$bin" import persons "$csv" --database "sqlite://$work/zhucan.db" --key-file "$key" 2>"$work/sqlite.log" | tail -n1
t1=$(now)
ours_sqlite=$(secs "$t0" "$t1")
echo "SQLite:     sqlite3 .import $base_sqlite s | zhucan import $ours_sqlite s ($(python3 -c "print(f'{$ours_sqlite/$base_sqlite:.2f}')")x), peak RSS $(( $(cat "$work/rss") / 1024 )) MB"
stages "$work/sqlite.log"

# --- PostgreSQL
psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS zhucan_bench" -c "DROP DATABASE IF EXISTS zhucan_bench_bare" -c "CREATE DATABASE zhucan_bench" -c "CREATE DATABASE zhucan_bench_bare" >/dev/null
cols=$(head -n1 "$csv" | sed 's/^\xEF\xBB\xBF//' | tr ',' '\n' | sed 's/.*/"&" text/' | paste -sd, -)
psql -q "$pg/zhucan_bench_bare" -c "CREATE TABLE bare ($cols)"
t0=$(now); psql -q "$pg/zhucan_bench_bare" -c "\\copy bare FROM '$csv' WITH (FORMAT csv, HEADER true)"; t1=$(now)
base_pg=$(secs "$t0" "$t1")
"$bin" migrate --database "$pg/zhucan_bench" --key-file "$key" >/dev/null
t0=$(now)
RUST_LOG="$log_filter" /usr/bin/time -f "%M" -o "$work/rss" "$bin" import persons "$csv" --database "$pg/zhucan_bench" --key-file "$key" 2>"$work/pg.log" | tail -n1
t1=$(now)
ours_pg=$(secs "$t0" "$t1")
echo "PostgreSQL: psql \\copy $base_pg s | zhucan import $ours_pg s ($(python3 -c "print(f'{$ours_pg/$base_pg:.2f}')")x), peak RSS $(( $(cat "$work/rss") / 1024 )) MB"
stages "$work/pg.log"

# --- demo first start
"$bin" demo --data "$work/demo" --listen 127.0.0.1:18089 > "$work/demo.log" 2>&1 &
demo=$!
for _ in $(seq 1 120); do curl -fs http://127.0.0.1:18089/readyz >/dev/null 2>&1 && break; sleep 0.25; done
kill "$demo"; wait "$demo" 2>/dev/null || true
echo "demo first start: $(grep -o 'seeded the demo district.*' "$work/demo.log")"
