#!/usr/bin/env bash
# Schemathesis against the daemon's own OpenAPI document (/api/v1/openapi.json):
# every documented operation is called with generated requests, valid and
# invalid, alone and in sequences along the links it infers (create, read,
# delete), and each answer must be no server error (5xx), a documented
# status, of a documented content type and valid against its schema; invalid
# input must be refused and the bearer token enforced. Not checked: that
# every schema-valid request is accepted (positive_data_acceptance), since
# the schema cannot say all a handler validates (a phone number, an expiry:
# a schema-valid string may rightly get 400). See docs/reliability.md, "API
# conformance".
#
#   scripts/schemathesis.sh [MAX_EXAMPLES]       default 100 per operation
#   CAMPAIGND_BIN=target/release/campaignd scripts/schemathesis.sh
#
# The daemon runs on a throwaway SQLite database with one campaign (its
# contacts imported), the embedded sim vendor and an admin token; the calls
# it gets may pause, cancel or delete anything there. Exits non-zero on any
# failure.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPTS="$(pwd)/scripts"
MAX_EXAMPLES=${1:-100}
BIN=${CAMPAIGND_BIN:-target/debug/campaignd}
python3 -c 'import schemathesis' 2>/dev/null || python3 -m pip install -q 'schemathesis>=4.32,<5'
[ -x "$BIN" ] || cargo build --locked
WORK=$(mktemp -d)
PID=
trap '[ -z "$PID" ] || { kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; }; rm -rf "$WORK"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TOKEN=schemathesis-$RANDOM$RANDOM
cat > "$WORK/config.toml" <<TOML
[database]
url = "sqlite://$WORK/api.db?mode=rwc"

[http]
listen = "127.0.0.1:$PORT"
admin_token = "$TOKEN"

[[vendors]]
id = "sim"
kind = "sim"
embedded_listen = "127.0.0.1:0"
api_key = "api-key"
callback_secret = "api-secret"
max_concurrency = 2

[vendors.sim]
latency_min = "1s"
latency_max = "2s"

[[campaigns]]
name = "demo"
timezone = "Asia/Jakarta"
windows = "daily 00:00-24:00"
max_concurrency = 2
vendors = ["sim"]
default_country_code = "62"

[campaigns.recall]
max_attempts = 2
default = { action = "stop" }
TOML
# The demo contacts: the document's examples (campaign `demo`, phone
# +628125550021, vendor `sim`) name real rows, so example-based calls reach
# the handlers' logic rather than their 404s.
"$BIN" --config "$WORK/config.toml" import --campaign demo examples/demo-contacts.csv > "$WORK/import.log" 2>&1 \
  || { cat "$WORK/import.log"; exit 1; }
. scripts/daemon.sh
start_daemon || exit 1
# A suppression entry, so export and delete have something to find.
curl -fsS -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' \
  --data-binary $'phone,reason\n+628125550021,complaint\n' "http://127.0.0.1:$PORT/api/v1/suppressions" >/dev/null
set +e
# From the temp directory: schemathesis keeps a replay cache (.schemathesis/) in its working directory.
cd "$WORK"
# One worker: with two, hypothesis describes filters by parsing their source
# from two threads at once, and CPython 3.11's parser can fail there
# ("AST constructor recursion depth mismatch"), a runtime error of the tool
# that failed a run with every test case passing.
# The CLI beside the python3 that has the package (a pip install under
# pyenv gets no shim on PATH until a rehash).
ST="$(python3 -c 'import os, sys; print(os.path.join(os.path.dirname(sys.executable), "schemathesis"))')"
[ -x "$ST" ] || ST=schemathesis
# Serializers for the media types schemathesis has none for (NDJSON uploads).
SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$SCRIPTS${PYTHONPATH:+:$PYTHONPATH}" \
"$ST" run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  --url "http://127.0.0.1:$PORT" \
  -H "Authorization: Bearer $TOKEN" \
  --checks all \
  --exclude-checks positive_data_acceptance \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$MAX_EXAMPLES" \
  --seed 1 \
  --workers 1 \
  --request-timeout 10 \
  --suppress-health-check all \
  --generation-database none \
  --output-sanitize true \
  --no-color 2>&1 | tee "$WORK/schemathesis.txt"
STATUS=${PIPESTATUS[0]}
set -e
if ! kill -0 $PID 2>/dev/null; then
  echo "schemathesis: the daemon died during the run" >&2
  tail -50 "$WORK/daemon.log" >&2
  exit 1
fi
if [ "$STATUS" -ne 0 ]; then
  echo "schemathesis: failures (exit $STATUS); daemon log tail:" >&2
  tail -30 "$WORK/daemon.log" >&2
  exit "$STATUS"
fi
