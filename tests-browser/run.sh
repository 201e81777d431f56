#!/usr/bin/env bash
# Browser tests of the web page: builds storyweave, weaves the demo corpus
# (and ../shared/data/seeds when present) into a temporary database, serves
# it on a free loopback port, runs `node --test` with Chromium, stops the server.
#   CHROMIUM=/path/to/chromium   browser (default /usr/bin/chromium)
#   STORYWEAVE_SHARED=dir        the shared data folder (default ../shared beside the checkout)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${STORYWEAVE_SHARED:-$root/../shared}
target=${CARGO_TARGET_DIR:-$root/target}

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "Chromium not found at ${CHROMIUM:-/usr/bin/chromium}: apt-get install -y chromium" >&2
  exit 1
fi

tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

cd "$root"
cargo build -q -p storyweave
bin="$target/debug/storyweave"
db="$tmp/storyweave.db"

seeds=()
if [ -d "$shared/data/seeds" ]; then
  seeds=("$shared/data/seeds")
else
  echo "note: $shared/data/seeds not found; the seed-story test will be skipped" >&2
fi
"$bin" --db "$db" demo "${seeds[@]}" > "$tmp/demo.txt"

port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
addr="127.0.0.1:$port"
token=$(node -e "console.log(require('crypto').randomBytes(24).toString('hex'))")

# `storyweave serve` once the CLI has it; until then the crate's example.
if "$bin" serve --help > /dev/null 2>&1; then
  serve=("$bin" --db "$db" serve --addr "$addr")
else
  cargo build -q -p storyweave-server --example serve
  serve=("$target/debug/examples/serve" "$db" "$addr")
fi
STORYWEAVE_API_TOKEN="$token" "${serve[@]}" > "$tmp/server.log" 2>&1 &
server_pid=$!

# Wait for it (bounded: 120 tries, half a second apart).
for _ in $(seq 1 120); do
  if node -e "fetch('http://$addr/api/stories?limit=1').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "server exited:" >&2
    cat "$tmp/server.log" >&2
    exit 1
  fi
  sleep 0.5
done

cd "$here"
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund
fi
STORYWEAVE_URL="http://$addr" STORYWEAVE_API_TOKEN="$token" node --test --test-concurrency=1 web.test.mjs
