# Sourced by the scripts that drive a real daemon (load.sh, schemathesis.sh).
# start_daemon: runs "$BIN" on "$WORK/config.toml" in the background (its pid
# in PID, its log in "$WORK/daemon.log") and returns once /readyz answers on
# $PORT; fails with the daemon's log if it dies or is not ready in 30 s.
start_daemon() {
  CAMPAIGND_LOG=warn "$BIN" --config "$WORK/config.toml" run 2> "$WORK/daemon.log" &
  PID=$!
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/daemon.log"; return 1; }
    sleep 0.1
  done
  echo "daemon not ready on port $PORT after 30 s" >&2
  cat "$WORK/daemon.log"
  return 1
}
