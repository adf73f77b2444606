# Sourced by the bench scripts that drive one server of their own:
# `start_server BIN DIR` starts BIN on a free port with its data in DIR/data
# and its log in DIR/log, and sets PID and URL; `stop_server` stops it (safe
# to call twice, or before a start: an EXIT trap can always call it).
PID=
URL=
start_server() {
  RUST_LOG=warn "$1" --listen 127.0.0.1:0 --data-dir "$2/data" >"$2/log" 2>&1 &
  PID=$!
  URL=
  for _ in $(seq 200); do
    URL=$(sed -n 's/^herald-server listening on //p' "$2/log" | head -1)
    [ -n "$URL" ] && return 0
    sleep 0.05
  done
  cat "$2/log"
  return 1
}
stop_server() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  PID=
}
