#!/usr/bin/env bash
# Compare juggle's download engines (loop, threads, serial) with each other
# and with curl, aria2c, wget2, the Python "lesson" program and its asyncio
# sequel.
#
#   bench/engines.sh [--quick] [engines.py options...]
#
# Installs what it needs (Debian packages), builds a release juggle in
# build-bench/, then runs bench/engines.py, which writes bench/results/
# (engines.md, engines.json, plots) and prints the markdown tables.
# --quick: fewer books, points and runs (under 2 minutes); the full run
# takes under 15 minutes on a 2-core machine. `bench/engines.py --help`
# lists the other options (--only CELL,... to run a few cells).
set -euo pipefail
cd "$(dirname "$0")/.."

bench_name=engines.sh
. bench/packages.sh

# Build tools and libraries first (the project's own list), then the
# benchmark's peers and plotting.
install_build_deps
install_packages gnuplot-nox python3-requests python3-aiohttp aria2 wget2 nginx-light curl

# A release build of only what the benchmark runs.
if [ ! -f build-bench/build.ninja ]; then
	meson setup build-bench --buildtype=release >/dev/null
fi
ninja -C build-bench juggle tests/server/jg-testserver bench/bookgen_dump >/dev/null

mkdir -p bench/results
exec /usr/bin/python3 bench/engines.py \
	--juggle build-bench/juggle \
	--server build-bench/tests/server/jg-testserver \
	--bookgen build-bench/bench/bookgen_dump \
	--lesson bench/lesson.py \
	--lesson-async bench/lesson_async.py \
	--results bench/results \
	"$@"
