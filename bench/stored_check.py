#!/usr/bin/env python3
"""Compare what wrk saw acknowledged with what the server stored.

    bench/stored_check.py DATA_DIR RUN_DIR [RUN_DIR ...]

Each RUN_DIR holds one wrk invocation's `report` (key=value totals written
by bench/worker.lua) and `pending` (`source<TAB>id` of every event sent but
never answered: in flight when wrk stopped, or refused). Give every
invocation that ran against this data dir (warm-up included), and run this
after the server has stopped (or at least after its last request finished).

The check: every acknowledged non-duplicate event is one row of `events`,
and the only other rows are unanswered events that the server finished
after wrk had gone:

    stored rows == acknowledged non-duplicate + unanswered events found stored

Exit status 1, with FAIL, when that does not hold, when a stored event has
no `seq` (the legacy `extensions` object was not read), when an acknowledged
event is a duplicate (ids are meant to be unique), or when any request was
refused or any batch element invalid.
"""

import os
import sqlite3
import sys


def read_report(path):
    out = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if key:
                out[key] = value
    return out


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    data_dir, run_dirs = sys.argv[1], sys.argv[2:]
    db = sqlite3.connect(f"file:{os.path.join(data_dir, 'herald.sqlite3')}?mode=ro", uri=True)
    stored = db.execute("SELECT count(*) FROM events").fetchone()[0]
    by_state = dict(db.execute("SELECT state, count(*) FROM events GROUP BY state").fetchall())
    # Every event bench/worker.lua sends carries `seq` inside the legacy
    # `extensions` object: a row without it means the object was not lifted.
    no_seq = db.execute("SELECT count(*) FROM events WHERE seq IS NULL").fetchone()[0]

    total = {k: 0 for k in ("acked", "duplicates", "invalid", "error_events", "sent_events")}
    pending = set()
    for run in run_dirs:
        rep = read_report(os.path.join(run, "report"))
        for k in total:
            total[k] += int(rep.get(k, 0))
        with open(os.path.join(run, "pending")) as f:
            for line in f:
                source, _, ident = line.rstrip("\n").partition("\t")
                if ident:
                    pending.add((source, ident))
    unanswered = len(pending)
    # One pass over the table: `events` has no index on (source, id) (the
    # store's dedup guard is its own table), so a lookup per pending event
    # would scan it once each.
    found = 0
    if pending:
        found = sum((source, ident) in pending for source, ident in db.execute("SELECT source, id FROM events"))

    expected = total["acked"] + found
    states = ", ".join(f"{k} {v}" for k, v in sorted(by_state.items()))
    print(f"   stored     {stored} rows in `events` ({states}); without seq: {no_seq}")
    print(
        f"   check      acknowledged non-duplicate {total['acked']} + unanswered-but-stored {found} "
        f"(of {unanswered} unanswered) = {expected}; duplicates {total['duplicates']}; "
        f"invalid {total['invalid']}; error events {total['error_events']}"
    )
    problems = []
    if no_seq:
        problems.append(f"{no_seq} stored events have no `seq`: the legacy `extensions` object was not read")
    if stored != expected:
        problems.append(f"stored {stored} != acknowledged {total['acked']} + unanswered-but-stored {found}")
    if total["duplicates"]:
        problems.append(f"{total['duplicates']} events answered `duplicate`: ids were re-sent")
    if total["invalid"] or total["error_events"]:
        problems.append(f"{total['invalid']} invalid elements, {total['error_events']} events in error responses")
    if problems:
        for p in problems:
            print(f"   FAIL       {p}")
        return 1
    print("   PASS       every acknowledged event is stored once; nothing else was stored")
    return 0


if __name__ == "__main__":
    sys.exit(main())
