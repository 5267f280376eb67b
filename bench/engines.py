#!/usr/bin/python3
"""Compare juggle's download engines with each other and with public tools.

Run through bench/engines.sh, which installs the tools and builds juggle:

    engines.py --juggle J --server S --bookgen B --lesson L --results DIR [--quick]

Engines: `loop` (one libev thread, curl multi socket), `threads` (one
blocking curl_easy_perform per pthread, --threads = concurrency) and
`serial` (one transfer at a time). References: curl --parallel, aria2c,
wget2 and bench/lesson.py (requests + thread pool + process pool).

Every cell downloads a generated corpus (bookgen_dump, mirror layout) from
jg-testserver (first-byte delay, per-connection bandwidth) or from nginx
(full speed), several times, the participants taking turns within each
repetition. Each run gets a fresh output directory that must end up with
exactly the expected files, with the right sizes and SHA-256; anything else
is a FAILURE, printed loudly, and the exit status is 1 at the end.

Reported per participant and cell, medians over the runs: wall time,
user+sys CPU of the process and its children (wait4), peak RSS (ru_maxrss),
voluntary/involuntary context switches, juggle's loop stall (max and p99,
from its --json report), and ratios to the loop engine of the same cell.
The results go to DIR/engines.md, DIR/engines.json and DIR/*.{dat,gp,png,svg}.
"""

import argparse
import atexit
import concurrent.futures
import dataclasses
import datetime
import hashlib
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

KiB = 1024
MiB = 1024 * KiB

CURL_PARALLEL_CAP = 300      # curl silently caps --parallel-max at 300
LESSON_THREADS = 20          # bench/lesson.py's ThreadPoolExecutor
LESSON_LATENCY_MS = 30       # the "remote mirror" of the lesson cell
ENGINES = ("loop", "threads", "serial")
WARMUP_ROUND_MAX_S = 6.0     # a cell whose round is predicted shorter: one unmeasured round
WARMUP_MAX_S = 3.0           # else, when its quickest run is shorter: one unmeasured run of it

# Rough cost model, only to skip absurd cells and to estimate the time left.
STARTUP_S = 0.05             # exec, fork the workers, read the list
REQUEST_OVERHEAD_S = 0.0003  # connect + request + response on loopback
LINK_BPS = 1e9               # one connection at full speed
AGGREGATE_BPS = 700e6        # all connections together at full speed
COUNT_BPS = {"juggle": 250e6, "lesson": 25e6}   # counting, all cores

# Goals' thresholds (the issue's text).
SLOW_IDEAL_FACTOR = 1.25
MEMORY_SLOPE_FACTOR = 0.5
LESSON_SPEEDUP = 10.0
STALL_P99_LIMIT = 0.005
STALL_MAX_LIMIT = 0.020


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def loud_failure(msg):
    bar = "!" * 78
    log(f"\n{bar}\nFAILURE: {msg}\n{bar}")


def fmt_duration(seconds):
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}m{seconds % 60:02d}s"


def fmt_rate(bps):
    if not bps:
        return "unlimited"
    if bps >= MiB and bps % MiB == 0:
        return f"{bps // MiB} MiB/s"
    if bps % KiB == 0:
        return f"{bps // KiB} KiB/s"
    return f"{bps} B/s"


def fmt_size(n):
    if n >= MiB and n % MiB == 0:
        return f"{n // MiB} MiB"
    if n % KiB == 0:
        return f"{n // KiB} KiB"
    return f"{n} B"


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# --------------------------------------------------------------------------
# The plan: cells grouped in sweeps, each answering one question.

@dataclasses.dataclass
class ServerSpec:
    kind: str                 # "testserver" or "nginx"
    delay_ms: int = 0         # first-byte delay (jg-testserver --delay)
    rate: int = 0             # bytes/s per connection, 0 = unlimited

    def describe(self):
        if self.kind == "nginx":
            return "nginx, full speed"
        return f"jg-testserver, {self.delay_ms} ms first-byte delay, {fmt_rate(self.rate)} per connection"


@dataclasses.dataclass
class Cell:
    key: str
    books: int
    size: int
    server: ServerSpec
    concurrency: int
    participants: list
    runs: int
    count: bool = False       # juggle counts words (else --no-count)
    sample: bool = False      # sample /proc/PID/fd and threads during runs
    x: object = None          # coordinate in its sweep
    required: tuple = ()      # participants a goal needs: never skipped
    notes: list = dataclasses.field(default_factory=list)
    skipped: dict = dataclasses.field(default_factory=dict)   # name -> reason
    predicted_skip: dict = dataclasses.field(default_factory=dict)  # name -> predicted s
    skip_cap: float = 0.0
    runs_done: list = dataclasses.field(default_factory=list)  # result dicts


@dataclasses.dataclass
class Group:
    key: str
    title: str
    question: str
    xlabel: str               # sweep axis, None for a single cell
    cells: list


def build_plan(quick, have_nginx):
    """The sweeps. Sizes and counts are chosen so that the full run takes
    under 15 minutes and --quick under 2 on a 2-core machine."""
    runs = 1 if quick else 3
    all_engines = list(ENGINES)
    peers = ["curl", "aria2c", "wget2"]
    groups = []

    # Goal 3: at full speed from nginx, is the loop cheaper than threads and
    # than curl --parallel for the same work? (1,000 books in quick mode
    # too: with fewer, a run lasts ~0.1 s and noise decides.)
    n = 1000
    fast = ServerSpec("nginx") if have_nginx else ServerSpec("testserver")
    cell = Cell("nginx", n, 400 * KiB, fast, 64, all_engines + peers, 3 if quick else 9,
                required=("loop", "threads") + tuple(peers))
    if not have_nginx:
        cell.notes.append("nginx is not installed: jg-testserver serves this cell instead")
    groups.append(Group("nginx", "Full speed from nginx (goal 3)",
                        "At full speed, where CPU is the cost, does the loop engine spend less "
                        "CPU than threads, and less wall and CPU than curl --parallel?",
                        None, [cell]))

    # Goal 1: a slow server, 1,000 transfers at once: does the loop keep all
    # of them moving, as fast as the bandwidth allows?
    cell = Cell("slow", 1000, 100 * KiB, ServerSpec("testserver", 0, 64 * KiB), 1000,
                all_engines + peers, 1 if quick else 5, required=("loop", "threads") + tuple(peers))
    groups.append(Group("slow", "Slow server, 1,000 at once (goal 1)",
                        "With 64 KiB/s per connection and 1,000 concurrent transfers, does the "
                        "loop finish near the ideal size/bandwidth + latency, and no later "
                        "than 1,000 threads?", None, [cell]))

    # Goals 2 and 6: what does one more concurrent transfer cost in memory,
    # and can one loop process hold 2,000?
    cells = [Cell(f"memory@{c}", c, 4 * KiB, ServerSpec("testserver", 500), c, all_engines, runs,
                  sample=True, x=c, required=("loop", "threads"))
             for c in (100, 500, 1000, 2000)]
    groups.append(Group("memory", "Memory per transfer (goals 2 and 6)",
                        "With every transfer waiting 500 ms for its first byte (books = "
                        "concurrency), how much peak RSS does each extra concurrent transfer "
                        "cost, and how many descriptors do 2,000 need?",
                        "concurrency", cells))

    # Goal 4: the whole job (download and count) against the lesson program
    # (1,000 books even in quick mode: the goal is stated for 1,000).
    n = 1000
    # juggle runs as shipped (-j 64, its default) and at lesson.py's 20.
    cell = Cell("lesson", n, 400 * KiB, ServerSpec("testserver", LESSON_LATENCY_MS), 64,
                ["lesson.py", "loop", f"loop -j {LESSON_THREADS}"], runs, count=True,
                required=("lesson.py", "loop", f"loop -j {LESSON_THREADS}"))
    groups.append(Group("lesson", "Against the Python lesson (goal 4)",
                        f"Downloading and counting {n:,} books of 400 KiB from a mirror "
                        f"{LESSON_LATENCY_MS} ms away, how much sooner does juggle finish than "
                        "requests + ThreadPoolExecutor(20) + ProcessPoolExecutor(4)?",
                        None, [cell]))

    # How does wall time fall with concurrency while latency dominates?
    n = 100 if quick else 300
    points = (1, 10, 100) if quick else (1, 3, 10, 30, 100, 300)
    cells = []
    for c in points:
        names = ["loop", "threads"] + (["serial"] if c == 1 else [])
        cells.append(Cell(f"concurrency@{c}", n, 16 * KiB, ServerSpec("testserver", 10), c, names,
                          runs, x=c))
    cells[0].notes.append("serial ignores the concurrency: measured once, at the first point")
    groups.append(Group("concurrency", "Wall time against concurrency",
                        f"{n} books of 16 KiB, 10 ms first-byte delay: how does wall time fall as "
                        "concurrency grows, and does each engine keep up?", "concurrency", cells))

    # How does throughput hold up as the server's latency grows?
    n = 64 if quick else 256
    points = (0, 50, 500) if quick else (0, 10, 50, 100, 500)
    cells = [Cell(f"latency@{ms}", n, 64 * KiB, ServerSpec("testserver", ms), 64, all_engines, runs,
                  x=ms) for ms in points]
    groups.append(Group("latency", "Throughput against latency",
                        f"{n} books of 64 KiB, 64 concurrent: what throughput does each engine "
                        "reach as the first-byte delay grows?", "latency ms", cells))

    # How does throughput hold up as per-connection bandwidth shrinks?
    # (jg-testserver sends a 20 ms burst first: above ~2 MiB/s a 64 KiB book
    # goes out in the burst, so the sweep starts lower.)
    points = (0, 256 * KiB, 64 * KiB) if quick else (0, 1 * MiB, 256 * KiB, 64 * KiB)
    cells = [Cell(f"bandwidth@{fmt_rate(r)}", n, 64 * KiB, ServerSpec("testserver", 0, r), 64,
                  all_engines, runs, x=fmt_rate(r)) for r in points]
    groups.append(Group("bandwidth", "Throughput against bandwidth",
                        f"{n} books of 64 KiB, 64 concurrent: what throughput does each engine "
                        "reach as the bandwidth per connection shrinks?", "bandwidth", cells))

    # What does each book cost, from 10 to 5,000 books?
    points = (10, 1000) if quick else (10, 100, 1000, 5000)
    cells = [Cell(f"books@{b}", b, 16 * KiB, ServerSpec("testserver"), 64, all_engines, runs, x=b)
             for b in points]
    groups.append(Group("books", "Cost against the number of books",
                        "Books of 16 KiB at full speed from jg-testserver, 64 concurrent: how do "
                        "time and memory grow with the number of books?", "books", cells))
    return groups


