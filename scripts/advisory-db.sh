#!/usr/bin/env bash
# Refresh audit/advisory-db.tar.gz from the RustSec advisory database
# (needs GitHub). Deterministic: the same commit gives the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone --quiet --depth 1 https://github.com/rustsec/advisory-db "$work/db"
commit=$(git -C "$work/db" rev-parse HEAD)
date=$(git -C "$work/db" log -1 --format=%cs)
git -C "$work/db" archive --format=tar --prefix=advisory-db/ HEAD crates rust LICENSE.txt | gzip -n -9 >audit/advisory-db.tar.gz
sed -i "s/^Snapshot: .*/Snapshot: commit \`$commit\` ($date)./" audit/README.md
echo "audit/advisory-db.tar.gz: advisory-db $commit ($date); run cargo test -p herald-tests --test advisories, then commit"
