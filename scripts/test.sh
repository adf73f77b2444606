#!/usr/bin/env bash
# Herald's whole test suite, from a fresh Debian machine with a Rust toolchain.
#
# Installs and starts whatever the tests need, idempotently, then runs every
# test in the workspace:
# - Redis: Debian's `redis-server`, a private instance on a free port (not
#   the system service), nothing saved to disk.
# - MongoDB: `secantusd-rs` (Cargo package `secantus-mdb`, pinned), a
#   MongoDB-wire-protocol server, as a separate test process only: it is
#   never a dependency of our crates.
# Both listen on 127.0.0.1 and are stopped when this script exits. When
# MONGODB_URI / REDIS_URL are already set (e.g. a real MongoDB), those are
# used and nothing is started for them.
set -euo pipefail
cd "$(dirname "$0")/.."

SECANTUS_VERSION="0.5.3-beta.196"

# Build tools some -sys crates need (present on the standard image; checked
# so a bare machine gets them too), plus what the test services need.
need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
if [ -z "${REDIS_URL:-}" ]; then
  command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
fi
need_secantus=0
if [ -z "${MONGODB_URI:-}" ]; then
  if ! secantusd-rs --version 2>/dev/null | grep -qF "$SECANTUS_VERSION"; then
    need_secantus=1
    command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
  fi
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}"
fi
if [ "$need_secantus" = 1 ]; then
  echo "test.sh: installing secantus-mdb $SECANTUS_VERSION (MongoDB-compatible test server, a few minutes cold)" >&2
  cargo install --locked --ignore-rust-version secantus-mdb --version "$SECANTUS_VERSION"
fi

# --- test services ---------------------------------------------------------
svc_dir="$(mktemp -d -t herald-test-services.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$svc_dir"
}
trap cleanup EXIT INT TERM

# A port nothing listens on now: random in 20000-59999, retried while taken.
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "test.sh: no free port found" >&2
  return 1
}

# Wait until 127.0.0.1:$1 accepts connections, or fail naming $2's log.
wait_port() {
  local port=$1 name=$2 log=$3 pid=$4
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "test.sh: $name exited before listening; its log:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "test.sh: $name did not listen on 127.0.0.1:$port within 30 s; its log:" >&2
  cat "$log" >&2
  return 1
}

if [ -z "${REDIS_URL:-}" ]; then
  port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize no \
    --dir "$svc_dir" >"$svc_dir/redis.log" 2>&1 &
  pids+=($!)
  wait_port "$port" redis-server "$svc_dir/redis.log" "$!"
  export REDIS_URL="redis://127.0.0.1:$port"
fi
if [ -z "${MONGODB_URI:-}" ]; then
  port=$(free_port)
  mkdir -p "$svc_dir/mongo"
  secantusd-rs --host 127.0.0.1 --port "$port" --storage-path "$svc_dir/mongo" --cache-size 256M \
    >"$svc_dir/mongo.log" 2>&1 &
  pids+=($!)
  wait_port "$port" secantusd-rs "$svc_dir/mongo.log" "$!"
  export MONGODB_URI="mongodb://127.0.0.1:$port"
fi
echo "test.sh: MONGODB_URI=$MONGODB_URI REDIS_URL=$REDIS_URL" >&2

# Two cores: keep the build to one profile and one target dir.
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Not `exec`: the trap must stop the services afterwards.
cargo test --workspace --locked "$@"
