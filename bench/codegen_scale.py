#!/usr/bin/env python3
"""Codegen at scale: how much Rust `herald generate` writes for a catalog of
N event types, and how long the generated crate takes to build.

For each N it writes a synthetic catalog (the mix of issue 17: every type has
numeric bounds, a constrained string, an enum, an optional object and an
optional array; enums and string shapes are shared across types the way a
real catalog repeats `status` or `name`), runs the `herald` binary into a
scratch crate that depends on the `herald` runtime by path, and reports:

- generated lines and bytes, total and per event type;
- with --build: the crate's cold build (dependencies built first, the
  crate's own incremental state removed), then the rebuild after editing
  one event type (an optional field added, the code regenerated), each
  with its wall time and peak memory (max RSS of any process, from
  /usr/bin/time -v).

Usage (from the repository root; the `herald` binary must be built):

    python3 bench/codegen_scale.py --sizes 100,1000
    flock -s /work/QUIET python3 bench/codegen_scale.py --sizes 100,300 --build

Options: --herald PATH (default $CARGO_TARGET_DIR/debug/herald), --work DIR
(default $CARGO_TARGET_DIR/codegen-scale; the scratch crates keep their own
target directory there, so repeated runs reuse the built dependencies),
--profile dev|release (the scratch crate's build profile, default dev).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Enums a real catalog repeats across many types, and the property names
# they travel under; each type draws one, and every 7th type has its own.
SHARED_ENUMS = [
    ("status", ["queued", "running", "succeeded", "failed"]),
    ("severity", ["debug", "info", "warning", "error", "critical"]),
    ("phase", ["plan", "execute", "review"]),
    ("outcome", ["success", "failure", "skipped"]),
]
# Constrained strings, likewise shared (property name, schema).
SHARED_STRINGS = [
    ("name", {"type": "string", "minLength": 1, "maxLength": 64}),
    ("label", {"type": "string", "minLength": 1, "maxLength": 128}),
    ("code", {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{1,6}$"}),
]


def event_type(i: int) -> tuple[str, dict]:
    """The i-th synthetic event type: its CloudEvents `type` and entry."""
    domain = f"d{i // 10:03d}"
    name = f"ai.{domain}.action{i % 10}"
    enum_prop, enum_values = SHARED_ENUMS[i % len(SHARED_ENUMS)]
    if i % 7 == 0:
        enum_prop, enum_values = f"mode{i}", [f"m{i}_{k}" for k in range(3)]
    str_prop, str_schema = SHARED_STRINGS[i % len(SHARED_STRINGS)]
    data = {
        "type": "object",
        "properties": {
            "run_id": {"type": "string", "format": "uuid"},
            str_prop: dict(str_schema),
            enum_prop: {"type": "string", "enum": enum_values},
            "count": {"type": "integer", "minimum": 0, "maximum": 1000 + i},
            "ratio": {"type": "number", "minimum": 0, "maximum": 1},
            "detail": {
                "type": "object",
                "properties": {
                    "summary": {"type": "string", "maxLength": 256},
                    "score": {"type": "number", "minimum": 0},
                },
                "required": ["summary"],
            },
            "tags": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 32}, "maxItems": 10},
        },
        "required": ["run_id", str_prop, enum_prop, "count"],
    }
    example = {"run_id": "d4a4b7db-8a88-45c1-84bf-a633dab24a25", enum_prop: enum_values[0], "count": 3}
    example[str_prop] = "ABC-123" if str_prop == "code" else "x"
    entry = {
        "description": f"Synthetic event {i} of the codegen scale benchmark.",
        "version": 1,
        "subject": "run/{run_id}",
        "data": data,
        "examples": [example],
    }
    return name, entry


def catalog(n: int, edited: bool = False) -> str:
    """A catalog of n types as YAML (JSON flow style is YAML). With `edited`,
    the middle type gains an optional field: the one-type edit."""
    events = {}
    for i in range(n):
        name, entry = event_type(i)
        if edited and i == n // 2:
            entry["data"]["properties"]["note"] = {"type": "string"}
        events[name] = entry
    lines = ["prefix: ai", "events:"]
    for name, entry in events.items():
        lines.append(f"  {name}: {json.dumps(entry)}")
    return "\n".join(lines) + "\n"


def scratch_crate(root: Path) -> None:
    """A crate that compiles the generated code, depending on Herald by path."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "Cargo.toml").write_text(
        "[package]\nname = \"codegen-scale\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n"
        f"[dependencies]\nherald = {{ path = \"{REPO / 'runtime'}\" }}\n\n[workspace]\n"
    )
    shutil.copy(REPO / "Cargo.lock", root / "Cargo.lock")
    # The repository's toolchain, not whatever rustup defaults to outside it.
    shutil.copy(REPO / "rust-toolchain.toml", root / "rust-toolchain.toml")


