#!/usr/bin/python3
"""Many small books: N x SIZE files from a stock nginx on 127.0.0.1, C at
once, `juggle --no-count` against `curl --parallel --parallel-max C`.

    nice python3 bench/small_books.py [--runs 9] [--books 5000] [--size 4096]
        [--jobs 20] [--base DIR] [JUGGLE ...]

Each JUGGLE (default: build/juggle) and curl take turns within each round,
the order reversed every other round, and each run writes into a directory
of its own, made just before it. Prints the median wall, user and system
time of each (children included) and its ratio to curl's, and the load
average around the runs; every run is checked to leave exactly N books of
SIZE bytes.

Where the books go matters: DIR (default: a new directory under /tmp) is
the filesystem measured. No run's files are removed while the benchmark
runs, and they are left behind (the directory is printed) unless --clean:
ext4 passes over inodes freed in the last 60 s (300 s while their table
block is dirty) each time it allocates one, and 5,000 files created right
after 5,000 were deleted cost seconds of system time that belong to
neither program. Remove them, then wait some minutes before the next run.
"""
import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


from engines_runner import free_port  # noqa: E402


def start_nginx(d, root, port):
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    conf = os.path.join(d, "nginx.conf")
    temps = "".join(f"    {k}_temp_path {d}/tmp;\n"
                    for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    with open(conf, "w") as f:
        f.write(f"daemon off;\nmaster_process off;\npid {d}/nginx.pid;\n"
                f"error_log {d}/error.log;\nevents {{ worker_connections 1024; }}\n"
                f"http {{\n    access_log off;\n{temps}"
                f"    server {{ listen 127.0.0.1:{port}; root {root};"
                f" keepalive_requests 1000000; }}\n}}\n")
    proc = subprocess.Popen(["nginx", "-p", d, "-e", os.path.join(d, "error.log"), "-c", conf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("nginx did not start")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--books", type=int, default=5000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--base", default=None, help="where the books go (a directory)")
    ap.add_argument("--clean", action="store_true", help="remove the books at the end")
    ap.add_argument("juggle", nargs="*")
    a = ap.parse_args()
    binaries = a.juggle or [os.path.join(HERE, "..", "build", "juggle")]
    work = tempfile.mkdtemp(prefix="jg-small-")
    base = tempfile.mkdtemp(prefix="jg-small-out-", dir=a.base)
    root = os.path.join(work, "www")
    os.makedirs(root)
    os.chmod(work, 0o755)
    os.chmod(root, 0o755)  # nginx may read as nobody
    for i in range(a.books):
        with open(os.path.join(root, f"b{i}.txt"), "wb") as f:
            f.write((b"book %d " % i) * (a.size // 6 + 1))
            f.truncate(a.size)
    port = free_port()
    nginx = start_nginx(work, root, port)
    urls = [f"http://127.0.0.1:{port}/b{i}.txt" for i in range(a.books)]
    with open(os.path.join(work, "urls.txt"), "w") as f:
        f.write("".join(u + "\n" for u in urls))
    with open(os.path.join(work, "curl.cfg"), "w") as f:
        f.write("".join(f'url = "{u}"\noutput = "b{i}.txt"\n' for i, u in enumerate(urls)))
    names = ["curl"] + binaries
    times = {n: [] for n in names}
    loads = []
    try:
        for r in range(a.runs):
            for n in (names if r % 2 == 0 else names[::-1]):
                out = os.path.join(base, f"{r}-{names.index(n)}")
                if n == "curl":
                    os.makedirs(out)
                    argv = ["curl", "-s", "--parallel", "--parallel-max", str(a.jobs), "-K",
                            os.path.join(work, "curl.cfg")]
                else:
                    argv = [n, "-q", "--no-count", "-j", str(a.jobs), "--per-host", str(a.jobs),
                            "-i", os.path.join(work, "urls.txt"), "-o", out]
                time.sleep(0.3)
                loads.append(os.getloadavg()[0])
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                p = subprocess.run(argv, cwd=out if n == "curl" else None,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                t1 = time.perf_counter()
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                books = [e for e in os.scandir(out) if not e.name.startswith(".")]
                if p.returncode != 0 or len(books) != a.books or \
                        any(e.stat().st_size != a.size for e in books):
                    sys.exit(f"{n}: exit {p.returncode}, {len(books)} books in {out}")
                times[n].append((t1 - t0, r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime))
    finally:
        nginx.kill()
        nginx.wait()
        shutil.rmtree(work)
    print(f"{a.books} x {a.size} B, {a.jobs} at once, into {base}, medians of {a.runs}; "
          f"load average {min(loads):.2f} to {max(loads):.2f}")
    ref = statistics.median(t[0] for t in times["curl"])
    for n in names:
        w, u, s = (statistics.median(t[k] for t in times[n]) for k in range(3))
        print(f"  {n:40s} wall {w:.3f} s ({w / ref:.2f}x curl)  user {u:.3f}  sys {s:.3f}")
    if a.clean:
        shutil.rmtree(base)
    else:
        print(f"left in {base} (remove it, then wait a few minutes before the next run)")


if __name__ == "__main__":
    main()
