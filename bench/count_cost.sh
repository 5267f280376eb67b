#!/usr/bin/env bash
# What counting and downloading cost juggle, against countwords (C), curl
# --parallel and its own tokenizer, measured in the same run.
#
#   bench/count_cost.sh [--quick] [--runs N] [--only kjv43,bulk1000,small5000] [--corpus DIR]
#
# Installs what it needs (Debian packages: nginx-light, curl, a C
# compiler), builds a release juggle and the benchmark's helpers in
# build-bench/, then runs bench/count_cost.py, which writes
# bench/results/count_cost.md and count_cost.json and prints the tables.
# The default (5 runs) takes a few minutes on a 2-core machine, --quick
# (2 runs, no warm-up) under two. `bench/count_cost.py --help` lists the options.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

is_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# Build tools and libraries: the project's own list.
if ! command -v meson >/dev/null || ! command -v ninja >/dev/null || ! command -v cc >/dev/null ||
	! is_installed libcurl4-openssl-dev; then
	scripts/deps.sh
fi
missing=()
for p in nginx-light curl; do is_installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
	echo "count_cost.sh: installing ${missing[*]}" >&2
	$sudo apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
	# The nginx package may start a system-wide server; the benchmark runs its own.
	if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
		$sudo systemctl stop nginx || true
	fi
fi

# A release build of only what the benchmark runs.
if [ ! -f build-bench/build.ninja ]; then
	meson setup build-bench --buildtype=release >/dev/null
fi
ninja -C build-bench juggle bench/bookgen_dump bench/count_files_bench >/dev/null

mkdir -p bench/results
export COUNT_COST_COMMAND="bench/count_cost.sh${*:+ $*}"
exec /usr/bin/python3 bench/count_cost.py \
	--juggle build-bench/juggle \
	--bookgen build-bench/bench/bookgen_dump \
	--count-files build-bench/bench/count_files_bench \
	--results bench/results \
	"$@"
