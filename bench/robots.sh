#!/usr/bin/env bash
# What --robots costs: BOOKS small books from one host, without --robots,
# with it (the robots.txt fetched: a fresh directory) and with it from the
# cache (DIR/.juggle/robots kept from an earlier run), each RUNS times in
# turn; median wall seconds, and the requests the server saw per run.
#
#   bench/robots.sh [BOOKS [RUNS [DELAY_MS]]]      default 200 9 0
#
# DELAY_MS delays every answer of jg-testserver (a server that far away):
# the robots.txt then costs about one such delay before the first book.
# Books are generated, SIZE bytes each (default 4000); saved only
# (--no-count), so that the figures are the network side's. Uses a release
# build in build-bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
books=${1:-200}
runs=${2:-9}
delay=${3:-0}
size=${SIZE:-4000}

if [ ! -f build-bench/build.ninja ]; then
	meson setup build-bench --buildtype=release >/dev/null
fi
ninja -C build-bench juggle tests/server/jg-testserver >/dev/null
juggle=$PWD/build-bench/juggle
work=$(mktemp -d /tmp/jg-bench-robots.XXXXXX)
trap 'kill $server_pid 2>/dev/null; rm -rf "$work"' EXIT

mkdir "$work/root"
printf 'User-agent: *\nDisallow: /private/\nAllow: /gen/\n' >"$work/root/robots.txt"
build-bench/tests/server/jg-testserver --root "$work/root" --log "$work/log.jsonl" \
	--book-size "$size" --delay "$delay" --port-file "$work/port" >/dev/null &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
base=http://127.0.0.1:$(cat "$work/port")
for i in $(seq "$books"); do echo "$base/gen/b$i.txt"; done >"$work/urls"

requests() { grep -c '"ev":"start"' "$work/log.jsonl" || true; }

# One run into a fresh directory (with the robots cache of `seed`, if
# given); prints "seconds requests".
run() {
	local seed=$1
	shift
	rm -rf "$work/out"
	if [ -n "$seed" ]; then
		mkdir -p "$work/out/.juggle"
		cp -r "$seed" "$work/out/.juggle/robots"
	fi
	local before
	before=$(requests)
	local t0 t1
	t0=$(date +%s.%N)
	"$juggle" -q --no-count -o "$work/out" -i "$work/urls" "$@" >/dev/null 2>&1 || {
		echo "juggle failed" >&2
		exit 1
	}
	t1=$(date +%s.%N)
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }') $(($(requests) - before))"
}

# The cache an earlier run leaves.
run "" --robots >/dev/null
cp -r "$work/out/.juggle/robots" "$work/robots-cache"

declare -A times reqs
for _ in $(seq "$runs"); do
	read -r s n < <(run "")
	times[plain]+="$s "; reqs[plain]=$n
	read -r s n < <(run "" --robots)
	times[fetched]+="$s "; reqs[fetched]=$n
	read -r s n < <(run "$work/robots-cache" --robots)
	times[cached]+="$s "; reqs[cached]=$n
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "$books books of $size B from one host, ${delay} ms per answer, median of $runs:"
printf '%-28s %10s %10s\n' "" "wall s" "requests"
for k in plain fetched cached; do
	case $k in
	plain) name="without --robots" ;;
	fetched) name="--robots, robots.txt fetched" ;;
	cached) name="--robots, from the cache" ;;
	esac
	printf '%-28s %10.3f %10s\n' "$name" "$(echo "${times[$k]}" | median)" "${reqs[$k]}"
done