# --------------------------------------------------------------------------
# Participants: how each tool is run and what it is expected to cost.

class Participant:
    name = ""
    kind = "peer"             # "juggle" or "peer"
    engine = None

    def concurrency(self, cell):
        return cell.concurrency

    def predict(self, cell):
        conc = max(1, min(self.concurrency(cell), cell.books))
        rounds = math.ceil(cell.books / conc)
        server = cell.server
        transfer = cell.size / server.rate if server.rate else cell.size / LINK_BPS
        per_request = server.delay_ms / 1000 + transfer + REQUEST_OVERHEAD_S
        total_bytes = cell.books * cell.size
        seconds = STARTUP_S + max(rounds * per_request, total_bytes / AGGREGATE_BPS)
        if cell.count:
            seconds += total_bytes / COUNT_BPS["juggle"]
        return seconds

    def argv(self, bench, cell, urls, out, report):
        raise NotImplementedError


class Juggle(Participant):
    kind = "juggle"

    def __init__(self, engine, jobs=None):
        self.engine = engine
        self.jobs = jobs
        self.name = engine if jobs is None else f"{engine} -j {jobs}"

    def concurrency(self, cell):
        return 1 if self.engine == "serial" else (self.jobs or cell.concurrency)

    def argv(self, bench, cell, urls, out, report):
        jobs = self.concurrency(cell)
        a = [bench.juggle, "-q", "-j", str(jobs), "--per-host", str(jobs),
             "-o", out, "--json", report, "-i", urls]
        if not cell.count:
            a.append("--no-count")
        if bench.engine_flag:
            a += ["--engine", self.engine]
            if self.engine == "threads" and bench.threads_flag:
                a += ["--threads", str(jobs)]
        return a


class Curl(Participant):
    name = "curl"

    def concurrency(self, cell):
        return min(cell.concurrency, CURL_PARALLEL_CAP)

    def predict(self, cell):
        return super().predict(cell) * 1.3

    def argv(self, bench, cell, urls, out, report):
        config = os.path.join(bench.work, "curl.cfg")
        with open(config, "w") as f:
            for url in bench.read_urls(urls):
                name = url.rsplit("/", 1)[1]
                f.write(f'url = "{url}"\noutput = "{os.path.join(out, name)}"\n')
        return ["curl", "-s", "-f", "--parallel", "--parallel-max", str(self.concurrency(cell)),
                "-K", config]


class Aria2(Participant):
    name = "aria2c"

    def predict(self, cell):
        return super().predict(cell) * 1.5 + cell.books * 0.0003

    def argv(self, bench, cell, urls, out, report):
        inp = os.path.join(bench.work, "aria2.txt")
        with open(inp, "w") as f:
            for url in bench.read_urls(urls):
                f.write(f"{url}\n  out={url.rsplit('/', 1)[1]}\n")
        return ["aria2c", "-q", "-i", inp, "-j", str(cell.concurrency), "-d", out,
                "--allow-overwrite=true", "--auto-file-renaming=false", "--file-allocation=none",
                "--console-log-level=error", "--summary-interval=0", "--download-result=hide",
                "--max-connection-per-server=1", "--split=1"]


class Wget2(Participant):
    name = "wget2"

    def predict(self, cell):
        return super().predict(cell) * 1.2

    def argv(self, bench, cell, urls, out, report):
        # Not recursive, so -P puts each file under its URL's basename.
        return ["wget2", "-q", "--max-threads", str(cell.concurrency), "-P", out, "-i", urls]


class Lesson(Participant):
    name = "lesson.py"

    def concurrency(self, cell):
        return LESSON_THREADS

    def predict(self, cell):
        conc = min(LESSON_THREADS, cell.books)
        download = math.ceil(cell.books / conc) * (cell.server.delay_ms / 1000 + 0.002)
        return 0.3 + download + cell.books * cell.size / COUNT_BPS["lesson"]

    def argv(self, bench, cell, urls, out, report):
        return ["/usr/bin/python3", bench.lesson, urls, out]


def make_participants():
    table = {e: Juggle(e) for e in ENGINES}
    table[f"loop -j {LESSON_THREADS}"] = Juggle("loop", LESSON_THREADS)
    for p in (Curl(), Aria2(), Wget2(), Lesson()):
        table[p.name] = p
    return table


# --------------------------------------------------------------------------
# Corpora and servers.

class Corpus:
    """N generated books of one size in mirror layout, with sizes and hashes."""

    def __init__(self, bookgen, root, books, size):
        self.root, self.books, self.size = root, books, size
        subprocess.run([bookgen, root, str(books), str(size)], check=True)
        self.expected = {}    # basename -> (relative path, size, sha256)
        with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
            rels = [f"cache/epub/{i}/pg{i}.txt" for i in range(1, books + 1)]
            for rel, (n, digest) in zip(rels, pool.map(lambda r: file_digest(os.path.join(root, r)), rels)):
                if n != size:
                    raise RuntimeError(f"bookgen_dump wrote {n} bytes to {rel}, expected {size}")
                self.expected[os.path.basename(rel)] = (rel, n, digest)
        self.order = list(self.expected)     # pg1.txt, pg2.txt, ...

    def subset(self, books):
        return {name: self.expected[name] for name in self.order[:books]}


def file_digest(path):
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
        return f.tell(), digest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on port {port}")


class Servers:
    """Starts jg-testserver and nginx instances and stops every one of them."""

    def __init__(self, bench):
        self.bench = bench
        self.procs = []

    def start(self, spec, root):
        """Returns (base URL, process)."""
        b = self.bench
        b.seq += 1
        d = os.path.join(b.work, f"server-{b.seq}")
        os.mkdir(d)
        if spec.kind == "nginx":
            port = free_port()
            conf = os.path.join(d, "nginx.conf")
            with open(conf, "w") as f:
                f.write(nginx_conf(d, root, port))
            argv = ["nginx", "-p", d, "-e", os.path.join(d, "error.log"), "-c", conf,
                    "-g", "daemon off;"]
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(d, "stderr"), "w"), start_new_session=True,
                                    preexec_fn=die_with_parent)
            self.procs.append(proc)
            wait_for_port(port, proc, "nginx")
        else:
            port_file = os.path.join(d, "port")
            argv = [b.server, "--root", root, "--port-file", port_file,
                    "--delay", str(spec.delay_ms), "--rate", str(spec.rate)]
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(d, "stderr"), "w"), start_new_session=True,
                                    preexec_fn=die_with_parent)
            self.procs.append(proc)
            deadline = time.monotonic() + 10
            while not os.path.exists(port_file):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"jg-testserver did not start: {' '.join(argv)}")
                time.sleep(0.01)
            port = int(open(port_file).read())
        return f"http://127.0.0.1:{port}", proc

    def stop(self, proc):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self):
        for proc in list(self.procs):
            try:
                self.stop(proc)
            except Exception:
                pass


