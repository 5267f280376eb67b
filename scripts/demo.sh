#!/usr/bin/env bash
# Sets everything up and runs the main job with no internet: juggle's own
# test server serves a generated Gutenberg-like mirror on 127.0.0.1, and
# juggle downloads BOOKS books from it (default 200, 400 KB each) into texts/.
set -euo pipefail
cd "$(dirname "$0")/.."
books=${BOOKS:-200}
scripts/deps.sh demo
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
portfile=$(mktemp)
build/tests/server/jg-testserver --book-size 400000 --port-file "$portfile" >/dev/null &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$portfile"' EXIT
for _ in $(seq 100); do [ -s "$portfile" ] && break; sleep 0.05; done
port=$(cat "$portfile")
echo "mirror: http://127.0.0.1:$port (generated books); downloading $books books into texts/" >&2
build/juggle --mirror "http://127.0.0.1:$port" --per-host 64 -o texts --json texts-report.json \
  $(seq 1 "$books")
