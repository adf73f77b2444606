# Test services for Herald's suite and benchmarks; sourced, not run.
#
#   . scripts/services.sh
#   services_install      # apt/cargo installs, idempotent (also the
#                         # browser for server/tests/browser.rs)
#   services_start        # private Redis + MongoDB-compatible server;
#                         # exports REDIS_URL / MONGODB_URI, stops them on exit
#
# - Redis: Debian's `redis-server`, a private instance on a free port (not
#   the system service), nothing saved to disk.
# - MongoDB: `secantusd-rs` (Cargo package `secantus-mdb`, pinned), a
#   MongoDB-wire-protocol server, as a separate process only: it is never
#   a dependency of our crates (GPL). It is installed even when
#   MONGODB_URI points elsewhere: the outage test stops and restarts a
#   private one.
# Both listen on 127.0.0.1. When MONGODB_URI / REDIS_URL are already set
# (e.g. a real MongoDB), those are used and nothing is started for them.

SECANTUS_VERSION="0.5.3-beta.196"

services_install() {
  local need_apt=()
  # Build tools some -sys crates need (present on the standard image;
  # checked so a bare machine gets them too).
  command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
  command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
  command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
  local need_secantus=0
  if ! secantusd-rs --version 2>/dev/null | grep -qF "$SECANTUS_VERSION"; then
    need_secantus=1
    command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
  fi
  if [ ${#need_apt[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}"
  fi
  browser_install
  if [ "$need_secantus" = 1 ]; then
    echo "services: installing secantus-mdb $SECANTUS_VERSION (MongoDB-compatible test server, a few minutes cold)" >&2
    cargo install --locked --ignore-rust-version secantus-mdb --version "$SECANTUS_VERSION"
  fi
}

# Debian's chromium and its WebDriver, for the browser tests. A machine
# that cannot get them still runs the rest of the suite; the browser tests
# then say loudly that they were skipped.
browser_install() {
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq chromium chromium-driver; }; then
    echo "!!! services: could not install chromium and chromium-driver; the browser tests will be SKIPPED" >&2
  fi
  return 0
}

_services_dir=""
_services_pids=()

_services_stop() {
  local pid
  for pid in "${_services_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${_services_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  [ -n "$_services_dir" ] && rm -rf "$_services_dir"
  return 0
}

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
  echo "services: no free port found" >&2
  return 1
}

# Wait until 127.0.0.1:PORT accepts connections, or fail showing NAME's log.
wait_port() {
  local port=$1 name=$2 log=$3 pid=$4
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "services: $name exited before listening; its log:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "services: $name did not listen on 127.0.0.1:$port within 30 s; its log:" >&2
  cat "$log" >&2
  return 1
}

# Start a private secantusd-rs on a free port, storage under a fresh
# directory, extra flags after; sets SECANTUS_URI. Stopped on exit.
secantus_start() {
  _services_init
  local port dir
  port=$(free_port)
  dir="$(mktemp -d -p "$_services_dir" mongo.XXXXXX)"
  secantusd-rs --host 127.0.0.1 --port "$port" --storage-path "$dir" --cache-size 256M "$@" \
    >"$dir.log" 2>&1 &
  _services_pids+=($!)
  wait_port "$port" secantusd-rs "$dir.log" "$!"
  SECANTUS_URI="mongodb://127.0.0.1:$port"
}

_services_init() {
  [ -n "$_services_dir" ] && return 0
  _services_dir="$(mktemp -d -t herald-services.XXXXXX)"
  trap _services_stop EXIT
  trap '_services_stop; exit 130' INT TERM
}

services_start() {
  _services_init
  local port
  if [ -z "${REDIS_URL:-}" ]; then
    port=$(free_port)
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize no \
      --dir "$_services_dir" >"$_services_dir/redis.log" 2>&1 &
    _services_pids+=($!)
    wait_port "$port" redis-server "$_services_dir/redis.log" "$!"
    export REDIS_URL="redis://127.0.0.1:$port"
  fi
  if [ -z "${MONGODB_URI:-}" ]; then
    secantus_start
    export MONGODB_URI="$SECANTUS_URI"
  fi
  echo "services: MONGODB_URI=$MONGODB_URI REDIS_URL=$REDIS_URL" >&2
}
