#!/usr/bin/env bash
# Worker-load benchmark (issue 15): the release server on a fresh temp data
# dir per scenario (durable SQLite store), driven by wrk with bench/worker.lua
# (the event mix, sizes and ids a worker fleet sends), every figure checked
# against what the server stored and set beside a ceiling measured in the
# same run.
#
#   bench/worker.sh [DURATION]          # seconds per scenario, default 15
#   HERALD_BIN=/path/to/herald-server bench/worker.sh
#                                       # an earlier build (before/after)
#
# Environment:
#   HERALD_MIX=lifecycle|plain   event mix (see bench/worker.lua), default lifecycle
#   HERALD_WARMUP=3              warm-up seconds before each scenario (own ids)
#   HERALD_LONG=120              length of the long single-event run ...
#   HERALD_WINDOW=30             ... reported per window of this many seconds
#   HERALD_SCENARIOS="..."       subset/order of: healthz single single-uuid
#                                batch8 batch8-uuid batch32 long sqlite_raw
#   HERALD_THREADS=2             wrk threads
#   SQLITE_RAW_BIN=path          a prebuilt sqlite_raw bench binary (no cargo while measuring)
#
# The older synthetic scenarios (one event type, 1000 runs) are still
# bench/ingest.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-15}"
DURATION="${DURATION%s}"
WARMUP="${HERALD_WARMUP:-3}"
LONG="${HERALD_LONG:-120}"
LONG="${LONG%s}"
WINDOW="${HERALD_WINDOW:-30}"
MIX="${HERALD_MIX:-lifecycle}"
THREADS="${HERALD_THREADS:-2}"
SCENARIOS="${HERALD_SCENARIOS:-healthz single single-uuid batch8 batch8-uuid batch32 long sqlite_raw}"
TARGET="${CARGO_TARGET_DIR:-./target}"
BIN="${HERALD_BIN:-$TARGET/release/herald-server}"

if ! command -v wrk >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq wrk
fi
if [ -z "${HERALD_BIN:-}" ]; then
  cargo build --release -p herald-server --locked
fi
# SQLITE_RAW_BIN: a prebuilt `sqlite_raw` bench binary, so a before/after
# run alternating builds compiles nothing while it measures.
if [ -z "${SQLITE_RAW_BIN:-}" ]; then
  case " $SCENARIOS " in
    *" sqlite_raw "*) cargo bench -p herald-server --bench sqlite_raw --locked --no-run ;;
  esac
fi

WORK="$(mktemp -d)"
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_server NAME: a fresh server on a fresh data dir; sets PID, URL, DATA.
start_server() {
  DATA="$WORK/$1/data"
  mkdir -p "$DATA"
  RUST_LOG=warn "$BIN" --listen 127.0.0.1:0 --data-dir "$DATA" >"$WORK/$1/server.log" 2>&1 &
  PID=$!
  URL=
  for _ in $(seq 200); do
    URL="$(sed -n 's/^herald-server listening on //p' "$WORK/$1/server.log" | head -1)"
    [ -n "$URL" ] && break
    sleep 0.05
  done
  if [ -z "$URL" ]; then echo "server did not start:"; cat "$WORK/$1/server.log"; exit 1; fi
}

# stop_server: peak RSS (VmHWM) into RSS, what it is made of now (anonymous
# memory, and file pages: mostly the binary's ~18 MB of code as far as it
# was touched) into RSSNOW, then a graceful stop.
stop_server() {
  RSS="$(awk '/VmHWM/ {printf "%.1f MB", $2 / 1024}' "/proc/$PID/status")"
  RSSNOW="$(awk '/RssAnon/ {a = $2} /RssFile/ {f = $2} END {printf "%.1f MB anonymous + %.1f MB file", a / 1024, f / 1024}' "/proc/$PID/status")"
  kill -TERM "$PID"
  wait "$PID" 2>/dev/null || true
  PID=
}

report() { sed -n "s/^$2=//p" "$1/report"; }

declare -A RATE RSSOF CHECK WINDOWS
FAILED=0
HEALTHZ=
SQLITE_RAW=

# scenario NAME MODE CONNECTIONS IDS SECONDS [WINDOW]
scenario() {
  local name=$1 mode=$2 conns=$3 ids=$4 secs=$5 window=${6:-0}
  mkdir -p "$WORK/$name/warm" "$WORK/$name/run"
  start_server "$name"
  echo
  echo "== $name: $mode, $conns connections, $THREADS threads, ids $ids, mix $MIX, ${WARMUP}s warm-up + ${secs}s =="
  local env=(HERALD_MODE="$mode" HERALD_MIX="$MIX" HERALD_IDS="$ids")
  local dirs=()
  if [ "$WARMUP" != 0 ]; then
    env "${env[@]}" HERALD_LABEL="$name warm-up" HERALD_REPORT="$WORK/$name/warm/report" \
      HERALD_PENDING="$WORK/$name/warm/pending" \
      wrk -t"$THREADS" -c"$conns" -d"${WARMUP}s" --timeout 10s -s bench/worker.lua "$URL/api/ingest/event" \
      >"$WORK/$name/warm/out"
    echo "warm-up: $(report "$WORK/$name/warm" acked) events acknowledged, $(printf %.0f "$(report "$WORK/$name/warm" rate)") events/s"
    dirs+=("$WORK/$name/warm")
  fi
  env "${env[@]}" HERALD_LABEL="$name" HERALD_REPORT="$WORK/$name/run/report" HERALD_PENDING="$WORK/$name/run/pending" \
    HERALD_WINDOW="$window" \
    wrk -t"$THREADS" -c"$conns" -d"${secs}s" --timeout 10s --latency -s bench/worker.lua "$URL/api/ingest/event"
  dirs+=("$WORK/$name/run")
  stop_server
  echo "   peak RSS   $RSS (server started fresh for this scenario; warm-up included); at the end $RSSNOW"
  if python3 bench/stored_check.py "$DATA" "${dirs[@]}"; then CHECK[$name]=pass; else CHECK[$name]=FAIL; FAILED=1; fi
  RATE[$name]="$(report "$WORK/$name/run" rate)"
  RSSOF[$name]="$RSS"
  WINDOWS[$name]="$(report "$WORK/$name/run" windows)"
}

