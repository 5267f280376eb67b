#!/usr/bin/env bash
# Full-speed download from a local nginx: juggle -j 64 against
# curl --parallel --parallel-max 64 on the same URL list, in the same run.
# Prints medians of RUNS runs of wall time, CPU (user+sys) and peak RSS,
# and juggle's ratio to curl. Usage: bench/fetch_vs_curl.sh [BOOKS] [KB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
books=${1:-1000}; kb=${2:-400}; runs=${3:-5}
[ -x build/juggle ] || { meson setup build >/dev/null; ninja -C build >/dev/null; }
work=$(mktemp -d /tmp/jg-bench.XXXXXX)
trap 'kill $(cat "$work/nginx.pid" 2>/dev/null) 2>/dev/null; rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/root/books" "$work/tmp"
python3 - "$work/root/books" "$books" "$kb" <<'PY'
import os, random, sys
d, n, kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
words = "the of and to a in that he was it his her with as had for you not on".split()
rng = random.Random(1)
for i in range(n):
    text = " ".join(rng.choice(words) for _ in range(kb * 1024 // 4))[:kb * 1024]
    open(os.path.join(d, f"b{i}.txt"), "w").write(text)
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  keepalive_requests 100000;
  server { listen 127.0.0.1:$port; root $work/root; }
}
CONF
nginx -p "$work" -e "$work/error.log" -c "$work/nginx.conf"
sleep 0.3
for i in $(seq 0 $((books - 1))); do echo "http://127.0.0.1:$port/books/b$i.txt"; done > "$work/urls.txt"
sed 's/^/url = /' "$work/urls.txt" | awk -v d="$work/curl" '{print; n=split($3,a,"/"); print "output = " d "/" a[n]}' > "$work/curl.cfg"

measure() { # label, command...
  local label=$1; shift
  for r in $(seq "$runs"); do
    rm -rf "$work/out" "$work/curl"; mkdir -p "$work/curl"
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { echo "$label failed:" >&2; cat "$work/err" >&2; exit 1; }
    read -r wall user sys rss < "$work/time"
    echo "$label $wall $(echo "$user + $sys" | bc) $rss"
  done
}
{
  measure juggle build/juggle -q --no-count -j 64 --per-host 64 -o "$work/out" -i "$work/urls.txt"
  measure curl curl -s --parallel --parallel-max 64 -K "$work/curl.cfg"
} > "$work/results"
python3 - "$work/results" "$books" "$kb" "$runs" <<'PY'
import statistics as st, sys
rows = {}
for line in open(sys.argv[1]):
    label, wall, cpu, rss = line.split()
    rows.setdefault(label, []).append((float(wall), float(cpu), int(rss)))
med = {k: tuple(st.median(x[i] for x in v) for i in range(3)) for k, v in rows.items()}
print(f"{sys.argv[2]} books x {sys.argv[3]} KB from nginx on 127.0.0.1, 64 concurrent, median of {sys.argv[4]} runs")
print("| tool | wall s | CPU s (user+sys) | peak RSS MB | wall / curl | CPU / curl |")
print("|---|---|---|---|---|---|")
c = med["curl"]
for k in ("juggle", "curl"):
    w, cpu, rss = med[k]
    print(f"| {k} | {w:.3f} | {cpu:.3f} | {rss/1024:.1f} | {w/c[0]:.2f} | {cpu/c[1]:.2f} |")
PY
