#!/usr/bin/env bash
# Run the fuzz targets (fuzz/, see FUZZING.md) one after another, each for
# SECONDS seconds of libFuzzer time, on the machine's one (stable) Rust
# toolchain with cargo-fuzz's `--sanitizer none`.
#
#   scripts/fuzz.sh SECONDS [TARGET...]     (default: every target)
#
# Installs cargo-fuzz when it is missing. Each target starts from its
# checked-in corpus (fuzz/corpus/TARGET, only read) plus what earlier runs
# on this machine found (fuzz/work/TARGET, not checked in; set
# FUZZ_WORK=DIR to use another place, e.g. a fresh temporary one), with its
# dictionary. Exits non-zero on the first crash, panic, timeout or
# out-of-memory, whose input cargo-fuzz leaves in fuzz/artifacts/TARGET/
# and names on its output. One summary line per target: executions, exec/s,
# coverage (cov: edges, ft: features), corpus size.
#
# A run finds something when its target panics (the targets assert what
# the parsers promise; tests/src/fuzz.rs), crashes, takes more than 10 s on
# one input, or passes 2 GB.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
targets=("$@")
work=${FUZZ_WORK:-fuzz/work}
# The workspace's target dir (cargo-fuzz would use fuzz/target): the fuzz
# build lands in its own `x86_64-unknown-linux-gnu/release/` there.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# The cargo-fuzz release FUZZING.md's figures were measured with.
cargo_fuzz_version=0.13.1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz $cargo_fuzz_version from crates.io"
  cargo install --locked cargo-fuzz --version "$cargo_fuzz_version"
fi

if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi

dict_of() {
  case $1 in
    binary) echo fuzz/dict/binary.dict ;;
    catalog_yaml) echo fuzz/dict/catalog_yaml.dict ;;
    *) echo fuzz/dict/envelope.dict ;;
  esac
}

# Release build with debug assertions (overflow checks too), no sanitizer:
# every Herald crate forbids `unsafe`, so a memory error cannot come from
# them, and `-s none` needs no nightly toolchain (FUZZING.md).
flags=(--sanitizer none --debug-assertions)
start=$(date +%s)
cargo fuzz build "${flags[@]}"
echo "fuzz: built in $(( $(date +%s) - start )) s"

# One libFuzzer process at a time (no -jobs/-workers): the machine has
# two cores, shared.
summary=()
for target in "${targets[@]}"; do
  mkdir -p "$work/$target"
  log="$work/$target.log"
  if ! cargo fuzz run "${flags[@]}" "$target" "$work/$target" "fuzz/corpus/$target" -- \
      -max_total_time="$seconds" -dict="$(dict_of "$target")" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 >"$log" 2>&1; then
    # The panic message (before its backtrace), then the end of the log.
    grep -m 1 -A 2 -E 'panicked at|^==[0-9]+== ERROR: libFuzzer' "$log" || true
    echo ...
    tail -n 30 "$log"
    echo "!!! fuzz: $target FAILED (log above, full log in $log; input in fuzz/artifacts/$target/)"
    exit 1
  fi
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(sed -nE 's/.* cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/cov \1, ft \2, corpus \3/p' <<<"$done_line")
  summary+=("$target: $runs runs in ${seconds} s ($rate exec/s), $cov, no finding")
done
printf 'fuzz: %s\n' "${summary[@]}"
