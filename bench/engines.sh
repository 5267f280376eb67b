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

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

is_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# Installs each missing package that the mirror has; never fails.
install_packages() {
	local missing=() updated=0 p
	for p in "$@"; do is_installed "$p" || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	for p in "${missing[@]}"; do
		if [ $updated -eq 0 ]; then
			echo "engines.sh: installing ${missing[*]}" >&2
			$sudo apt-get update -qq >/dev/null 2>&1 || echo "engines.sh: apt-get update failed" >&2
			updated=1
		fi
		if ! apt-cache show "$p" >/dev/null 2>&1; then
			echo "engines.sh: no package $p here, going on without it" >&2
			continue
		fi
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$p" \
			>/dev/null 2>&1 || echo "engines.sh: could not install $p, going on without it" >&2
	done
	# The nginx package may start a system-wide server; the benchmark runs its own.
	if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
		$sudo systemctl stop nginx || true
	fi
}

# Build tools and libraries first (the project's own list), then the
# benchmark's peers and plotting.
if ! command -v meson >/dev/null || ! command -v ninja >/dev/null || ! command -v cc >/dev/null ||
	! is_installed libcurl4-openssl-dev; then
	scripts/deps.sh
fi
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
