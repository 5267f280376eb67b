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

bench_name=count_cost.sh
. bench/packages.sh

install_build_deps
install_packages nginx-light curl

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
