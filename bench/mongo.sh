#!/usr/bin/env bash
# MongoDB ingest benchmark: the driver's own raw insert rate against a
# MongoDB-compatible server, then the release herald-server on the same
# server (with and without Redis, with and without transactions), in one
# run at equal concurrency.
#
#   bench/mongo.sh [SECONDS]       # default 15 per scenario
#
# Starts private servers (scripts/services.sh): secantusd-rs twice — with
# `--sync-on-commit`, where `journal: true` writes are on disk when
# acknowledged (what herald asks for), and without, where they are not —
# and a redis-server. Scenarios, per MongoDB configuration:
# - raw insert_one, 64 concurrent tasks      vs  herald single events, 64 connections
# - raw insert_many of 100, 8 concurrent     vs  herald batches of 100, 8 connections
#                                                (bench/batch.lua: one type, 1000 runs)
# - (same raw figure)                        vs  worker-batch8: bench/worker.lua batches of
#                                                100 events of one run, plain mix, 8 connections,
#                                                checked: stored == acknowledged
#
# Environment:
#   MONGO_CONFIGS="sync default"   secantusd-rs configurations (sync: --sync-on-commit)
#   MONGO_SCENARIOS="single single-notxn single-redis batch"   herald scenarios
#                                  (add worker-batch8); the raw figure each needs is taken first
#   HERALD_BINS="before=/a after=/b"   herald builds to compare (default: this tree's
#                                  release build); each scenario runs them in turn
#   HERALD_ROUNDS=1                how often each scenario alternates the builds
#   MONGO_RAW_BIN=path             a prebuilt mongo_raw load generator (no cargo while measuring)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER="${1:-15}"
. scripts/services.sh

if ! command -v wrk >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq wrk
fi
services_install
TARGET="${CARGO_TARGET_DIR:-./target}"
CONFIGS="${MONGO_CONFIGS:-sync default}"
SCENARIOS="${MONGO_SCENARIOS:-single single-notxn single-redis batch}"
BINS="${HERALD_BINS:-herald=$TARGET/release/herald-server}"
ROUNDS="${HERALD_ROUNDS:-1}"
[ -z "${HERALD_BINS:-}" ] && cargo build --release -p herald-server --locked
[ -z "${MONGO_RAW_BIN:-}" ] && cargo bench -p herald-server --bench mongo_raw --locked --no-run
unset MONGODB_URI
services_start
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

raw() {
  if [ -n "${MONGO_RAW_BIN:-}" ]; then
    "$MONGO_RAW_BIN" --uri "$URI" --seconds "$SECONDS_PER" "$@"
  else
    cargo bench -q -p herald-server --bench mongo_raw --locked -- --uri "$URI" --seconds "$SECONDS_PER" "$@"
  fi
}

# Start herald build $BIN on a fresh database of $URI; sets URL, PID, DB.
herald() {
  local out
  out="$(mktemp)"
  DB="herald_bench_$RANDOM$RANDOM"
  RUST_LOG=warn "$BIN" --listen 127.0.0.1:0 --data-dir "$(mktemp -d)" \
    --store mongodb --mongodb-uri "$URI" --mongodb-db "$DB" "$@" >"$out" &
  PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$out" 2>/dev/null && break; sleep 0.1; done
  URL="$(sed -n 's/^herald-server listening on //p' "$out" | head -1)"
  sed -n 's/^store: /  store: /p' "$out"
}

stop_herald() { kill "$PID"; wait "$PID" 2>/dev/null || true; }

single() {
  wrk -t2 -c64 -d"${SECONDS_PER}s" --latency -s bench/single.lua "$URL/api/ingest/event"
}

batch() {
  wrk -t2 -c8 -d"${SECONDS_PER}s" --latency -s bench/batch.lua "$URL/api/ingest/event" | tee /tmp/herald-mongo-batch.txt
  echo "herald batch events/s: $(awk '/Requests\/sec/ {printf "%.0f", $2 * 100}' /tmp/herald-mongo-batch.txt)"
}

# The worker load's batches (plain mix), then the check that MongoDB holds
# exactly the acknowledged events (plus, at most, those still in flight
# when wrk stopped, which the server may have finished after).
worker_batch() {
  local dir
  dir="$(mktemp -d)"
  HERALD_MODE=batch HERALD_MIX=plain HERALD_REPORT="$dir/report" HERALD_PENDING="$dir/pending" \
    HERALD_LABEL="$LABEL worker-batch8" \
    wrk -t2 -c8 -d"${SECONDS_PER}s" --timeout 10s --latency -s bench/worker.lua "$URL/api/ingest/event"
  stop_herald
  local stored acked dups unanswered
  stored="$(raw --mode count --db "$DB" | sed -n 's/^stored=//p')"
  acked="$(sed -n 's/^acked=//p' "$dir/report")"
  dups="$(sed -n 's/^duplicates=//p' "$dir/report")"
  unanswered="$(wc -l <"$dir/pending")"
  if [ "$dups" = 0 ] && [ "$stored" -ge "$acked" ] && [ "$stored" -le $((acked + unanswered)) ]; then
    echo "$LABEL worker-batch8 check: pass (stored $stored, acknowledged $acked, in flight at the end $unanswered)"
  else
    echo "$LABEL worker-batch8 check: FAIL (stored $stored, acknowledged $acked, duplicates $dups, in flight $unanswered)"
  fi
  rm -rf "$dir"
}

# Run herald scenario $1 for each build of $BINS, $ROUNDS times in turn.
each_build() {
  local scenario=$1 round entry
  for round in $(seq "$ROUNDS"); do
    for entry in $BINS; do
      LABEL="${entry%%=*}"
      BIN="${entry#*=}"
      echo; echo "== $LABEL: $scenario (round $round), ${SECONDS_PER}s =="
      case "$scenario" in
        single) herald; single; stop_herald ;;
        single-notxn) herald --mongodb-transactions off; single; stop_herald ;;
        single-redis) herald --redis-url "$REDIS_URL"; single; stop_herald ;;
        batch) herald; batch; stop_herald ;;
        worker-batch8) herald; worker_batch ;;
      esac
    done
  done
}

for config in $CONFIGS; do
  flags=""
  [ "$config" = sync ] && flags="--sync-on-commit"
  secantus_start $flags
  URI="$SECANTUS_URI"
  echo
  echo "######## secantusd-rs ${flags:-(default flags)} at $URI"
  took_one=0
  took_many=0
  for scenario in $SCENARIOS; do
    case "$scenario" in
      single*)
        if [ "$took_one" = 0 ]; then
          echo; echo "== raw insert_one: 64 concurrent, ${SECONDS_PER}s =="
          raw --mode one --concurrency 64
          took_one=1
        fi ;;
      *)
        if [ "$took_many" = 0 ]; then
          echo; echo "== raw insert_many of 100: 8 concurrent, ${SECONDS_PER}s =="
          raw --mode many --batch 100 --concurrency 8
          took_many=1
        fi ;;
    esac
    each_build "$scenario"
  done
done