echo "binary: $BIN ($(git rev-parse --short HEAD 2>/dev/null || echo '?') checked out)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "mix: $MIX; ${DURATION}s per scenario after ${WARMUP}s warm-up; long run ${LONG}s in ${WINDOW}s windows"

for s in $SCENARIOS; do
  case "$s" in
    healthz)
      mkdir -p "$WORK/healthz"
      start_server healthz
      echo
      echo "== ceiling: GET /healthz, 64 connections, $THREADS threads, ${DURATION}s =="
      wrk -t"$THREADS" -c64 -d"${DURATION}s" "$URL/healthz" | tee "$WORK/healthz/out"
      stop_server
      HEALTHZ="$(awk '/Requests\/sec/ {print $2}' "$WORK/healthz/out")"
      ;;
    single) scenario single single 64 seq "$DURATION" ;;
    single-uuid) scenario single-uuid single 64 uuid "$DURATION" ;;
    batch8) scenario batch8 batch 8 seq "$DURATION" ;;
    batch8-uuid) scenario batch8-uuid batch 8 uuid "$DURATION" ;;
    batch32) scenario batch32 batch 32 seq "$DURATION" ;;
    long) scenario long single 64 seq "$LONG" "$WINDOW" ;;
    sqlite_raw)
      echo
      echo "== ceiling: SQLite alone (sqlite_raw), commits of 800 rows, one thread, ${DURATION}s =="
      if [ -n "${SQLITE_RAW_BIN:-}" ]; then
        "$SQLITE_RAW_BIN" --group 800 --seconds "$DURATION" | tee "$WORK/sqlite_raw.out"
      else
        cargo bench -q -p herald-server --bench sqlite_raw --locked -- --group 800 --seconds "$DURATION" \
          | tee "$WORK/sqlite_raw.out"
      fi
      SQLITE_RAW="$(sed -n 's/.*: \([0-9]*\) rows\/s$/\1/p' "$WORK/sqlite_raw.out")"
      ;;
    *) echo "unknown scenario '$s'"; exit 2 ;;
  esac
done

ratio() { # ratio LABEL NUM DEN
  if [ -n "${2:-}" ] && [ -n "${3:-}" ]; then
    awk -v l="$1" -v n="$2" -v d="$3" 'BEGIN { if (d > 0) printf "  %-44s %6.3f  (%.0f / %.0f)\n", l, n / d, n, d }'
  fi
}

echo
echo "== summary: mix $MIX, ${DURATION}s per scenario, events/s = acknowledged non-duplicate events only =="
printf "  %-12s %12s %12s  %s\n" scenario "events/s" "peak RSS" "stored == acknowledged"
for s in single single-uuid batch8 batch8-uuid batch32 long; do
  [ -n "${RATE[$s]:-}" ] || continue
  printf "  %-12s %12.0f %12s  %s\n" "$s" "${RATE[$s]}" "${RSSOF[$s]}" "${CHECK[$s]}"
done
[ -n "$HEALTHZ" ] && printf "  %-12s %12.0f  (requests/s, ceiling for single)\n" healthz "$HEALTHZ"
[ -n "$SQLITE_RAW" ] && printf "  %-12s %12.0f  (rows/s, ceiling for batches)\n" sqlite_raw "$SQLITE_RAW"
if [ -n "${WINDOWS[long]:-}" ]; then
  echo "  long run per ${WINDOW}s window (events/s): ${WINDOWS[long]//,/ }"
fi
echo "ratios:"
ratio "single ÷ healthz req/s" "${RATE[single]:-}" "$HEALTHZ"
ratio "batch8 events/s ÷ sqlite_raw rows/s" "${RATE[batch8]:-}" "$SQLITE_RAW"
ratio "batch32 events/s ÷ sqlite_raw rows/s" "${RATE[batch32]:-}" "$SQLITE_RAW"
ratio "single: uuid ÷ sequential ids" "${RATE[single-uuid]:-}" "${RATE[single]:-}"
ratio "batch8: uuid ÷ sequential ids" "${RATE[batch8-uuid]:-}" "${RATE[batch8]:-}"
if [ -n "${WINDOWS[long]:-}" ]; then
  ratio "long: last window ÷ first window" "$(echo "${WINDOWS[long]}" | awk -F, '{print $NF}')" \
    "$(echo "${WINDOWS[long]}" | cut -d, -f1)"
fi
if [ "$FAILED" != 0 ]; then
  echo "FAIL: a stored-count check failed (see above); these figures are not valid"
  exit 1
fi
