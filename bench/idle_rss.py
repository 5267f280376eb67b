#!/usr/bin/env python3
"""RSS per idle transfer (issue goal: <= 12 KB): N books of 4 KiB whose
first byte comes after DELAY_MS (8 s), all N at once, --no-count; juggle's
peak RSS (its JSON report's VmHWM) at N = 1,000 and 8,000, and the
difference per extra transfer. Starting 8,000 transfers takes this machine
about 6 s: with a 1 s delay the first had ended before the last began, and
the peak was not that of 8,000 at once (73 MB at 1 s, 146 MB at 6 s and at
10 s). The bench checks that the run lasted the delay plus the time the
starts took, and prints both. The reference: curl --parallel, which starts
at most 300 transfers at once, and juggle beside it at 1 and 300 idle
transfers (first byte after 3 s), each process's peak RSS from GNU time.
Usage: bench/idle_rss.py [BUILD_DIR] [RUNS]."""
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

DELAY_MS = 8000

build = sys.argv[1] if len(sys.argv) > 1 else "build-bench"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
juggle = os.path.abspath(os.path.join(build, "juggle"))
server = os.path.join(build, "tests/server/jg-testserver")
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
srv = subprocess.Popen([server], stdout=subprocess.PIPE, text=True)
port = int(srv.stdout.readline().split()[1])


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_all_at_once(port, paths, waiting_until=None):
    """juggle --no-count with every path at once: (peak RSS KB, stall max
    s, wall s, the largest RSS KB sampled before `waiting_until` seconds:
    while every transfer still waits for its first byte)."""
    n = len(paths)
    with tempfile.TemporaryDirectory() as d:
        lst = os.path.join(d, "urls.txt")
        with open(lst, "w") as f:
            f.writelines(f"http://127.0.0.1:{port}{p}\n" for p in paths)
        rep = os.path.join(d, "r.json")
        t0 = time.monotonic()
        p = subprocess.Popen([juggle, "-q", "--no-count", "-j", str(n), "--per-host", str(n),
                              "-o", os.path.join(d, "t"), "--json", rep, "-i", lst],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        waiting = 0
        while waiting_until and time.monotonic() - t0 < waiting_until and p.poll() is None:
            waiting = max(waiting, rss_kb(p.pid))
            time.sleep(0.1)
        err = p.communicate()[1]
        assert p.returncode == 0, err[-2000:]
        with open(rep) as f:
            r = json.load(f)
        assert r["totals"]["ok"] == n
        wall = time.monotonic() - t0
        return r["process"]["max_rss_kb"], r["loop_stall"]["max_seconds"], wall, waiting


def peak(n):
    return run_all_at_once(port, [f"/gen/idle{n}-{i}.txt?size=4096&delay={DELAY_MS}"
                                  for i in range(n)], DELAY_MS / 1000 - 0.3)


res = {n: [peak(n) for _ in range(runs)] for n in (1000, 8000)}
low = statistics.median(r[0] for r in res[1000])
high = statistics.median(r[0] for r in res[8000])
print(f"peak RSS at 1,000 idle transfers: {low / 1024:.1f} MB; at 8,000: {high / 1024:.1f} MB "
      f"(medians of {runs})")
print(f"per extra idle transfer: {(high - low) * 1024 / 7000 / 1000:.1f} KB")
w_low = statistics.median(r[3] for r in res[1000])
w_high = statistics.median(r[3] for r in res[8000])
print(f"while all still wait for their first byte (sampled every 0.1 s until 0.3 s before "
      f"it): {w_low / 1024:.1f} MB at 1,000, {w_high / 1024:.1f} MB at 8,000, "
      f"{(w_high - w_low) * 1024 / 7000 / 1000:.1f} KB per extra transfer; the peak comes as "
      "the bodies arrive, each into a page of its transfer's curl buffer")
longest = max(r[2] for r in res[8000])
print(f"first byte after {DELAY_MS / 1000:.0f} s; the 8,000 runs took up to {longest:.1f} s: "
      f"{longest - DELAY_MS / 1000:.1f} s of starts and transfers after the delay")
if longest - DELAY_MS / 1000 > DELAY_MS / 1000:
    print("WARNING: the starts took longer than the delay: the peak is not of all at once")
print("loop stall max (s):", {n: round(max(r[1] for r in v), 4) for n, v in res.items()})


def slow_peak(n=500):
    """n transfers of 100 KiB at 64 KiB/s each, all at once: peak RSS."""
    s = subprocess.Popen([server], stdout=subprocess.PIPE, text=True)
    p_ = int(s.stdout.readline().split()[1])
    try:
        return run_all_at_once(p_, [f"/gen/slow{i}.txt?size=102400&rate=65536" for i in range(n)])
    finally:
        s.terminate()


def wait_peak(argv, cwd):
    """Runs argv to its end: its own peak RSS in KB, as GNU time reports it.
    Not wait4() from here: a child's ru_maxrss starts from what its parent
    held when it forked (this Python, 28 MB), and that hides both."""
    out = os.path.join(cwd, "time.out")
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out] + argv, cwd=cwd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0, (argv[0], p.stderr[-2000:])
    with open(out) as f:
        return int(f.read().split()[-1])


def beside_curl(n):
    """(juggle, curl) peak RSS KB with n idle transfers at once."""
    paths = [f"/gen/ref{n}-{i}.txt?size=4096&delay=3000" for i in range(n)]
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "urls.txt"), "w") as f:
            f.writelines(f"http://127.0.0.1:{port}{p}\n" for p in paths)
        with open(os.path.join(d, "curl.cfg"), "w") as f:
            f.writelines(f'url = "http://127.0.0.1:{port}{p}"\noutput = "c{i}"\n'
                         for i, p in enumerate(paths))
        j = wait_peak([juggle, "-q", "--no-count", "-j", str(n), "--per-host", str(n),
                       "-o", "t", "-i", "urls.txt"], d)
        c = wait_peak(["curl", "-s", "--fail", "--parallel", "--parallel-max", str(n),
                       "--parallel-immediate", "-K", "curl.cfg"], d)
        return j, c


try:
    if not os.path.exists("/usr/bin/time") or not shutil.which("curl"):
        print("no /usr/bin/time (Debian's package time) or no curl: the curl reference is skipped")
    else:
        ref = {n: [beside_curl(n) for _ in range(runs)] for n in (1, 300)}
        per = {}
        for k, name in ((0, "juggle"), (1, "curl")):
            one = statistics.median(r[k] for r in ref[1])
            many = statistics.median(r[k] for r in ref[300])
            per[name] = (many - one) * 1024 / 299 / 1000
            print(f"{name} beside curl's cap of 300: {one / 1024:.1f} MB with one idle transfer, "
                  f"{many / 1024:.1f} MB with 300: {per[name]:.1f} KB per extra transfer")
        print(f"juggle / curl per idle transfer: {per['juggle'] / per['curl']:.2f}")
finally:
    srv.terminate()

slow = [slow_peak() for _ in range(runs)]
print(f"500 slow transfers (100 KiB at 64 KiB/s): peak RSS "
      f"{statistics.median(r[0] for r in slow) / 1024:.1f} MB, loop stall max "
      f"{max(r[1] for r in slow) * 1e3:.1f} ms (median of {runs})")
