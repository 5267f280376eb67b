#!/usr/bin/env python3
"""What continuing a killed download saves, in bytes transferred.

    bench/continue.py [--size BYTES] [--rate BPS] [--at FRACTION] [--runs R]
                      [--build DIR] [--juggle PATH]

One generated book of --size bytes (default 20 MiB), served by
jg-testserver at --rate bytes/s (default 20,000,000) so that a run can be
killed mid-body. For each mode, R times (default 3): a run is killed with
SIGKILL once --at (default 0.5) of the body is on disk (its temporary
file, polled every 2 ms), then run again over the same directory to the
end. The bytes are the server's own count of body bytes it sent, from its
request log, for both runs together:

  continue      the default: the rerun asks for bytes=N- and gets the rest
  no-continue   --no-continue: the rerun downloads the whole body again

Both modes run --no-count (the body streams to its temporary file in both,
so the kill lands at the same place); counting changes nothing on the wire.
Every result is checked against the server's body (SHA-256).
"""
import argparse
import glob
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_server(build, log):
    p = subprocess.Popen([os.path.join(build, "tests/server/jg-testserver"), "--log", log],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("PORT "), line
    return p, int(line.split()[1])


def body_bytes(log, since):
    with open(log) as f:
        ends = [json.loads(l) for l in f if l.strip()][since:]
    return sum(e["bytes"] for e in ends if e["ev"] == "end"), len(ends)


def one(juggle, url, out, size, at, extra):
    p = subprocess.Popen([juggle, "-q", "--no-count", "-o", out, *extra, url],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    on_disk = 0
    while p.poll() is None:
        tmp = glob.glob(os.path.join(out, ".jg-*.part"))
        on_disk = os.path.getsize(tmp[0]) if tmp else 0
        if on_disk >= at * size:
            break
        time.sleep(0.002)
    p.send_signal(signal.SIGKILL)
    p.wait()
    t0 = time.monotonic()
    again = subprocess.run([juggle, "-q", "--no-count", "-o", out, *extra, url],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert again.returncode == 0
    return on_disk, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=20 << 20)
    ap.add_argument("--rate", type=int, default=20_000_000)
    ap.add_argument("--at", type=float, default=0.5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--juggle", default=None)
    a = ap.parse_args()
    juggle = a.juggle or os.path.join(a.build, "juggle")
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log.jsonl")
        server, port = start_server(a.build, log)
        try:
            path = f"/gen/big.txt?size={a.size}"
            url = f"http://127.0.0.1:{port}{path}&rate={a.rate}"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as r:
                want = hashlib.sha256(r.read()).hexdigest()
            print(f"{a.size} bytes at {a.rate} B/s, killed at {a.at:.0%}, "
                  f"medians of {a.runs}:")
            print("| mode | on disk at the kill | bytes sent (both runs) | x body | rerun s |")
            print("|---|---|---|---|---|")
            for mode, extra in (("continue", []), ("no-continue", ["--no-continue"])):
                sent, disk, secs = [], [], []
                for i in range(a.runs):
                    out = os.path.join(tmp, f"{mode}{i}")
                    with open(log) as f:
                        since = sum(1 for _ in f)
                    n, s = one(juggle, url, out, a.size, a.at, extra)
                    got = hashlib.sha256(open(os.path.join(out, "big.txt"), "rb").read()).hexdigest()
                    assert got == want, f"{mode}: the file is not the body"
                    sent.append(body_bytes(log, since)[0])
                    disk.append(n)
                    secs.append(s)
                b = statistics.median(sent)
                print(f"| {mode} | {statistics.median(disk):,.0f} | {b:,.0f} | "
                      f"{b / a.size:.2f} | {statistics.median(secs):.2f} |")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
