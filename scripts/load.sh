#!/usr/bin/env bash
# Load on the callback listener from a second process: wrk at a fixed rate,
# every request a signed `sim` result, then "acknowledged = stored" checked
# against the inbox. See docs/reliability.md, "Load".
#
#   scripts/load.sh [RATE] [SECONDS]        default 2000 req/s for 60 s
#   CAMPAIGND_BIN=target/debug/campaignd scripts/load.sh 200 10   (CI's fast variant)
#
# Exits non-zero on any error, any non-2xx answer, or an acknowledged body
# that is not stored.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-2000}
SECONDS_=${2:-60}
CONNECTIONS=${LOAD_CONNECTIONS:-32}
BIN=${CAMPAIGND_BIN:-target/release/campaignd}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
[ -x "$BIN" ] || cargo build --release --locked
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/config.toml" <<TOML
[database]
url = "sqlite://$WORK/load.db?mode=rwc"

[http]
listen = "127.0.0.1:$PORT"

[[vendors]]
id = "sim"
kind = "sim"
base_url = "http://127.0.0.1:9"
api_key = "load-key"
callback_secret = "load-secret"
TOML
python3 scripts/load_bodies.py load-secret 4000 > "$WORK/bodies.lua"
. scripts/daemon.sh
start_daemon || exit 1
# Each connection waits CONNECTIONS*1000/RATE ms between its requests: RATE in all.
DELAY_MS=$(python3 -c "print($CONNECTIONS*1000/$RATE)")
cat > "$WORK/load.lua" <<LUA
dofile("$WORK/bodies.lua")
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; bad = 0; n = math.random(#bodies) end
function delay() return $DELAY_MS end
function request()
  n = n % #bodies + 1
  return wrk.format("POST", "/callbacks/sim",
    { ["Content-Type"] = "application/json", ["X-Sim-Signature"] = signatures[n] }, bodies[n])
end
function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local o, b = 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format("RESULT acknowledged=%d refused=%d socket_errors=%d requests=%d seconds=%.1f rate=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    o, b, e.connect + e.read + e.write + e.timeout, summary.requests, summary.duration / 1e6,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
LUA
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_}s" --timeout 10s -s "$WORK/load.lua" "http://127.0.0.1:$PORT" > "$WORK/wrk.txt"
RESULT=$(grep '^RESULT' "$WORK/wrk.txt")
ACKED=$(sed -E 's/.*acknowledged=([0-9]+).*/\1/' <<<"$RESULT")
STORED=$(python3 -c "import sqlite3; print(sqlite3.connect('$WORK/load.db').execute(\"SELECT COUNT(*) FROM callback_inbox WHERE vendor_id='sim' AND state <> 'rejected'\").fetchone()[0])")
echo "load: target_rate=$RATE connections=$CONNECTIONS ${RESULT#RESULT } stored=$STORED"
grep -q 'refused=0 socket_errors=0' <<<"$RESULT" || { echo "load: errors or non-2xx answers" >&2; exit 1; }
# Every acknowledged body is stored. A few more may be stored than answered:
# requests still in flight when wrk stops are stored, their answers unread.
[ "$STORED" -ge "$ACKED" ] || { echo "load: acknowledged $ACKED > stored $STORED: a 2xx without a row" >&2; exit 1; }
[ "$STORED" -le $((ACKED + CONNECTIONS)) ] || { echo "load: stored $STORED is more than acknowledged $ACKED + $CONNECTIONS in flight" >&2; exit 1; }
