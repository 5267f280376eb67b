#!/usr/bin/env python3
"""What hostile servers and forged shards cost juggle, in figures.

    bench/hostile.py [--urls N] [--errors N] [--runs R] [--juggle PATH]

1. Dead host: N URLs (default 1,000,000) to a port nobody listens on,
   default retries. Median wall time, URLs/s and peak RSS of R runs.
   Before the dead-host breaker each URL was tried 4 times with backoff
   while holding its slot: about 1.4 URLs/s.
2. Merge: two shards, each with N (default 180,000) input errors, the
   same ones: `juggle merge` removes the duplicates. Median wall time.
   Before, that removal was quadratic (11.4 s for 2 x 180,000).
3. Bombs: 8 compression bombs of 1 GiB (gzip, deflate, br, zstd),
   endless trailers and two endless error bodies in one run with
   --max-buffer 64. Peak RSS, the loop stall (longest iteration and
   99th percentile) and wall time, medians of R runs.

Uses a release build in build-bench/ (made if missing) and its
jg-testserver; --juggle PATH measures another binary (an older tree) with
the same servers and inputs.
"""
import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build-bench")


def build():
    if not os.path.exists(os.path.join(BUILD, "build.ninja")):
        subprocess.run(["meson", "setup", BUILD, "--buildtype=release"], check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", BUILD, "juggle", "juggle-worker",
                    "tests/server/jg-testserver"], check=True, stdout=subprocess.DEVNULL)


def timed(cmd, **kw):
    """Runs `cmd`; its wall seconds, wait4's peak RSS (KB: the child's
    from before its exec too, so the forking Python's when larger) and
    exit status."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return time.monotonic() - t0, usage.ru_maxrss, p.returncode


def refused_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def dead_host(juggle, work, n, runs):
    port = refused_port()
    lst = os.path.join(work, "dead.txt")
    with open(lst, "w") as f:
        for i in range(n):
            f.write(f"http://127.0.0.1:{port}/book{i}.txt\n")
    walls, rss = [], []
    for r in range(runs):
        out, report = os.path.join(work, f"dead{r}"), os.path.join(work, f"dead{r}.json")
        wall, _, rc = timed([juggle, "-q", "--no-count", "-o", out, "-i", lst, "--json", report])
        assert rc == 1, f"exit {rc}"
        walls.append(wall)
        with open(report) as f:
            rss.append(json.load(f)["process"]["max_rss_kb"])  # juggle's own VmHWM
        shutil.rmtree(out)
    w = statistics.median(walls)
    print(f"dead host: {n} URLs to 127.0.0.1:{port} (refused): median {w:.2f} s "
          f"({n / w:,.0f} URLs/s), peak RSS {statistics.median(rss) / 1024:.0f} MB "
          f"[runs: {', '.join(f'{x:.2f}' for x in walls)}]")


def line(text):
    return f"{text}\t#{zlib.crc32(text.encode()):08x}\n"


def merge(juggle, work, n, runs):
    errors = "".join(line(f"E\tsource=l.txt\tline={i}\ttext=ftp://x/{i}\terror=scheme")
                     for i in range(n))
    shards = []
    for k in (0, 1):
        d = os.path.join(work, f"shard{k}")
        os.makedirs(os.path.join(d, ".juggle"))
        header = ("H\tformat=1\tjuggle=0.3.0\tlist=0000000000000001\tlist_urls=2\t"
                  f"order=0000000000000001\tshard={k}/2\taccepted=0\tcount=words")
        with open(os.path.join(d, ".juggle", "manifest"), "w") as f:
            f.write(line(header) + errors)
        shards.append(d)
    walls = []
    for r in range(runs):
        report = os.path.join(work, f"merge{r}.json")
        wall, _, rc = timed([juggle, "merge", "-q", "--json", report, *shards])
        assert rc == 1, f"exit {rc}"  # input errors make the status 1
        with open(report) as f:
            got = json.load(f)["totals"]["input_errors"]
        assert got == n, got
        walls.append(wall)
    print(f"merge: 2 shards x {n} duplicate input errors: median {statistics.median(walls):.2f} s "
          f"[runs: {', '.join(f'{x:.2f}' for x in walls)}]")


BOMBS = [f"/gen/bomb-{enc}-{i}.txt?enc={enc}&fill=%00&size=1073741824"
         for enc in ("gzip", "deflate", "br", "zstd") for i in (1, 2)]
STREAMS = ["/gen/trail.txt?trailers=endless", "/gen/e404.txt?status=404&endless=1",
           "/gen/e500.txt?status=500&endless=1"]


def bombs(juggle, work, base, runs):
    urls = [base + p for p in BOMBS + STREAMS]
    rows = []
    for r in range(runs):
        out, report = os.path.join(work, f"bombs{r}"), os.path.join(work, f"bombs{r}.json")
        wall, kb, rc = timed([juggle, "-q", "--max-buffer", "64", "--retries", "0",
                              "--json", report, "-o", out, *urls], )
        with open(report) as f:
            rep = json.load(f)
        stall = rep["loop_stall"]
        # juggle's own peak (VmHWM), as the report gives it: wait4's would
        # be the largest of juggle and its workers.
        kb = rep["process"]["max_rss_kb"]
        rows.append((wall, kb, stall["max_seconds"], stall["p99_seconds"]))
    med = [statistics.median(c) for c in zip(*rows)]
    print(f"bombs: 8 bombs + endless trailers + 2 endless error bodies, --max-buffer 64: "
          f"juggle's peak RSS {med[1] / 1024:.0f} MB, stall max {med[2] * 1e3:.1f} ms, "
          f"p99 {med[3] * 1e3:.2f} ms, {med[0]:.1f} s (medians of {runs}) "
          f"[max per run: {', '.join(f'{x[2] * 1e3:.1f}' for x in rows)} ms]")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--urls", type=int, default=1_000_000)
    ap.add_argument("--errors", type=int, default=180_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--juggle", help="the juggle binary to measure (default: build-bench's)")
    ap.add_argument("--only", choices=["dead", "merge", "bombs"])
    a = ap.parse_args()
    build()
    juggle = a.juggle or os.path.join(BUILD, "juggle")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = tempfile.mkdtemp(prefix="jg-bench-hostile.")
    server = subprocess.Popen([os.path.join(BUILD, "tests/server/jg-testserver")],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().split()[1])
        print(f"juggle: {juggle}")
        if a.only in (None, "dead"):
            dead_host(juggle, work, a.urls, a.runs)
        if a.only in (None, "merge"):
            merge(juggle, work, a.errors, a.runs)
        if a.only in (None, "bombs"):
            bombs(juggle, work, f"http://127.0.0.1:{port}", a.runs)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