def die_with_parent():
    """In a server's child before exec: SIGTERM when the driver dies, even
    by SIGKILL, so no server outlives a benchmark."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def nginx_conf(d, root, port):
    return f"""worker_processes 1;
worker_rlimit_nofile 65536;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  sendfile on;
  client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d};
  uwsgi_temp_path {d}; scgi_temp_path {d};
  keepalive_requests 100000;
  server {{ listen 127.0.0.1:{port} backlog=4096; root {root}; }}
}}
"""


# --------------------------------------------------------------------------
# One measured run.

class ProcSampler(threading.Thread):
    """Polls /proc/PID for the most descriptors and threads seen."""

    def __init__(self, pid, interval=0.01):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.fd_max = self.threads_max = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            try:
                self.fd_max = max(self.fd_max, len(os.listdir(f"/proc/{self.pid}/fd")))
                with open(f"/proc/{self.pid}/status") as f:
                    for line in f:
                        if line.startswith("Threads:"):
                            self.threads_max = max(self.threads_max, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            self.done.wait(self.interval)


# Why a C runner: at exec the kernel keeps the old address space's peak RSS
# in the new program's ru_maxrss, so anything forked (or vforked) from this
# Python process reports at least this process's RSS (tens of MB). The tiny
# runner forks the tool from a ~1 MB process, waits for it with wait4() and
# writes its figures on a pipe.
RUNNER_C = r"""
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* runner FD PROGRAM ARG...: runs PROGRAM, writes "pid N" then
 * "done STATUS WALL USER SYS MAXRSS_KB NVCSW NIVCSW" to FD. */
int main(int argc, char **argv)
{
    if (argc < 3)
        return 127;
    int fd = atoi(argv[1]);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    prctl(PR_SET_PDEATHSIG, SIGTERM);   /* the driver died: stop */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0)
        return 127;
    if (pid == 0) {
        setpgid(0, 0);          /* its own group: a timeout kills it, not us */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        execvp(argv[2], argv + 2);
        _exit(127);
    }
    setpgid(pid, pid);
    dprintf(fd, "pid %d\n", (int)pid);
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR)
            return 127;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    dprintf(fd, "done %d %.9f %ld.%06ld %ld.%06ld %ld %ld %ld\n", status, wall,
            (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
            (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec,
            ru.ru_maxrss, ru.ru_nvcsw, ru.ru_nivcsw);
    return 0;
}
"""


class GroupKiller:
    """SIGKILLs a process group when a run takes longer than its timeout."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.fired = False
        self.timer = None

    def start(self, pgid):
        def fire():
            self.fired = True
            kill_group(pgid)
        self.timer = threading.Timer(self.timeout, fire)
        self.timer.daemon = True
        self.timer.start()

    def cancel(self):
        if self.timer:
            self.timer.cancel()


@dataclasses.dataclass
class Usage:
    wall: float = 0.0
    user: float = 0.0
    sys: float = 0.0
    maxrss_kb: int = 0
    nvcsw: int = 0
    nivcsw: int = 0
    exit: int = 0
    timed_out: bool = False
    fd_max: int = None
    threads_max: int = None


class Runner:
    """Runs one measured command and returns its Usage (wait4 figures of the
    command and its reaped children, optionally /proc samples)."""

    def __init__(self, work):
        self.path = None
        self.note = None
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc:
            src = os.path.join(work, "runner.c")
            with open(src, "w") as f:
                f.write(RUNNER_C)
            exe = os.path.join(work, "runner")
            r = subprocess.run([cc, "-O2", "-o", exe, src], capture_output=True, text=True)
            if r.returncode == 0:
                self.path = exe
        if not self.path:
            self.note = ("no C compiler: commands run straight from Python, so peak RSS includes "
                         f"about {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB "
                         "of the driver's own")

    def run(self, argv, stdout, stderr, cwd, timeout, sample, bench):
        if not self.path:
            return self.run_direct(argv, stdout, stderr, cwd, timeout, sample, bench)
        rfd, wfd = os.pipe()
        try:
            proc = subprocess.Popen([self.path, str(wfd)] + argv, stdin=subprocess.DEVNULL,
                                    stdout=stdout, stderr=stderr, cwd=cwd, pass_fds=(wfd,),
                                    start_new_session=True)
        finally:
            os.close(wfd)
        bench.current = [proc.pid]        # process groups to kill if we are stopped
        killer = GroupKiller(timeout)
        sampler = None
        lines = []
        with os.fdopen(rfd) as pipe:
            for line in pipe:
                lines.append(line.split())
                if lines[-1][0] == "pid":
                    child = int(lines[-1][1])       # leads its own process group
                    bench.current.append(child)
                    killer.start(child)
                    if sample:
                        sampler = ProcSampler(child)
                        sampler.start()
        proc.wait()
        killer.cancel()
        bench.current = None
        if sampler:
            sampler.done.set()
            sampler.join()
        done = next((l for l in lines if l[0] == "done"), None)
        if not done:
            raise RuntimeError(f"the runner failed (status {proc.returncode}) for {' '.join(argv)}")
        status, wall, user, sys_, rss, nvcsw, nivcsw = done[1:]
        return Usage(wall=float(wall), user=float(user), sys=float(sys_), maxrss_kb=int(rss),
                     nvcsw=int(nvcsw), nivcsw=int(nivcsw),
                     exit=os.waitstatus_to_exitcode(int(status)), timed_out=killer.fired,
                     fd_max=sampler.fd_max if sampler else None,
                     threads_max=sampler.threads_max if sampler else None)

    @staticmethod
    def run_direct(argv, stdout, stderr, cwd, timeout, sample, bench):
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                cwd=cwd, start_new_session=True)
        bench.current = [proc.pid]
        sampler = ProcSampler(proc.pid) if sample else None
        if sampler:
            sampler.start()
        killer = GroupKiller(timeout)
        killer.start(proc.pid)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        bench.current = None
        if sampler:
            sampler.done.set()
            sampler.join()
        return Usage(wall=wall, user=ru.ru_utime, sys=ru.ru_stime, maxrss_kb=ru.ru_maxrss,
                     nvcsw=ru.ru_nvcsw, nivcsw=ru.ru_nivcsw, exit=proc.returncode,
                     timed_out=killer.fired,
                     fd_max=sampler.fd_max if sampler else None,
                     threads_max=sampler.threads_max if sampler else None)


def verify_output(out, expected):
    """Problems with OUT: it must hold exactly the expected files, each with
    the right size and SHA-256 (no .part leftovers, nothing else)."""
    problems = []
    present = {}
    for entry in os.scandir(out):
        if entry.is_file(follow_symlinks=False):
            present[entry.name] = entry.stat().st_size
        else:
            problems.append(f"unexpected non-file {entry.name}")
    missing = [n for n in expected if n not in present]
    extra = sorted(n for n in present if n not in expected)
    wrong_size = [n for n in expected if n in present and present[n] != expected[n][1]]
    to_hash = [n for n in expected if n in present and present[n] == expected[n][1]]
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        digests = pool.map(lambda n: file_digest(os.path.join(out, n))[1], to_hash)
        wrong_hash = [n for n, d in zip(to_hash, digests) if d != expected[n][2]]

    def some(names):
        return ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    if missing:
        problems.append(f"{len(missing)} missing ({some(missing)})")
    if extra:
        problems.append(f"{len(extra)} unexpected ({some(extra)})")
    if wrong_size:
        problems.append(f"{len(wrong_size)} of wrong size ({some(wrong_size)})")
    if wrong_hash:
        problems.append(f"{len(wrong_hash)} with wrong SHA-256 ({some(wrong_hash)})")
    return problems


