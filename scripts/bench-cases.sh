#!/usr/bin/env bash
# Online applications benchmark (docs/BENCHMARKS.md, issue 3), on one backend:
#   1. generate and import PERSONS persons, generate CASES cases over them (`zhucan gen cases`)
#   2. serve the database; sign in as a street reviewer (password) and as a resident with cases
#      (text-message code, read from the log the embedded SMS sender writes)
#   3. REQUESTS sequential requests each to the street queue, the resident's case page and its API
#      twin: server time (the Server-Timing header) and client time, median / p90 / p99
#   4. under load, side by side on the same server: wrk with CONNECTIONS connections for DURATION
#      against /healthz, then the resident's case page and its API twin, then /healthz signed in
# usage: BACKEND=sqlite|postgres scripts/bench-cases.sh [PERSONS] [CASES]
#        (default 1000000 500000; needs a release build and wrk; BODIES=DIR keeps the pages)
set -euo pipefail
cd "$(dirname "$0")/.."
persons="${1:-1000000}"
cases="${2:-500000}"
backend="${BACKEND:-sqlite}"
bin="${ZHUCAN_BIN:-target/release/zhucan}"
[ -x "$bin" ] || cargo build --release --bin zhucan
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
pg="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432}"
port="${BENCH_PORT:-18090}"
requests="${REQUESTS:-200}"
duration="${DURATION:-15s}"
connections="${CONNECTIONS:-64}"
base="http://127.0.0.1:$port"
work="$(mktemp -d)"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
    if [ "$backend" = postgres ]; then
        psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS zhucan_bench_cases" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
case "$backend" in
sqlite) db="sqlite://$work/zhucan.db" ;;
postgres)
    db="$pg/zhucan_bench_cases"
    psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS zhucan_bench_cases" -c "CREATE DATABASE zhucan_bench_cases" >/dev/null
    ;;
*) echo "BACKEND must be sqlite or postgres" >&2; exit 1 ;;
esac
export ZHUCAN_DATABASE_URL="$db" ZHUCAN_KEY_FILE="$work/key"
csv="$work/persons.csv"

secs() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.1f}')" "$1" "$2"; }
now() { date +%s.%N; }

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; backend $backend; $(psql --version); $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)"
"$bin" gen persons --count "$persons" --seed 2026 --out "$csv" >/dev/null
# A resident to sign in as: the first generated person with a mobile number.
phone=$(python3 - "$csv" <<'EOF'
import csv, sys
rows = csv.reader(open(sys.argv[1], encoding="utf-8-sig"))
header = next(rows)
col = next(i for i, h in enumerate(header) if h in ("phone", "联系电话"))
print(next(r[col] for r in rows if r[col]))
EOF
)
"$bin" migrate >/dev/null
t0=$(now); "$bin" import persons "$csv" 2>/dev/null | tail -n1; t1=$(now)
echo "imported $persons persons in $(secs "$t0" "$t1") s"
t0=$(now); "$bin" gen cases --count "$cases" --seed 2026 --phone "$phone" 2>/dev/null; t1=$(now)
echo "generated $cases cases in $(secs "$t0" "$t1") s"
password="Bench-cases-2026"
ZHUCAN_PASSWORD="$password" "$bin" user add bench-street --role street_reviewer --scope 510112001 >/dev/null

"$bin" serve --listen "127.0.0.1:$port" --data "$work/data" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 240); do curl -fs "$base/readyz" >/dev/null 2>&1 && break; sleep 0.25; done

# Street reviewer: the login form's CSRF cookie, then the password form.
jar="$work/jar"
curl -fs -c "$jar" "$base/staff/login" >/dev/null
csrf=$(awk '$6 == "zhucan_csrf" {print $7}' "$jar")
curl -fs -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" \
    --data-urlencode "username=bench-street" --data-urlencode "password=$password" "$base/staff/login"
