#!/usr/bin/env bash
# Herald's whole test suite, from a fresh Debian machine with a Rust toolchain.
#
# Installs and starts whatever the tests need, idempotently (Redis and a
# MongoDB-compatible server, see scripts/services.sh; Node and Python tools
# for the export tests, see scripts/toolchains.sh), runs every test in
# the workspace, and stops the services again. Extra arguments go to
# `cargo test`. When MONGODB_URI / REDIS_URL are already set (e.g. a real
# MongoDB), those are used and nothing is started for them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh
. scripts/toolchains.sh

services_install
toolchains_install
services_start

# The tree stays formatted (rustfmt.toml; the quickstart keeps a
# near-default style of its own, as the README quotes it).
cargo fmt --all --check

# Lints and docs are gates too: clippy's warnings and broken doc links fail
# the run (the failpoints feature, so its code is linted as well).
cargo clippy --workspace --all-targets --locked --features herald-server/failpoints -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

# Two cores: keep the build to one profile and one target dir.
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Not `exec`: the trap must stop the services afterwards (and the
# compatibility check below must run). The crash tests
# need the server's fault injection, which release builds leave out.
cargo test --workspace --locked --features herald-server/failpoints "$@"
# Say whether the browser tests (server/tests/browser.rs) could run: they
# pass without a browser, so the log must show which it was.
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  echo "browser tests: ran in $(chromium --version 2>/dev/null); screenshots in target/screenshots/"
else
  echo "!!! browser tests: SKIPPED, chromium / chromium-driver could not be installed"
fi

# Fuzz smoke (FUZZING.md): each fuzz target for 10 s from its checked-in
# corpus, one after another; a crash, panic, timeout or out-of-memory fails
# the run. Installs cargo-fuzz if missing; the instrumented build is the
# cost (minutes, cold), the runs take one minute.
fuzz_work=$(mktemp -d)
FUZZ_WORK="$fuzz_work" scripts/fuzz.sh 10
rm -rf "$fuzz_work"

# The catalog guards itself: events.yaml must stay compatible (its own
# `compatibility:` mode) with the version before its latest change, or with
# HEAD when it has uncommitted changes.
catalog_baseline() {
  git rev-parse --is-inside-work-tree >/dev/null 2>&1 || return 1
  if ! git diff --quiet HEAD -- events.yaml 2>/dev/null; then echo HEAD; return 0; fi
  local last
  last=$(git log -n1 --format=%H -- events.yaml) && [ -n "$last" ] || return 1
  git cat-file -e "$last~1:events.yaml" 2>/dev/null || return 1
  echo "$last~1"
}
if base=$(catalog_baseline); then
  cargo run --quiet --locked -p herald-cli -- check events.yaml --baseline "$base"
else
  echo "events.yaml: no earlier version in git to check compatibility against; skipped"
fi
