#!/usr/bin/env bash
# Herald's whole test suite, from a fresh Debian machine with a Rust toolchain.
#
# Installs and starts whatever the tests need, idempotently, then runs every
# test in the workspace. Today the suite needs no external service; the
# MongoDB/Redis conformance suite will start its servers from here.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build tools some -sys crates need (present on the standard image; checked
# so a bare machine gets them too).
need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}"
fi

# Two cores: keep the build to one profile and one target dir.
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo test --workspace --locked "$@"