staff_cookie="zhucan_session=$(awk '$6 == "zhucan_session" {print $7}' "$jar")"

# Resident: a code by text message (the log sender prints it), exchanged for a bearer token.
curl -fs -o /dev/null -H 'Content-Type: application/json' -d "{\"phone\":\"$phone\"}" "$base/api/v1/session/code"
code=""
for _ in $(seq 1 40); do
    code=$(grep -oE '(验证码是|code is) [0-9]{6}' "$work/server.log" | tail -n1 | grep -oE '[0-9]{6}' || true)
    [ -n "$code" ] && break
    sleep 0.25
done
token=$(curl -fs -H 'Content-Type: application/json' -d "{\"phone\":\"$phone\",\"code\":\"$code\"}" \
    "$base/api/v1/session" | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
# The resident's case to follow: one under review if they have one.
case_id=$(curl -fs -H "Authorization: Bearer $token" "$base/api/v1/cases" | python3 -c '
import json, sys
cases = json.load(sys.stdin)["cases"]
open_ = [c for c in cases if c["state"] in ("submitted", "in_review")]
print((open_ or cases)[0]["id"])')

# Sequential requests on one kept-alive connection: server time (Server-Timing) and client time.
measure() { # NAME PATH HEADER
    python3 - "$port" "$requests" "$@" <<'EOF'
import http.client, os, sys, time
port, n, name, path, header = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
key, _, value = header.partition(": ")
conn = http.client.HTTPConnection("127.0.0.1", port)
server, client = [], []
for i in range(n + 10):
    start = time.perf_counter()
    conn.request("GET", path, headers={key: value})
    response = conn.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - start) * 1000
    if response.status != 200:
        sys.exit(f"{name}: {path} answered {response.status}")
    if i < 10:  # warm-up
        continue
    timing = response.getheader("Server-Timing")
    server.append(float(timing.split("dur=")[1]))
    client.append(elapsed)
def q(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
if os.environ.get("BODIES"):  # to check what was measured
    with open(os.path.join(os.environ["BODIES"], path.strip("/").replace("/", "_").replace("?", "_")), "wb") as f:
        f.write(body)
fmt = lambda v: f"{q(v, 50):.2f} / {q(v, 90):.2f} / {q(v, 99):.2f}"
print(f"{name}: {len(body)} bytes; server ms p50/p90/p99 {fmt(server)}; client ms {fmt(client)}")
EOF
}
echo "--- $requests sequential requests each"
measure "street queue /staff/cases?step=street" "/staff/cases?step=street" "Cookie: $staff_cookie"
measure "resident case page /me/cases/{id}" "/me/cases/$case_id" "Authorization: Bearer $token"
measure "resident case API /api/v1/cases/{id}" "/api/v1/cases/$case_id" "Authorization: Bearer $token"

load() { # NAME PATH [HEADER]
    local out
    out=$(wrk -t2 -c"$connections" -d"$duration" --latency ${3:+-H "$3"} "$base$2")
    local rps p50 p99 errors
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ' || true)
    echo "$1: $rps req/s, p50 $p50, p99 $p99 $errors" >&2
    echo "$rps"
}
echo "--- under load: wrk, $connections connections, $duration each, same server"
health=$(load "/healthz" "/healthz")
page=$(load "resident case page /me/cases/{id}" "/me/cases/$case_id" "Authorization: Bearer $token")
api=$(load "resident case API /api/v1/cases/{id}" "/api/v1/cases/$case_id" "Authorization: Bearer $token")
# Where the time goes: /healthz with the token costs the session's two lookups and nothing else.
signed=$(load "/healthz with the resident's token" "/healthz" "Authorization: Bearer $token")
python3 -c "import sys; h, p, a, s = map(float, sys.argv[1:]); print(f'ratio to /healthz: case page {p / h:.3f}, case API {a / h:.3f} (goal >= 0.25); /healthz with a session {s / h:.3f}')" "$health" "$page" "$api" "$signed"
