#!/usr/bin/env bash
# Herald's whole test suite, from a fresh Debian machine with a Rust toolchain.
#
# Installs and starts whatever the tests need, idempotently (Redis and a
# MongoDB-compatible server, see scripts/services.sh), runs every test in
# the workspace, and stops the services again. Extra arguments go to
# `cargo test`. When MONGODB_URI / REDIS_URL are already set (e.g. a real
# MongoDB), those are used and nothing is started for them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh

services_install
services_start

# Two cores: keep the build to one profile and one target dir.
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Not `exec`: the trap must stop the services afterwards. The crash tests
# need the server's fault injection, which release builds leave out.
cargo test --workspace --locked --features herald-server/failpoints "$@"
