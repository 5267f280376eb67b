"""The runner of the engines benchmark: how things are run and measured.

It owns the private work directory, the generated corpora (with their
sizes and SHA-256), the servers (jg-testserver and nginx: started,
waited for, stopped), and one measured command: a small C program forks
it and reports wall time, user+sys CPU, peak RSS and context switches
(wait4), optionally with /proc samples of descriptors and threads, under
a timeout; the output directory is then verified file by file. Bench
also detects what this machine and this juggle offer (engines, tools,
versions, descriptor limit).

It knows nothing of sweeps, goals or tables: a cell is only books, a size,
a server spec and a participant that turns itself into an argv
(engines_scenarios); it imports only engines_common.
"""

import concurrent.futures
import dataclasses
import datetime
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from engines_common import fmt_size, log


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
    the right size and SHA-256 (no .part leftovers, nothing else). juggle's
    own state directory, OUT/.juggle (its manifest), is not an output."""
    problems = []
    present = {}
    for entry in os.scandir(out):
        if entry.name == ".juggle" and entry.is_dir(follow_symlinks=False):
            continue
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
        self.lesson_async = os.path.abspath(args.lesson_async)
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
        # What the Python participants import (lesson.py requests,
        # lesson_async.py aiohttp): module -> version, or None when missing.
        self.python_modules = {m: python_module_version(m) for m in ("requests", "aiohttp")}
        self.versions = tool_versions(self)
        self.machine = machine_info(self.cores)

    def unavailable(self, p):
        """Why participant p cannot run here, or None."""
        if p.kind == "juggle":
            return self.engines.get(p.engine)
        if p.python_module:
            return (None if self.python_modules[p.python_module]
                    else f"python3-{p.python_module} is not installed")
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
        elif p.words_on_stdout:
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


def remove_dead_work_dirs(base, prefix=WORK_PREFIX):
    """Work directories of drivers that were killed (SIGKILL skips atexit)."""
    for name in os.listdir(base):
        d = os.path.join(base, name)
        if not name.startswith(prefix):
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
    for module, version in bench.python_modules.items():
        if version:
            v[module] = version
    return v


def python_module_version(module):
    """The version /usr/bin/python3 imports, or None when it cannot."""
    try:
        r = subprocess.run(["/usr/bin/python3", "-c", f"import {module}; print({module}.__version__)"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    return r.stdout.strip() or "?"


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