def tail(path, lines=6):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).strip()
    except OSError:
        return ""


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.juggle = os.path.abspath(args.juggle)
        self.server = os.path.abspath(args.server)
        self.bookgen = os.path.abspath(args.bookgen)
        self.lesson = os.path.abspath(args.lesson)
        self.results = os.path.abspath(args.results)
        self.cores = len(os.sched_getaffinity(0))
        self.seq = 0
        self.current = None       # process groups of the measured run, while it runs
        self.failures = []
        self.corpora = {}         # size -> Corpus
        self.work = make_work_dir()
        self.runner = Runner(self.work)
        self.servers = Servers(self)
        self.started = time.monotonic()
        self.url_cache = {}

    # -- setup ------------------------------------------------------------
    def detect(self):
        """What this machine and this juggle offer."""
        self.nofile = raise_nofile_limit()
        help_text = subprocess.run([self.juggle, "--help"], capture_output=True, text=True).stdout
        self.engine_flag = "--engine" in help_text
        self.threads_flag = "--threads" in help_text
        self.engines = {"loop": None}          # engine -> None (available) or a reason
        for e in ("threads", "serial"):
            if not self.engine_flag:
                self.engines[e] = f"{self.args.juggle} --help does not mention --engine yet"
                continue
            r = subprocess.run([self.juggle, "--engine", e, "--help"], capture_output=True, text=True)
            self.engines[e] = None if r.returncode == 0 else \
                f"juggle --engine {e} is rejected: {(r.stderr.strip().splitlines() or ['?'])[0]}"
        self.tools = {
            "curl": shutil.which("curl"),
            "aria2c": shutil.which("aria2c"),
            "wget2": shutil.which("wget2"),
            "nginx": shutil.which("nginx"),
            "gnuplot": shutil.which("gnuplot"),
        }
        self.has_requests = subprocess.run(["/usr/bin/python3", "-c", "import requests"],
                                           capture_output=True).returncode == 0
        self.versions = tool_versions(self)
        self.machine = machine_info(self.cores)

    def unavailable(self, p):
        """Why participant p cannot run here, or None."""
        if p.kind == "juggle":
            return self.engines.get(p.engine)
        if p.name == "lesson.py":
            return None if self.has_requests else "python3-requests is not installed"
        return None if self.tools.get(p.name) else f"{p.name} is not installed"

    def corpus(self, size):
        return self.corpora[size]

    def make_corpora(self, groups):
        need = {}
        for g in groups:
            for c in g.cells:
                need[c.size] = max(need.get(c.size, 0), c.books)
        for size, books in sorted(need.items()):
            t = time.monotonic()
            root = os.path.join(self.work, f"corpus-{size}")
            self.corpora[size] = Corpus(self.bookgen, root, books, size)
            log(f"corpus: {books} books of {fmt_size(size)} in {root} "
                f"({time.monotonic() - t:.1f} s with hashes)")

    def read_urls(self, path):
        if path not in self.url_cache:
            with open(path) as f:
                self.url_cache[path] = [line.strip() for line in f if line.strip()]
        return self.url_cache[path]

    # -- measuring ----------------------------------------------------------
    def measure(self, p, cell, urls, expected, timeout):
        self.seq += 1
        out = os.path.join(self.work, f"out-{self.seq}")
        os.mkdir(out)
        report = os.path.join(self.work, f"report-{self.seq}.json")
        stdout_path = os.path.join(self.work, f"stdout-{self.seq}")
        stderr_path = os.path.join(self.work, f"stderr-{self.seq}")
        argv = p.argv(self, cell, urls, out, report)
        with open(stdout_path, "w") as so, open(stderr_path, "w") as se:
            u = self.runner.run(argv, so, se, self.work, timeout, cell.sample, self)
        r = {
            "participant": p.name, "wall": u.wall, "user": u.user, "sys": u.sys,
            "cpu": u.user + u.sys, "maxrss_kb": u.maxrss_kb,
            "nvcsw": u.nvcsw, "nivcsw": u.nivcsw, "exit": u.exit,
            "stall_max": None, "stall_p99": None, "words": None, "retries": None,
            "fd_max": u.fd_max, "threads_max": u.threads_max,
            "argv": argv, "problems": [],
        }
        if u.timed_out:
            r["problems"].append(f"killed after {timeout:.0f} s")
        if u.exit != 0:
            r["problems"].append(f"exit status {u.exit}: {tail(stderr_path)}")
        if p.kind == "juggle":
            read_juggle_report(report, r)
            if self.engine_flag and r.get("engine_reported") not in (None, p.engine):
                r["problems"].append(f"asked for engine {p.engine}, the report says "
                                     f"{r['engine_reported']}")
        elif p.name == "lesson.py":
            m = re.search(r"^words (\d+)", open(stdout_path).read(), re.M)
            r["words"] = int(m.group(1)) if m else None
        r["problems"] += verify_output(out, expected)
        r["ok"] = not r["problems"]
        for path in (report, stdout_path, stderr_path):
            if os.path.exists(path):
                os.unlink(path)
        shutil.rmtree(out, ignore_errors=True)
        return r

    def cleanup(self):
        for pgid in self.current or []:
            kill_group(pgid)
        self.servers.stop_all()
        if not self.args.keep_work:
            shutil.rmtree(self.work, ignore_errors=True)


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def read_juggle_report(path, r):
    try:
        with open(path) as f:
            rep = json.load(f)
    except (OSError, ValueError) as e:
        r["problems"].append(f"no JSON report: {e}")
        return
    stall = rep.get("loop_stall") or {}
    r["stall_max"] = stall.get("max_seconds")
    r["stall_p99"] = stall.get("p99_seconds")
    r["engine_reported"] = rep.get("engine")
    r["process_rss_kb"] = (rep.get("process") or {}).get("max_rss_kb")   # juggle itself, no workers
    totals = rep.get("totals", {})
    r["retries"] = totals.get("retries")
    r["words"] = (rep.get("counts") or {}).get("words")
    if totals.get("failed"):
        bad = [f"{b.get('url')}: {b.get('status')} {b.get('error')}"
               for b in rep.get("books", []) if b.get("status") != "ok"]
        r["problems"].append(f"juggle reports {totals['failed']} failed: " + "; ".join(bad[:3]))


