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
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER="${1:-15}"
. scripts/services.sh

if ! command -v wrk >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq wrk
fi
services_install
cargo build --release -p herald-server --locked
cargo bench -p herald-server --bench mongo_raw --locked --no-run
unset MONGODB_URI
services_start
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

raw() {
  cargo bench -q -p herald-server --bench mongo_raw --locked -- \
    --uri "$URI" --seconds "$SECONDS_PER" "$@"
}

# Start herald on a fresh database of $URI; sets URL and PID.
herald() {
  local out
  out="$(mktemp)"
  RUST_LOG=warn ./target/release/herald-server --listen 127.0.0.1:0 --data-dir "$(mktemp -d)" \
    --store mongodb --mongodb-uri "$URI" --mongodb-db "herald_bench_$RANDOM$RANDOM" "$@" >"$out" &
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

for flags in "--sync-on-commit" ""; do
  secantus_start $flags
  URI="$SECANTUS_URI"
  echo
  echo "######## secantusd-rs ${flags:-(default flags)} at $URI"

  echo; echo "== raw insert_one: 64 concurrent, ${SECONDS_PER}s =="
  raw --mode one --concurrency 64
  echo; echo "== herald single events: 64 connections, ${SECONDS_PER}s =="
  herald; single; stop_herald
  echo; echo "== herald single events, --mongodb-transactions off: 64 connections, ${SECONDS_PER}s =="
  herald --mongodb-transactions off; single; stop_herald
  echo; echo "== herald single events + Redis: 64 connections, ${SECONDS_PER}s =="
  herald --redis-url "$REDIS_URL"; single; stop_herald

  echo; echo "== raw insert_many of 100: 8 concurrent, ${SECONDS_PER}s =="
  raw --mode many --batch 100 --concurrency 8
  echo; echo "== herald batches of 100: 8 connections, ${SECONDS_PER}s =="
  herald; batch; stop_herald
done