def generate(herald: Path, root: Path, n: int, edited: bool) -> tuple[int, int, int]:
    """Write the catalog, run `herald generate`; return (seconds, lines, bytes)
    of the generated Rust (every file it wrote)."""
    (root / "events.yaml").write_text(catalog(n, edited))
    out = root / "src" / "generated"
    if not edited:
        shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    # A `herald` that splits its output (`--out-dir`, one file per domain
    # module) is run as a build script would; an older one writes one file.
    help_text = subprocess.run([str(herald), "generate", "--help"], capture_output=True, text=True).stdout
    target = ["--out-dir", str(out)] if "--out-dir" in help_text else ["-o", str(out / "events.rs")]
    t = time.monotonic()
    subprocess.run([str(herald), "generate", str(root / "events.yaml"), *target], check=True)
    took = time.monotonic() - t
    files = [p for p in out.rglob("*.rs")]
    text = [p.read_bytes() for p in files]
    return took, sum(b.count(b"\n") for b in text), sum(len(b) for b in text)


def build(root: Path, target: Path, profile: str) -> tuple[float, int]:
    """`cargo build` the scratch crate; return (wall seconds, peak KiB)."""
    cmd = ["/usr/bin/time", "-v", "cargo", "build", "--offline", "--quiet", "--profile", profile, "--lib"]
    env = dict(os.environ, CARGO_TARGET_DIR=str(target))
    t = time.monotonic()
    res = subprocess.run(cmd, cwd=root, env=env, stderr=subprocess.PIPE, text=True)
    took = time.monotonic() - t
    if res.returncode != 0:
        sys.stderr.write(res.stderr[-4000:])
        raise SystemExit(f"build failed in {root}")
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1))
    return took, peak


def forget_crate(target: Path, profile: str) -> None:
    """Remove the scratch crate's own build state (not its dependencies')."""
    sub = "debug" if profile == "dev" else profile
    for d in ["incremental", ".fingerprint", "deps"]:
        for p in (target / sub / d).glob("*codegen_scale*"):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        for p in (target / sub / d).glob("*codegen-scale*"):
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def main() -> None:
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,1000")
    ap.add_argument("--build", action="store_true", help="also time cold build and one-type edit")
    ap.add_argument("--herald", type=Path, default=target_dir / "debug" / "herald")
    ap.add_argument("--work", type=Path, default=target_dir / "codegen-scale")
    ap.add_argument("--profile", default="dev")
    args = ap.parse_args()

    target = args.work / "target"
    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        root = args.work / f"n{n}"
        scratch_crate(root)
        took, lines, size = generate(args.herald, root, n, edited=False)
        row = {"types": n, "generate_s": round(took, 2), "lines": lines, "bytes": size,
               "lines_per_type": round(lines / n), "bytes_per_type": round(size / n)}
        if args.build:
            # Dependencies first, with a stub library, so the timings below
            # are the generated crate's own.
            lib = root / "src" / "lib.rs"
            lib.write_text("")
            build(root, target, args.profile)
            lib.write_text(
                "//! Compiles the code `herald generate` wrote for the synthetic catalog.\n"
                "#![allow(dead_code, missing_docs)]\n"
                "mod events {\n    include!(\"generated/events.rs\");\n}\n"
            )
            forget_crate(target, args.profile)
            row["cold_build_s"], row["cold_peak_mib"] = build(root, target, args.profile)
            generate(args.herald, root, n, edited=True)
            row["edit_build_s"], row["edit_peak_mib"] = build(root, target, args.profile)
            row["cold_peak_mib"] //= 1024
            row["edit_peak_mib"] //= 1024
            row["cold_build_s"] = round(row["cold_build_s"], 1)
            row["edit_build_s"] = round(row["edit_build_s"], 1)
        results.append(row)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