def raise_nofile_limit():
    """Soft descriptor limit up to the hard one (for 2,000 transfers and the
    servers); returns (before, in force)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if new > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        except (ValueError, OSError):
            new = soft
    return soft, max(soft, new)


WORK_PREFIX = "jg-engines."


def remove_dead_work_dirs(base):
    """Work directories of drivers that were killed (SIGKILL skips atexit)."""
    for name in os.listdir(base):
        d = os.path.join(base, name)
        if not name.startswith(WORK_PREFIX):
            continue
        try:
            pid = int(open(os.path.join(d, "driver.pid")).read())
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (OSError, ValueError):
            pass


def make_work_dir():
    """A private directory on tmpfs when it has room, else in /tmp."""
    base = "/tmp"
    try:
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize > 4 << 30:
            base = "/dev/shm"
    except OSError:
        pass
    remove_dead_work_dirs(base)
    d = tempfile.mkdtemp(prefix=WORK_PREFIX, dir=base)
    os.chmod(d, 0o755)        # nginx's workers (nobody) read the corpus
    with open(os.path.join(d, "driver.pid"), "w") as f:
        f.write(str(os.getpid()))
    return d


def first_line(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return ((r.stdout or r.stderr).strip().splitlines() or [""])[0]
    except (OSError, subprocess.TimeoutExpired):
        return None


def tool_versions(bench):
    def short(line, words=None, cut=None):
        if line and cut:
            line = line.split(cut)[0]
        return " ".join(line.split()[:words]) if line and words else line
    v = {"juggle": short(first_line([bench.juggle, "-V"]), 2), "python3": platform.python_version()}
    if bench.tools["curl"]:
        v["curl"] = short(first_line(["curl", "--version"]), 2)
    if bench.tools["aria2c"]:
        v["aria2c"] = short(first_line(["aria2c", "--version"]))
    if bench.tools["wget2"]:
        v["wget2"] = short(first_line(["wget2", "--version"]), cut=" - ")
    if bench.tools["nginx"]:
        v["nginx"] = short(first_line(["nginx", "-v"]), cut=None).replace("nginx version: ", "")
    if bench.has_requests:
        v["requests"] = first_line(["/usr/bin/python3", "-c", "import requests; print(requests.__version__)"])
    return v


def machine_info(cores):
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": cores, "kernel": platform.release(), "cpu": model,
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}


# --------------------------------------------------------------------------
# Running the plan.

@dataclasses.dataclass
class Step:
    group: Group
    cell: Cell
    rep: int
    participant: Participant
    predicted: float


class Progress:
    """Elapsed time and an estimate of the rest, on stderr."""

    def __init__(self, steps):
        self.steps = steps
        self.done = 0
        self.actual = 0.0        # seconds spent in completed steps
        self.predicted = 0.0
        self.by_key = {}         # (cell, participant) -> [seconds]
        self.recorded = set()    # ids of finished steps
        self.start = time.monotonic()

    def record(self, step, seconds):
        self.done += 1
        self.recorded.add(id(step))
        self.actual += seconds
        self.predicted += step.predicted
        self.by_key.setdefault((step.cell.key, step.participant.name), []).append(seconds)

    def eta(self):
        factor = min(4.0, max(0.5, self.actual / self.predicted)) if self.predicted else 1.0
        left = 0.0
        for s in self.steps[self.done:]:
            known = self.by_key.get((s.cell.key, s.participant.name))
            left += statistics.median(known) if known else s.predicted * factor + 0.1
        return left

    def line(self, step, index_of_cell, n_cells, result):
        elapsed = time.monotonic() - self.start
        status = "ok" if result["ok"] else "FAILED"
        return (f"[{self.done}/{len(self.steps)}] cell {index_of_cell}/{n_cells} {step.cell.key} | "
                f"run {step.rep + 1}/{step.cell.runs} {step.participant.name}: "
                f"{result['wall']:.2f} s {status} | elapsed {fmt_duration(elapsed)}, "
                f"ETA {fmt_duration(self.eta())}")


def more_runs_for_short_cells(bench, groups):
    """Runs under half a second are noisy and cheap: 5 of them."""
    for g in groups:
        for c in g.cells:
            longest = max((PARTICIPANTS[n].predict(c) for n in c.participants
                           if bench.unavailable(PARTICIPANTS[n]) is None), default=1.0)
            if longest < 0.5:
                c.runs = max(c.runs, 5)


def skip_unrunnable(bench, groups, participants):
    """Marks each participant that cannot or should not run in a cell, with
    the reason, and prints it."""
    cap = 6.0 if bench.quick else 30.0
    for g in groups:
        for cell in g.cells:
            for name in cell.participants:
                p = participants[name]
                why = bench.unavailable(p)
                if why is None and name not in cell.required:
                    predicted = p.predict(cell)
                    if predicted * cell.runs > cap:
                        cell.predicted_skip[name] = predicted
                        cell.skip_cap = cap
                        why = (f"predicted {predicted:.0f} s per run x {cell.runs} runs, over the "
                               f"{cap:.0f} s allowed per participant and cell "
                               f"({cell.books} books, concurrency {min(p.concurrency(cell), cell.books)})")
                if why:
                    cell.skipped[name] = why
                    log(f"skip: {cell.key} {name}: {why}")


def plan_steps(bench, groups, participants):
    steps = []
    for g in groups:
        for cell in g.cells:
            names = [n for n in cell.participants if n not in cell.skipped]
            for rep in range(cell.runs):
                # Round-robin, starting one further each repetition.
                k = rep % len(names) if names else 0
                for name in names[k:] + names[:k]:
                    p = participants[name]
                    steps.append(Step(g, cell, rep, p, p.predict(cell)))
    return steps


def run_plan(bench, groups, participants):
    steps = plan_steps(bench, groups, participants)
    progress = Progress(steps)
    cells = [c for g in groups for c in g.cells]
    log(f"plan: {len(steps)} runs in {len(cells)} cells, predicted about "
        f"{fmt_duration(sum(s.predicted + 0.1 for s in steps))} of measuring")
    i = 0
    while i < len(steps):
        cell = steps[i].cell
        cell_steps = []
        while i < len(steps) and steps[i].cell is cell:
            cell_steps.append(steps[i])
            i += 1
        try:
            run_cell(bench, cell, cell_steps, progress, cells.index(cell) + 1, len(cells))
        except RuntimeError as e:      # a server or the runner broke: say so, go on
            msg = f"{cell.key}: cell abandoned: {e}"
            loud_failure(msg)
            bench.failures.append(msg)
            progress.done += sum(1 for s in cell_steps if id(s) not in progress.recorded)


def warm_up_steps(steps):
    """One round of every participant when a round is cheap, else one run
    of the quickest when that is cheap, else nothing."""
    first_round = [s for s in steps if s.rep == 0]
    if first_round and sum(s.predicted for s in first_round) < WARMUP_ROUND_MAX_S:
        return first_round
    quickest = min(steps, key=lambda s: s.predicted, default=None)
    return [quickest] if quickest and quickest.predicted < WARMUP_MAX_S else []


def run_cell(bench, cell, steps, progress, index, n_cells):
    corpus = bench.corpus(cell.size)
    expected = corpus.subset(cell.books)
    base, server = bench.servers.start(cell.server, corpus.root)
    bench.seq += 1
    urls = os.path.join(bench.work, f"urls-{bench.seq}.txt")
    with open(urls, "w") as f:
        for name, (rel, _, _) in expected.items():
            f.write(f"{base}/{rel}\n")

    def check(r, what):
        if not r["ok"]:
            msg = (f"{cell.key}, {what}: " + "; ".join(r["problems"])
                   + f"\n  command: {' '.join(r['argv'])}")
            loud_failure(msg)
            bench.failures.append(msg)
        if server.poll() is not None:
            raise RuntimeError(f"the server of cell {cell.key} died (status {server.returncode})")

    try:
        # The first runs after a server starts are often much slower (cold
        # server, never-touched tmpfs pages in this VM): unmeasured, but
        # checked, runs first.
        for warm in warm_up_steps(steps):
            r = bench.measure(warm.participant, cell, urls, expected, max(60.0, 5 * warm.predicted + 20))
            log(f"cell {index}/{n_cells} {cell.key} | warm-up {warm.participant.name}: {r['wall']:.2f} s")
            check(r, f"warm-up run of {warm.participant.name}")
        for step in steps:
            t = time.monotonic()
            timeout = max(60.0, 5 * step.predicted + 20)
            r = bench.measure(step.participant, cell, urls, expected, timeout)
            r["rep"] = step.rep
            cell.runs_done.append(r)
            progress.record(step, time.monotonic() - t)
            log(progress.line(step, index, n_cells, r))
            check(r, f"run {step.rep + 1}, {step.participant.name}")
    finally:
        bench.servers.stop(server)


# --------------------------------------------------------------------------
# Summaries.

METRICS = ("wall", "cpu", "maxrss_kb", "nvcsw", "nivcsw", "stall_max", "stall_p99", "words",
           "retries")


def summarize(cell):
    """participant -> medians over its successful runs (and counts)."""
    rows = {}
    for name in cell.participants:
        if name in cell.skipped:
            continue
        runs = [r for r in cell.runs_done if r["participant"] == name]
        good = [r for r in runs if r["ok"]]
        m = {k: median_or_none([r[k] for r in good]) for k in METRICS}
        m["fd_max"] = max((r["fd_max"] for r in good if r["fd_max"] is not None), default=None)
        m["threads_max"] = max((r["threads_max"] for r in good if r["threads_max"] is not None),
                               default=None)
        m["runs"] = len(runs)
        m["ok_runs"] = len(good)
        if m["wall"]:
            m["mb_per_s"] = cell.books * cell.size / m["wall"] / 1e6
        rows[name] = m
    base = rows.get("loop")
    for m in rows.values():
        ok = base and base["ok_runs"] and m["ok_runs"]
        m["wall_ratio"] = m["wall"] / base["wall"] if ok else None
        m["cpu_ratio"] = m["cpu"] / base["cpu"] if ok and base["cpu"] else None
    return rows


def least_squares_slope(points):
    n = len(points)
    if n < 2:
        return None
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else None


def goal(number, text, figures, status):
    return {"goal": number, "text": text, "figures": figures, "status": status}


def evaluate_goals(bench, groups):
    """The issue's goals, each with its measured figures and PASS/FAIL
    (N/A when what it compares could not be measured)."""
    by_key = {g.key: g for g in groups}
    summaries = {c.key: summarize(c) for g in groups for c in g.cells}
    goals = []

    def get(cell_key, name):
        m = summaries.get(cell_key, {}).get(name)
        return m if m and m["ok_runs"] else None

    # 1. Slow server.
    if "slow" in by_key:
        cell = by_key["slow"].cells[0]
        ideal = cell.size / cell.server.rate + cell.server.delay_ms / 1000
        loop, threads = get("slow", "loop"), get("slow", "threads")
        parts, status = [f"ideal = {cell.size} B / {cell.server.rate} B/s + "
                         f"{cell.server.delay_ms} ms = {ideal:.3f} s, bound {SLOW_IDEAL_FACTOR} x ideal = "
                         f"{SLOW_IDEAL_FACTOR * ideal:.3f} s"], "PASS"
        if loop:
            parts.append(f"loop {loop['wall']:.3f} s ({loop['wall'] / ideal:.2f} x ideal)")
            if loop["wall"] > SLOW_IDEAL_FACTOR * ideal:
                status = "FAIL"
        else:
            status = "FAIL"
        if threads and loop:
            parts.append(f"threads(1000) {threads['wall']:.3f} s")
            if loop["wall"] > threads["wall"]:
                status = "FAIL"
        else:
            parts.append("threads not measured: " + cell.skipped.get("threads", "no successful run"))
            status = "N/A" if status == "PASS" else status
        goals.append(goal(1, f"slow server ({cell.books} x {fmt_size(cell.size)} at "
                             f"{fmt_rate(cell.server.rate)}, concurrency {cell.concurrency}): loop wall "
                             f"<= threads wall and <= {SLOW_IDEAL_FACTOR} x ideal",
                          "; ".join(parts), status))

    # 2. Memory per transfer, and 6. 2,000 transfers in one process.
    if "memory" in by_key:
        slopes = {}
        for engine in ("loop", "threads"):
            pts = [(c.x, get(c.key, engine)["maxrss_kb"] * 1024) for c in by_key["memory"].cells
                   if get(c.key, engine)]
            slopes[engine] = least_squares_slope(pts)
        parts = []
        for engine, s in slopes.items():
            parts.append(f"{engine} {s / 1024:.1f} KB/transfer" if s is not None
                         else f"{engine} not measured")
        if slopes["loop"] is None:
            status = "FAIL"
        elif slopes["threads"] is None:
            status = "N/A"
        else:
            status = "PASS" if slopes["loop"] <= MEMORY_SLOPE_FACTOR * slopes["threads"] else "FAIL"
            parts.append(f"loop/threads = {slopes['loop'] / slopes['threads']:.2f}")
        points = ", ".join(str(c.x) for c in by_key["memory"].cells)
        goals.append(goal(2, f"memory per transfer (4 KiB books, 500 ms delay, concurrency {points}): "
                             f"slope(loop) <= {MEMORY_SLOPE_FACTOR} x slope(threads)",
                          "; ".join(parts), status))
        bench.memory_slopes = slopes

    # 3. nginx full speed.
    if "nginx" in by_key:
        cell = by_key["nginx"].cells[0]
        loop, threads, curl = get("nginx", "loop"), get("nginx", "threads"), get("nginx", "curl")
        parts, status = [], "PASS"
        if not loop:
            status = "FAIL"
            parts.append("loop: no successful run")
        else:
            parts.append(f"loop {loop['wall']:.3f} s wall, {loop['cpu']:.3f} s CPU")
            if threads:
                parts.append(f"threads {threads['wall']:.3f} s wall, {threads['cpu']:.3f} s CPU")
                if loop["cpu"] > threads["cpu"]:
                    status = "FAIL"
            else:
                parts.append("threads not measured: " + cell.skipped.get("threads", "no successful run"))
            if curl:
                parts.append(f"curl {curl['wall']:.3f} s wall, {curl['cpu']:.3f} s CPU")
                if loop["wall"] > curl["wall"] or loop["cpu"] > curl["cpu"]:
                    status = "FAIL"
            else:
                parts.append("curl not measured: " + cell.skipped.get("curl", "no successful run"))
            if status == "PASS" and not (threads and curl):
                status = "N/A"
        goals.append(goal(3, f"{cell.server.describe()} ({cell.books} x {fmt_size(cell.size)}, "
                             f"concurrency {cell.concurrency}, --no-count): loop CPU <= threads CPU; "
                             "loop wall and CPU <= curl --parallel", "; ".join(parts), status))

    # 4. Lesson.
    if "lesson" in by_key:
        cell = by_key["lesson"].cells[0]
        lesson, loop = get("lesson", "lesson.py"), get("lesson", "loop")
        if lesson and loop:
            speedup = lesson["wall"] / loop["wall"]
            figures = (f"lesson.py {lesson['wall']:.2f} s, juggle loop (-j {cell.concurrency}, its default; "
                       f"counting) {loop['wall']:.2f} s: {speedup:.2f}x shorter")
            same = get("lesson", f"loop -j {LESSON_THREADS}")
            if same:
                figures += (f"; at lesson.py's concurrency (-j {LESSON_THREADS}) {same['wall']:.2f} s, "
                            f"{lesson['wall'] / same['wall']:.2f}x")
            status = "PASS" if speedup >= LESSON_SPEEDUP else "FAIL"
        else:
            figures, status = "not measured: " + (cell.skipped.get("lesson.py") or "a run failed"), \
                "FAIL" if not loop else "N/A"
        goals.append(goal(4, f"lesson ({cell.books} x {fmt_size(cell.size)}, {cell.server.delay_ms} ms "
                             f"delay): juggle end-to-end >= {LESSON_SPEEDUP:.0f}x shorter than lesson.py",
                          figures, status))

    # 5. Loop stall, every cell.
    worst_max = worst_p99 = None
    worst_run = None
    for g in groups:
        for c in g.cells:
            for name, m in summaries[c.key].items():
                p = PARTICIPANTS[name]
                if p.kind != "juggle" or p.engine != "loop" or m["stall_max"] is None:
                    continue
                if worst_max is None or m["stall_max"] > worst_max[0]:
                    worst_max = (m["stall_max"], c.key, name)
                if worst_p99 is None or m["stall_p99"] > worst_p99[0]:
                    worst_p99 = (m["stall_p99"], c.key, name)
            for r in c.runs_done:
                if r["ok"] and r.get("stall_max") is not None and PARTICIPANTS[r["participant"]].engine == "loop":
                    if worst_run is None or r["stall_max"] > worst_run[0]:
                        worst_run = (r["stall_max"], c.key, r["rep"] + 1)
    if worst_max:
        status = "PASS" if worst_p99[0] < STALL_P99_LIMIT and worst_max[0] < STALL_MAX_LIMIT else "FAIL"
        figures = (f"worst cell medians: p99 {worst_p99[0] * 1e3:.2f} ms ({worst_p99[1]}), "
                   f"max {worst_max[0] * 1e3:.2f} ms ({worst_max[1]}); worst single run max "
                   f"{worst_run[0] * 1e3:.2f} ms ({worst_run[1]}, run {worst_run[2]})")
    else:
        figures, status = "no loop run reported its stall", "FAIL"
    goals.append(goal(5, f"loop stall p99 < {STALL_P99_LIMIT * 1e3:.0f} ms and max < "
                         f"{STALL_MAX_LIMIT * 1e3:.0f} ms in every cell (medians per cell)", figures, status))

    # 6. 2,000 concurrent transfers in one loop process.
    if "memory" in by_key:
        last = by_key["memory"].cells[-1]
        loop = get(last.key, "loop")
        soft_before, in_force = bench.nofile
        limit = f"ulimit -n in force {in_force}" + (
            f" (raised by the driver from {soft_before})" if in_force != soft_before else "")
        if loop:
            first = get(by_key["memory"].cells[0].key, "loop")
            per = ""
            if first and first["fd_max"] and last.concurrency > by_key["memory"].cells[0].concurrency:
                per = (f" (about {(loop['fd_max'] - first['fd_max']) / (last.concurrency - by_key['memory'].cells[0].concurrency):.1f}"
                       " per extra transfer)")
            figures = (f"{last.books} books, all ok; at most {loop['fd_max']} descriptors{per} open and "
                       f"{loop['threads_max']} thread(s) seen in the juggle process; "
                       f"peak RSS {loop['maxrss_kb'] / 1024:.1f} MB; {limit}")
            threads = get(last.key, "threads")
            if threads:
                figures += (f"; threads engine: {threads['fd_max']} descriptors, "
                            f"{threads['threads_max']} threads")
            status = "PASS" if loop["fd_max"] and loop["fd_max"] >= last.concurrency else "FAIL"
        else:
            figures, status = f"loop did not succeed at {last.concurrency}; {limit}", "FAIL"
        goals.append(goal(6, f"{last.concurrency} concurrent transfers in one loop process: "
                             "the descriptors it needed and the limit in force", figures, status))
    return goals, summaries


# --------------------------------------------------------------------------
# Reports: markdown, JSON, plots.

def fmt(v, spec=".3f", none="–"):
    return none if v is None else format(v, spec)


def table(cell_rows, xlabel, extra):
    """cell_rows: [(x, cell, participant name, medians)]."""
    head = ([xlabel] if xlabel else []) + ["engine/tool", "runs", "wall s", "CPU s", "peak RSS MB",
                                            "vol/invol ctx sw", "stall max/p99 ms", "wall/loop",
                                            "CPU/loop"] + [e[0] for e in extra]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for x, cell, name, m in cell_rows:
        label = name
        if name == "curl" and cell.concurrency > CURL_PARALLEL_CAP:
            label = f"curl (--parallel-max {CURL_PARALLEL_CAP}: curl's cap)"
        if not m["ok_runs"]:
            cols = [label, str(m["runs"]), "FAILED"] + ["–"] * (6 + len(extra))
        else:
            stall = (f"{m['stall_max'] * 1e3:.2f} / {m['stall_p99'] * 1e3:.2f}"
                     if m["stall_max"] is not None else "–")
            cols = [label, str(m["runs"]), fmt(m["wall"]), fmt(m["cpu"]), fmt(m["maxrss_kb"] / 1024, ".1f"),
                    f"{m['nvcsw']:.0f} / {m['nivcsw']:.0f}", stall,
                    fmt(m["wall_ratio"], ".2f"), fmt(m["cpu_ratio"], ".2f")]
            cols += [e[1](m) for e in extra]
            if m["ok_runs"] < m["runs"]:
                cols[0] += f" ({m['runs'] - m['ok_runs']} of {m['runs']} runs FAILED)"
        lines.append("| " + " | ".join(([str(x)] if xlabel else []) + cols) + " |")
    return "\n".join(lines)


EXTRA_COLUMNS = {
    "memory": [("fds max", lambda m: fmt(m["fd_max"], "d")),
               ("threads max", lambda m: fmt(m["threads_max"], "d"))],
    "latency": [("MB/s", lambda m: fmt(m.get("mb_per_s"), ".1f"))],
    "bandwidth": [("MB/s", lambda m: fmt(m.get("mb_per_s"), ".1f"))],
    "books": [("ms/book", lambda m: fmt(m["wall"] * 1e3 / m["books"], ".3f"))],
    "lesson": [("words", lambda m: fmt(m["words"], ",.0f"))],
}


def render_markdown(bench, groups, goals, summaries, elapsed, plots):
    m = bench.machine
    runs_note = ("quick mode: 1 run per cell (3 in goal 3's cell), so most figures are single "
                 "runs, not medians" if bench.quick else
                 "medians of 3 runs per cell (5 in goal 1's cell and where a run is under 0.5 s, "
                 "9 in goal 3's)")
    out = ["# juggle download engines", "",
           f"Machine: {m['nproc']} cores (nproc), kernel {m['kernel']}, {m['cpu']}; {m['date']}. "
           f"{runs_note}; whole run {fmt_duration(elapsed)}.", ""]
    out.append("Versions: " + "; ".join(f"{k}: {v}" for k, v in bench.versions.items() if v) + ".")
    out.append("")
    missing = {e: why for e, why in bench.engines.items() if why}
    if missing:
        out.append("Engines not measured: " + "; ".join(f"{e} ({why})" for e, why in missing.items())
                   + ".")
        out.append("")
    out.append("Each cell starts its own server and begins with unmeasured (but checked) "
               "warm-up runs: a round of every participant when a round is short, else a run "
               "of the quickest. "
               "Every run starts with an empty output directory and must end with exactly the "
               "expected files (size and SHA-256 checked). juggle runs with `-q -j N --per-host N` "
               "and `--no-count` except in the lesson cell; `serial` runs with `-j 1`; `threads` "
               "with `--threads N`. A small C runner forks each command and waits for it with "
               "wait4: CPU is user+sys of the command and its children (juggle's workers, "
               "lesson.py's pool), peak RSS is ru_maxrss (the largest single process of them), "
               "context switches likewise summed. Stall figures come from juggle's --json report "
               "(every engine has a loop thread for queues, names and saving; goal 5 judges "
               "the loop engine's).")
    if bench.runner.note:
        out.append("")
        out.append(f"Note: {bench.runner.note}.")
    out.append("")
    out.append("## Goals")
    out.append("")
    out.append("| # | goal | measured | result |")
    out.append("|---|---|---|---|")
    for g in goals:
        out.append(f"| {g['goal']} | {g['text']} | {g['figures']} | **{g['status']}** |")
    out.append("")
    for g in groups:
        out.append(f"## {g.title}")
        out.append("")
        out.append(g.question)
        out.append("")
        c0 = g.cells[0]
        out.append(f"Setup: {describe_setup(g)}.")
        out.append("")
        rows = []
        for c in g.cells:
            for name, med in summaries[c.key].items():
                med = dict(med, books=c.books)
                rows.append((c.x, c, name, med))
        out.append(table(rows, g.xlabel, EXTRA_COLUMNS.get(g.key, [])))
        out.append("")
        notes = []
        for c in g.cells:
            notes += c.notes
        notes += skip_notes(bench, g)
        if g.key == "lesson":
            notes += lesson_word_notes(c0, summaries[c0.key])
        for n in dedupe(notes):
            out.append(f"- {n}")
        if notes:
            out.append("")
    if plots:
        out.append("## Plots")
        out.append("")
        for name, title in plots:
            out.append(f"- {title}: `{name}.png`, `{name}.svg` (data `{name}.dat`, script `{name}.gp`)")
        out.append("")
    out.append("## Failures")
    out.append("")
    if bench.failures:
        for f in bench.failures:
            out.append(f"- FAILURE: {f}")
    else:
        out.append("None: every run saved every book, with the right size and SHA-256, and nothing else.")
    out.append("")
    return "\n".join(out)


def describe_setup(group):
    """What the cells of a sweep share (the swept axis is left out)."""
    c0 = group.cells[0]
    sweeps_server = group.key in ("latency", "bandwidth")
    sweeps_books = group.key in ("books", "memory")
    sweeps_concurrency = group.key in ("concurrency", "memory")
    parts = ["jg-testserver" if sweeps_server else c0.server.describe(),
             f"books of {fmt_size(c0.size)}" if sweeps_books
             else f"{c0.books:,} books of {fmt_size(c0.size)}"]
    if not sweeps_concurrency:
        parts.append(f"concurrency {c0.concurrency}")
    parts.append("counting words" if c0.count else "--no-count")
    return "; ".join(parts)


def skip_notes(bench, group):
    """One line per participant and reason, listing the sweep points; an
    engine juggle does not offer is said once at the top instead."""
    where = {}
    for c in group.cells:
        for name, why in c.skipped.items():
            p = PARTICIPANTS[name]
            if p.kind == "juggle" and bench.engines.get(p.engine):
                continue
            key = (name, "predicted" if name in c.predicted_skip else why)
            where.setdefault(key, []).append(c)
    notes = []
    for (name, why), cells in where.items():
        at = f" at {group.xlabel} " + ", ".join(str(c.x) for c in cells) if group.xlabel else ""
        if why == "predicted":
            secs = ", ".join(f"{c.predicted_skip[name]:.0f} s" for c in cells)
            n = cells[0].runs
            why = (f"predicted {secs} per run, times {n} run{'s' if n != 1 else ''}, is over the "
                   f"{cells[0].skip_cap:.0f} s allowed per participant and cell")
        notes.append(f"skipped {name}{at}: {why}")
    return notes


def dedupe(items):
    seen, outl = set(), []
    for i in items:
        if i not in seen:
            seen.add(i)
            outl.append(i)
    return outl


def lesson_word_notes(cell, rows):
    lesson, loop = rows.get("lesson.py"), rows.get("loop")
    if not (lesson and loop and lesson["words"] and loop["words"]):
        return []
    return [f"word totals (they tokenize differently, not compared strictly): juggle "
            f"{loop['words']:,.0f} (Unicode words, Project Gutenberg header and licence left out), "
            f"lesson.py {lesson['words']:,.0f} (regex \\w+ over whole files): ratio "
            f"{loop['words'] / lesson['words']:.3f}",
            f"`loop` is juggle as shipped (-j {cell.concurrency}, its default, with --per-host "
            f"{cell.concurrency}); `loop -j {LESSON_THREADS}` matches lesson.py's "
            f"{LESSON_THREADS} download threads; goal 4 is judged on `loop`"]


@dataclasses.dataclass
class PlotSpec:
    group: str
    name: str
    title: str
    xlabel: str
    ylabel: str
    value: object             # (medians, cell) -> y
    x_axis: str = "log"       # "log", "linear" or "labels" (one tick per point)
    logy: bool = True
    fit_lines: bool = False   # least-squares lines per engine


PLOTS = [
    PlotSpec("concurrency", "wall_vs_concurrency", "Wall time against concurrency",
             "concurrent transfers (-j); serial measured once (it ignores -j), drawn flat",
             "wall time, s", lambda m, c: m["wall"]),
    PlotSpec("memory", "rss_vs_concurrency", "Peak RSS against concurrency (4 KiB books, 500 ms delay)",
             "concurrent transfers (-j = books)", "peak RSS, MB", lambda m, c: m["maxrss_kb"] / 1024,
             x_axis="linear", logy=False, fit_lines=True),
    PlotSpec("latency", "throughput_vs_latency", "Throughput against first-byte latency",
             "first-byte delay, ms", "MB/s", lambda m, c: m["mb_per_s"], x_axis="labels"),
    PlotSpec("bandwidth", "throughput_vs_bandwidth", "Throughput against bandwidth per connection",
             "bandwidth per connection", "MB/s", lambda m, c: m["mb_per_s"], x_axis="labels"),
]


def plot_series(group, summaries, value):
    """Engine names and rows [x, y per engine] (None where not measured).
    An engine that the sweep runs at one point only, by design (serial in
    the concurrency sweep, which it ignores), is drawn flat across it."""
    names = [n for n in ENGINES if any(n in summaries[c.key] for c in group.cells)]
    rows = []
    for c in group.cells:
        row = [c.x]
        for n in names:
            m = summaries[c.key].get(n)
            row.append(value(m, c) if m and m["ok_runs"] else None)
        rows.append(row)
    for i, n in enumerate(names, start=1):
        listed_in = [c for c in group.cells if n in c.participants]
        ys = [r[i] for r in rows if r[i] is not None]
        if len(listed_in) == 1 and len(ys) == 1:
            for r in rows:
                r[i] = ys[0]
    return names, rows


def gnuplot_terminal(bench):
    if not bench.tools["gnuplot"]:
        return "png"
    terms = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    return "pngcairo" if "pngcairo" in terms.stdout + terms.stderr else "png"


def write_plots(bench, groups, summaries):
    """The .dat and .gp files, and PNG + SVG when gnuplot is installed."""
    by_key = {g.key: g for g in groups}
    terminal = gnuplot_terminal(bench)
    plots = []
    for spec in PLOTS:
        g = by_key.get(spec.group)
        if not g:
            continue
        names, rows = plot_series(g, summaries, spec.value)
        if not names:
            continue
        name = spec.name
        with open(os.path.join(bench.results, f"{name}.dat"), "w") as f:
            f.write("x " + " ".join(names) + "\n")
            for row in rows:
                x = f'"{row[0]}"' if spec.x_axis == "labels" else row[0]
                f.write(f"{x} " + " ".join("NaN" if v is None else f"{v:.6g}" for v in row[1:]) + "\n")
        axis = {"log": "set logscale x\nset autoscale xfix\nset offsets graph 0.03, graph 0.03, 0, 0",
                "linear": "set xrange [0:*]",
                "labels": "set offsets 0.3, 0.3, 0, 0"}[spec.x_axis]
        using = "0:i:xtic(1)" if spec.x_axis == "labels" else "1:i"
        plot = (f'plot for [i=2:{len(names) + 1}] "{name}.dat" using {using} '
                f'with linespoints lw 2 pt 7 title columnheader(i)')
        if spec.fit_lines:
            for i, engine in enumerate(names, start=1):
                pts = [(r[0], r[i]) for r in rows if r[i] is not None]
                slope = least_squares_slope(pts)
                if slope is None:
                    continue
                mx = sum(x for x, _ in pts) / len(pts)
                my = sum(y for _, y in pts) / len(pts)
                plot += (f', {my - slope * mx:.6g} + {slope:.6g} * x with lines dt 2 lc {i} '
                         f'title "{engine} fit: {slope * 1024:.1f} KB per transfer"')
        with open(os.path.join(bench.results, f"{name}.gp"), "w") as f:
            f.write(f"""# {spec.title}: run as `gnuplot {name}.gp` in this directory.
