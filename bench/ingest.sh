#!/usr/bin/env bash
# Ingest load benchmark: the release server on a fresh temp data dir
# (durable SQLite store), driven by wrk.
#
#   bench/ingest.sh [DURATION]        # default 20s per scenario
#   HERALD_BIN=/path/to/herald-server bench/ingest.sh 15s
#                                     # an earlier build, for before/after
#
# Reports req/s and latency percentiles for single-event POSTs at 64
# connections, events/s for batches of 100 (spread over 1000 runs at 8 and
# 32 connections, with random UUID ids, and all of one run in seq order),
# the server's peak RSS, and SQLite's own insert rate for the same rows
# (`sqlite_raw`: no HTTP, no parsing, no run state), the ceiling for any
# of these.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-20s}"

if ! command -v wrk >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq wrk
fi
cargo build --release -p herald-server --locked
cargo bench -p herald-server --bench sqlite_raw --locked --no-run

DATA="$(mktemp -d)"
OUT="$(mktemp)"
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null || true; rm -rf "$DATA" "$OUT"; }
trap cleanup EXIT

BIN="${HERALD_BIN:-${CARGO_TARGET_DIR:-./target}/release/herald-server}"
RUST_LOG=warn "$BIN" --listen 127.0.0.1:0 --data-dir "$DATA" >"$OUT" &
PID=$!
for _ in $(seq 100); do grep -q "listening on" "$OUT" 2>/dev/null && break; sleep 0.1; done
URL="$(sed -n 's/^herald-server listening on //p' "$OUT" | head -1)"
echo "server: $URL (pid $PID, data $DATA, binary $BIN)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

echo
echo "== single events: 64 connections, 2 threads, $DURATION =="
wrk -t2 -c64 -d"$DURATION" --latency -s bench/single.lua "$URL/api/ingest/event"

echo
echo "== batches of 100: 8 connections, 2 threads, $DURATION =="
wrk -t2 -c8 -d"$DURATION" --latency -s bench/batch.lua "$URL/api/ingest/event" | tee /tmp/herald-batch.txt
RPS="$(awk '/Requests\/sec/ {print $2}' /tmp/herald-batch.txt)"
echo "batch events/s: $(awk -v r="$RPS" 'BEGIN {printf "%.0f", r * 100}')"

echo
echo "== batches of 100: 32 connections, 2 threads, $DURATION =="
wrk -t2 -c32 -d"$DURATION" --latency -s bench/batch.lua "$URL/api/ingest/event" | tee /tmp/herald-batch32.txt
RPS="$(awk '/Requests\/sec/ {print $2}' /tmp/herald-batch32.txt)"
echo "batch events/s (32 connections): $(awk -v r="$RPS" 'BEGIN {printf "%.0f", r * 100}')"

echo
echo "== batches of 100 with random UUID ids: 8 connections, 2 threads, $DURATION =="
HERALD_IDS=uuid wrk -t2 -c8 -d"$DURATION" --latency -s bench/batch.lua "$URL/api/ingest/event" | tee /tmp/herald-batch-uuid.txt
RPS="$(awk '/Requests\/sec/ {print $2}' /tmp/herald-batch-uuid.txt)"
echo "batch events/s (random UUID ids): $(awk -v r="$RPS" 'BEGIN {printf "%.0f", r * 100}')"

echo
echo "== batches of 100 events of one run (seq 1..100): 8 connections, 2 threads, $DURATION =="
wrk -t2 -c8 -d"$DURATION" --latency -s bench/batch_run.lua "$URL/api/ingest/event" | tee /tmp/herald-batch-run.txt
RPS="$(awk '/Requests\/sec/ {print $2}' /tmp/herald-batch-run.txt)"
echo "per-run batch events/s: $(awk -v r="$RPS" 'BEGIN {printf "%.0f", r * 100}')"

echo
echo "peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$PID/status)"
echo "stored events: $(du -h "$DATA"/herald.sqlite3* | tail -n +1 | tr '\n' ' ')"
kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; PID=

echo
echo "== ceiling: SQLite alone, the same rows, commits of 800, one thread =="
SECS="${DURATION%s}"
cargo bench -q -p herald-server --bench sqlite_raw --locked -- --group 800 --seconds "$SECS"
