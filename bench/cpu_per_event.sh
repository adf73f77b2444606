#!/usr/bin/env bash
# CPU time the server spends per acknowledged event, split by thread group
# (tokio workers, the SQLite writer, the checkpointer, the rest), read from
# /proc after a wrk run of bench/worker.lua. Rates on a shared 2-core box
# move with whatever else runs; CPU per event moves much less, so it is the
# figure to compare builds with when the machine is not quiet.
#
#   bench/cpu_per_event.sh BIN [MODE] [CONNECTIONS] [IDS] [SECONDS]
#   e.g. bench/cpu_per_event.sh target/release/herald-server single 64 seq 15
#
# MODE single|batch, IDS seq|uuid; HERALD_MIX (default plain) as in worker.lua.
# Also prints the bytes written per event (/proc/PID/io: write(2) calls, and
# what reached the block layer): the WAL traffic each event costs.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$1 MODE=${2:-single} CONNS=${3:-64} IDS=${4:-seq} SECS=${5:-15}
MIX=${HERALD_MIX:-plain}
WORK=$(mktemp -d)
. bench/server.sh
trap 'stop_server; rm -rf "$WORK"' EXIT

start_server "$BIN" "$WORK"

# Per thread: id, name and utime+stime in clock ticks (a thread started
# during the run counts from zero).
ticks() {
  for t in /proc/"$PID"/task/*; do
    printf '%s\t%s\t%s\n' "${t##*/}" "$(cat "$t/comm")" "$(awk '{print $14 + $15}' "$t/stat")"
  done
}
ticks >"$WORK/before"
# Bytes the server wrote (write syscalls, and what reached the block layer).
io() { awk '/^(wchar|write_bytes):/ {printf "%s ", $2}' "/proc/$PID/io"; }
IO_BEFORE=$(io)
HERALD_MODE=$MODE HERALD_MIX=$MIX HERALD_IDS=$IDS HERALD_REPORT="$WORK/report" \
  wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 10s --latency -s bench/worker.lua "$URL/api/ingest/event" >"$WORK/wrk"
ticks >"$WORK/after"
IO_AFTER=$(io)
ACKED=$(sed -n 's/^acked=//p' "$WORK/report")
RATE=$(sed -n 's/^rate=//p' "$WORK/report")
P99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk")
HZ=$(getconf CLK_TCK)

# Threads are matched by their (15-byte) names: tokio-runtime-w, herald-sqlite-w(riter), herald-sqlite-c(heckpoint).
awk -F'\t' -v acked="$ACKED" -v hz="$HZ" -v rate="$RATE" -v p99="$P99" '
  function group(n) {
    if (n ~ /^tokio/) return "tokio";
    if (n ~ /sqlite-w/) return "writer";
    if (n ~ /sqlite-c/) return "checkpoint";
    return "other";
  }
  FNR == NR { before[$1] = $3; next }
  { d = $3 - before[$1]; used[group($2)] += d; total += d }
  END {
    us = 1e6 / hz / acked;
    printf "acked %d, %.0f events/s, p99 %s; CPU per event: total %.1f us", acked, rate, p99, total * us;
    for (g in used) printf ", %s %.1f", g, used[g] * us;
    printf "\n";
  }' "$WORK/before" "$WORK/after"
# shellcheck disable=SC2086
set -- $IO_BEFORE $IO_AFTER
awk -v acked="$ACKED" -v w0="$1" -v b0="$2" -v w1="$3" -v b1="$4" \
  'BEGIN { printf "written per event: %.0f B by write(2), %.0f B to the disk\n", (w1 - w0) / acked, (b1 - b0) / acked }'
