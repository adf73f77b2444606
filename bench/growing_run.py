#!/usr/bin/env python3
"""One run that grows: batches of `ai.node.created` events, each a new
node, sent to one run over one keep-alive connection, against a fresh
release server on a temp data dir. Reports the ingest rate per slice of
the run's growth (a run whose cost per event grows with its size slows
down slice after slice), then reads the run back (`GET /api/runs/{id}`)
and pages its nodes, with the time and size of each answer.

    bench/growing_run.py [--bin target/release/herald-server] [--nodes 100000] [--batch 100]

Every batch must be answered 200 with every element `applied`, and the
run must end with exactly `--nodes` nodes: nothing is counted that was
not stored.
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "herald-server"))
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--slices", type=int, default=10)
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="herald-growing-")
    server = subprocess.Popen([args.bin, "--listen", "127.0.0.1:0", "--data-dir", data],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "warn"})
    try:
        line = server.stdout.readline().decode()
        m = re.match(r"herald-server listening on http://([\d.]+):(\d+)", line)
        if not m:
            sys.exit(f"unexpected first line from the server: {line!r}")
        host, port = m.group(1), int(m.group(2))
        conn = http.client.HTTPConnection(host, port, timeout=60)
        run = str(uuid.uuid4())
        nonce = uuid.uuid4().hex[:12]
        print(f"binary: {args.bin}\none run, {args.nodes} nodes in batches of {args.batch}, one connection")
        per_slice = args.nodes // args.slices
        sent, slice_start, t_slice = 0, 0, time.perf_counter()
        rates = []
        while sent < args.nodes:
            n = min(args.batch, args.nodes - sent)
            batch = [{
                "specversion": "1.0", "id": f"g{nonce}-{sent + i}", "source": "/bench/growing", "type": "ai.node.created",
                "subject": f"run/{run}", "time": "2024-05-01T12:00:00Z", "datacontenttype": "application/json",
                "data": {"run_id": run, "node_id": f"node-{sent + i:07d}", "node_type": "step", "parent_id": f"node-{(sent + i) // 2:07d}"},
            } for i in range(n)]
            conn.request("POST", "/api/ingest/event", body=json.dumps(batch),
                         headers={"Content-Type": "application/cloudevents-batch+json"})
            resp = conn.getresponse()
            body = json.loads(resp.read())
            results = body.get("results", body) if isinstance(body, dict) else body
            if resp.status != 200 or any(r.get("status") != "applied" for r in results):
                sys.exit(f"batch at {sent} not applied: {resp.status} {json.dumps(body)[:300]}")
            sent += n
            if sent - slice_start >= per_slice or sent == args.nodes:
                dt = time.perf_counter() - t_slice
                rates.append((sent - slice_start) / dt)
                print(f"  nodes {slice_start:>7}..{sent:<7} {rates[-1]:>9.0f} events/s")
                slice_start, t_slice = sent, time.perf_counter()
        print(f"last slice / first slice: {rates[-1] / rates[0]:.2f}")

        t = time.perf_counter()
        conn.request("GET", f"/api/runs/{run}")
        resp = conn.getresponse()
        raw = resp.read()
        dt = (time.perf_counter() - t) * 1000
        doc = json.loads(raw)
        count = doc.get("item_counts", {}).get("nodes")
        inline = len(doc.get("nodes", {}))
        print(f"GET /api/runs/{{id}}: {resp.status}, {dt:.1f} ms, {len(raw)} bytes, item_counts.nodes={count}, inline nodes={inline}")
        if count is not None:
            if count != args.nodes:
                sys.exit(f"FAIL: the run holds {count} nodes, {args.nodes} were acknowledged")
            t = time.perf_counter()
            conn.request("GET", f"/api/runs/{run}/items/nodes?limit=1000")
            resp = conn.getresponse()
            raw = resp.read()
            dt = (time.perf_counter() - t) * 1000
            print(f"GET /api/runs/{{id}}/items/nodes?limit=1000: {resp.status}, {dt:.1f} ms, {len(raw)} bytes")
        elif inline != args.nodes:
            sys.exit(f"FAIL: the run holds {inline} nodes, {args.nodes} were acknowledged")
        with open(f"/proc/{server.pid}/status") as f:
            hwm = next(l for l in f if l.startswith("VmHWM")).split()[1]
        print(f"peak RSS: {int(hwm) / 1024:.1f} MB")
    finally:
        server.terminate()
        server.wait(timeout=30)
        subprocess.run(["rm", "-rf", data])


if __name__ == "__main__":
    main()
