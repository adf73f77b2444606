#!/usr/bin/env bash
# What the SQLite writer thread waits for, by kernel stack: the release
# server under bench/worker.lua's single-event load, `perf record -e
# sched:sched_switch -g` on the writer thread alone, and the stacks it was
# switched out with, counted by the state it left in (D: uninterruptible
# I/O, S: asleep waiting for work, R: preempted). BENCHMARKS.md, "What a
# commit waits for", was measured with it.
#
#   bench/writer_waits.sh BIN [SECONDS] [WARMUP_SECONDS]
#   e.g. bench/writer_waits.sh target/release/herald-server 5 10
#
# Needs perf (Debian: linux-perf) and wrk; run as root (tracepoints).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$1 SECS=${2:-5} WARMUP=${3:-4}
WORK=$(mktemp -d)
. bench/server.sh
trap 'stop_server; rm -rf "$WORK"' EXIT

start_server "$BIN" "$WORK"

HERALD_MODE=single HERALD_MIX=plain HERALD_IDS=seq HERALD_REPORT="$WORK/report" \
  wrk -t2 -c64 -d"$((WARMUP + SECS + 3))s" --timeout 10s -s bench/worker.lua "$URL/api/ingest/event" >"$WORK/wrk" &
WRK=$!
sleep "$WARMUP"
# The writer's thread name is cut to 15 bytes by the kernel.
TID=$(grep -lx herald-sqlite-w /proc/"$PID"/task/*/comm | head -1 | cut -d/ -f5)
[ -n "$TID" ] || { echo "no writer thread found"; exit 1; }
echo "WAL size after ${WARMUP}s: $(stat -c %s "$WORK/data/herald.sqlite3-wal" 2>/dev/null || echo 0) bytes"
perf record -q -e sched:sched_switch -g -t "$TID" -o "$WORK/perf.data" -- sleep "$SECS" 2>/dev/null
wait "$WRK"
grep -E "Requests/sec" "$WORK/wrk" || true
perf script -i "$WORK/perf.data" 2>/dev/null >"$WORK/script.txt"

# One block per switch: the tracepoint line (with prev_state) and the
# stack. Scheduler frames are dropped so the first frame is the reason.
python3 - "$WORK/script.txt" <<'PY'
import collections, re, sys
states, stacks = collections.Counter(), collections.Counter()
for block in open(sys.argv[1]).read().split("\n\n"):
    lines = [l for l in block.strip().split("\n") if l.strip()]
    if not lines:
        continue
    m = re.search(r"prev_state=(\S+)", lines[0])
    state = m.group(1) if m else "?"
    states[state] += 1
    frames = [l.split()[1] for l in lines[1:] if len(l.split()) > 1]
    frames = [f for f in frames if not re.match(r"(__schedule|schedule|__traceiter|__probestub|preempt_schedule|io_schedule|schedule_timeout)", f)]
    stacks[(state, " < ".join(frames[:7]))] += 1
total = sum(states.values())
print("switches by state:", ", ".join(f"{s} {n} ({100 * n / total:.0f}%)" for s, n in states.most_common()))
for (state, frames), n in stacks.most_common(12):
    print(f"{n:6d} {state:3s} {frames}")
PY