set datafile missing "NaN"
set title "{spec.title} ({bench.machine['nproc']} cores, {bench.machine['date'][:10]}, medians)" noenhanced
set xlabel "{spec.xlabel}" noenhanced
set ylabel "{spec.ylabel}" noenhanced
set key top left
set grid
{axis}
{"set logscale y" if spec.logy else "set yrange [0:*]"}
set terminal {terminal} size 900,560 noenhanced
set output "{name}.png"
{plot}
set terminal svg size 900,560 dynamic noenhanced
set output "{name}.svg"
replot
""")
        plots.append((name, spec.title))
        if bench.tools["gnuplot"]:
            r = subprocess.run(["gnuplot", f"{name}.gp"], cwd=bench.results, capture_output=True,
                               text=True)
            if r.returncode != 0:
                log(f"gnuplot {name}.gp failed: {r.stderr.strip()}")
    if not bench.tools["gnuplot"]:
        log("gnuplot is not installed: .dat and .gp written, no images")
    return plots


def write_json(bench, groups, goals, summaries, elapsed):
    doc = {
        "machine": bench.machine, "versions": bench.versions, "quick": bench.quick,
        "elapsed_seconds": elapsed, "engines_unavailable": {e: w for e, w in bench.engines.items() if w},
        "nofile": {"before": bench.nofile[0], "in_force": bench.nofile[1]},
        "goals": goals, "failures": bench.failures,
        "groups": [],
    }
    for g in groups:
        doc["groups"].append({
            "key": g.key, "title": g.title, "question": g.question, "axis": g.xlabel,
            "cells": [{
                "key": c.key, "x": c.x, "books": c.books, "size": c.size,
                "server": dataclasses.asdict(c.server), "concurrency": c.concurrency,
                "count": c.count, "runs": c.runs, "skipped": c.skipped, "notes": c.notes,
                "medians": summaries[c.key], "raw": c.runs_done,
            } for c in g.cells],
        })
    with open(os.path.join(bench.results, "engines.json"), "w") as f:
        json.dump(doc, f, indent=1)


# --------------------------------------------------------------------------

PARTICIPANTS = make_participants()


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--juggle", default="build-bench/juggle")
    ap.add_argument("--server", default="build-bench/tests/server/jg-testserver")
    ap.add_argument("--bookgen", default="build-bench/bench/bookgen_dump")
    ap.add_argument("--lesson", default="bench/lesson.py")
    ap.add_argument("--results", default="bench/results")
    ap.add_argument("--quick", action="store_true", help="fewer books, points and runs (< 2 min)")
    ap.add_argument("--only", help="comma-separated sweeps to run (nginx, slow, memory, lesson, "
                                   "concurrency, latency, bandwidth, books)")
    ap.add_argument("--participants", help="comma-separated engines/tools to run (default: all)")
    ap.add_argument("--runs", type=int, help="runs per cell instead of the default")
    ap.add_argument("--keep-work", action="store_true", help="keep the temporary directory")
    return ap.parse_args()


def main():
    args = parse_args()
    bench = Bench(args)
    atexit.register(bench.cleanup)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))
    os.makedirs(bench.results, exist_ok=True)
    bench.detect()
    for e, why in bench.engines.items():
        if why:
            log(f"engine {e} not measured: {why}")

    groups = build_plan(bench.quick, bool(bench.tools["nginx"]))
    if args.only:
        wanted = set(args.only.split(","))
        groups = [g for g in groups if g.key in wanted]
    if args.participants:
        wanted = set(args.participants.split(","))
        for g in groups:
            for c in g.cells:
                c.participants = [n for n in c.participants if n in wanted]
                c.required = tuple(n for n in c.required if n in wanted)
    if args.runs:
        for g in groups:
            for c in g.cells:
                c.runs = args.runs
    elif not bench.quick:
        more_runs_for_short_cells(bench, groups)
    skip_unrunnable(bench, groups, PARTICIPANTS)
    bench.make_corpora(groups)
    run_plan(bench, groups, PARTICIPANTS)

    elapsed = time.monotonic() - bench.started
    goals, summaries = evaluate_goals(bench, groups)
    plots = write_plots(bench, groups, summaries)
    elapsed = time.monotonic() - bench.started
    markdown = render_markdown(bench, groups, goals, summaries, elapsed, plots)
    with open(os.path.join(bench.results, "engines.md"), "w") as f:
        f.write(markdown)
    write_json(bench, groups, goals, summaries, elapsed)
    print(markdown)
    log(f"results in {bench.results} (engines.md, engines.json, plots); "
        f"took {fmt_duration(elapsed)}")
    if bench.failures:
        loud_failure(f"{len(bench.failures)} run(s) lost or corrupted books or failed; see above")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
