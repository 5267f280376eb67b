"""Shared fixtures: the real juggle binary, the project's test server, a DNS
server of the test's own, and nginx with a certificate made at test time.
Everything listens on loopback only."""
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.request

import pytest

BUILD = os.environ.get("JG_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
JUGGLE = os.path.join(BUILD, "juggle")
# Every test talks to loopback: the machine's proxy settings are none of
# their business (juggle honours them; test_proxy.py sets its own).
for _k in [k for k in os.environ
           if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")]:
    del os.environ[_k]
# Nor is the user's own config file: juggle reads $XDG_CONFIG_HOME/juggle/config.
import tempfile  # noqa: E402
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="jg-no-config-")
# The project's version: meson.build's project(), its one source of truth.
with open(os.path.join(os.path.dirname(__file__), "../../meson.build")) as _f:
    VERSION = re.search(r"version: '([0-9.]+)'", _f.read()).group(1)
SERVER = os.path.join(BUILD, "tests/server/jg-testserver")
CORPUS = os.environ.get("JUGGLE_CORPUS") or os.path.join(os.path.dirname(__file__),
                                                         "../../../shared/corpus")


class TestServer:
    def __init__(self, tmp, *args):
        self.log_path = os.path.join(tmp, "server-log.jsonl")
        self.proc = subprocess.Popen([SERVER, "--log", self.log_path, *args],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), f"test server did not start: {line!r}"
        self.port = int(line.split()[1])
        self.base = f"http://127.0.0.1:{self.port}"

    def url(self, path):
        return self.base + path

    def fetch(self, path):
        """The reference bytes, fetched by an independent client."""
        with urllib.request.urlopen(self.url(path), timeout=10) as r:
            return r.read()

    def log(self):
        with open(self.log_path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def starts(self, target_part=""):
        return [e for e in self.log() if e["ev"] == "start" and target_part in e["target"]]

    def bump(self):
        """Every generated body changes (bytes and ETag), as a book on a
        real server may between two runs; returns once the server says so."""
        n = sum(e["ev"] == "generation" for e in self.log()) + 1
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.time() + 10
        while sum(e["ev"] == "generation" for e in self.log()) < n:
            assert time.time() < deadline, "the test server did not take SIGUSR1"
            time.sleep(0.01)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)


@pytest.fixture
def server(tmp_path):
    s = TestServer(str(tmp_path))
    yield s
    s.stop()


@pytest.fixture
def make_server(tmp_path):
    made = []

    def make(*args):
        d = tmp_path / f"srv{len(made)}"
        d.mkdir()
        s = TestServer(str(d), *args)
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop()


def book_files(d):
    """The books in an output directory: the manifest's .juggle is not one."""
    return sorted(f for f in os.listdir(d) if f != ".juggle")


class Run:
    def __init__(self, proc, out_dir, json_path):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.out = out_dir
        self.json_path = json_path

    def report(self):
        with open(self.json_path) as f:
            return json.load(f)

    def books(self):
        return {b["url"]: b for b in self.report()["books"]}

    def files(self):
        return book_files(self.out)


@pytest.fixture
def juggle(tmp_path):
    def run(*args, out="texts", timeout=60, stdin=None, json_report=True):
        out_dir = os.path.join(tmp_path, out)
        json_path = os.path.join(tmp_path, "report.json")
        cmd = [JUGGLE, "-o", out_dir, *args]
        if json_report:
            cmd += ["--json", json_path]
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True,
                              timeout=timeout, input=stdin)
        return Run(proc, out_dir, json_path)
    return run


@contextlib.contextmanager
def open_files_at_least(need):
    """Raises this process's RLIMIT_NOFILE (its children's too) to `need`
    for the block, or skips the test, visibly, when the hard limit is
    lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"RLIMIT_NOFILE's hard limit is {hard}; the test needs {need}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def thread_samples(proc):
    """Threads of a running process, sampled every 5 ms until it ends."""
    samples = []
    while proc.poll() is None:
        try:
            samples.append(len(os.listdir(f"/proc/{proc.pid}/task")))
        except FileNotFoundError:
            break
        time.sleep(0.005)
    return samples


def max_overlap(intervals):
    """Largest number of [start, end) intervals open at once."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals],
                    key=lambda x: (x[0], x[1]))
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def request_intervals(log, key=None):
    starts = {}
    out = []
    for e in log:
        k = (e["conn"], e["req"])
        if e["ev"] == "start":
            starts[k] = e
        elif e["ev"] == "end" and k in starts:
            s = starts.pop(k)
            if key is None or key(s):
                out.append((s["t"], e["t"]))
    return out


class DnsServer:
    """A tiny authoritative DNS server on 127.0.0.1 (UDP) for *.test names."""

    def __init__(self, records):
        self.records = records  # name -> {"A": [...], "AAAA": [...]}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = []
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.sock.settimeout(0.2)
        while self.running:
            try:
                data, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            reply = self.answer(data)
            if reply:
                self.sock.sendto(reply, peer)

    def answer(self, q):
        if len(q) < 12:
            return None
        qid, _flags, qd = struct.unpack(">HHH", q[:6])
        i, labels = 12, []
        while i < len(q) and q[i]:
            n = q[i]
            labels.append(q[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += n + 1
        qtype, _qclass = struct.unpack(">HH", q[i + 1:i + 5])
        question = q[12:i + 5]
        name = ".".join(labels).lower()
        self.queries.append((name, qtype))
        rec = self.records.get(name)
        answers = []
        if rec is not None:
            for addr in rec.get("A", []) if qtype == 1 else []:
                answers.append(struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(addr))
            for addr in rec.get("AAAA", []) if qtype == 28 else []:
                answers.append(struct.pack(">HHHIH", 0xC00C, 28, 1, 60, 16) +
                               socket.inet_pton(socket.AF_INET6, addr))
        rcode = 0 if rec is not None else 3
        header = struct.pack(">HHHHHH", qid, 0x8400 | rcode, 1, len(answers), 0, 0)
        return header + question + b"".join(answers)

    def stop(self):
        self.running = False
        self.thread.join()
        self.sock.close()


@pytest.fixture
def dns():
    servers = []

    def make(records):
        d = DnsServer(records)
        servers.append(d)
        return d
    yield make
    for d in servers:
        d.stop()


@pytest.fixture
def corpus():
    if not os.path.isdir(os.path.join(CORPUS, "cache")):
        pytest.skip(f"the shared Gutenberg corpus is not at {CORPUS} (set JUGGLE_CORPUS)")
    return os.path.abspath(CORPUS)


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Nginx:
    """A stock nginx on 127.0.0.1, configured by the test: `servers` is the
    text of its server blocks, with {port} standing for the port."""

    def __init__(self, d, servers, port=None):
        self.dir = d
        self.port = port or free_port()
        (d / "tmp").mkdir(parents=True, exist_ok=True)
        (d / "nginx.conf").write_text(f"""
daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 1024; }}
http {{
    log_format combined_proto '$server_protocol $connection $connection_requests $request_uri';
    access_log {d}/access.log combined_proto;
    client_body_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;
{servers.replace("{port}", str(self.port))}
}}
""")
        self.proc = subprocess.Popen([NGINX, "-p", str(d), "-e", str(d / "error.log"),
                                      "-c", str(d / "nginx.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.proc.kill()
        pytest.fail("nginx did not start: " + self.proc.stderr.read().decode())

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def make_nginx(tmp_path):
    if not os.path.exists(NGINX):
        pytest.skip("nginx is not installed")
    made = []

    def make(servers):
        n = Nginx(tmp_path / f"nginx{len(made)}", servers)
        made.append(n)
        return n
    yield make
    for n in made:
        n.stop()


def have(tool):
    return shutil.which(tool) or os.path.exists(f"/usr/sbin/{tool}")


# A file whose every test was skipped (no corpus, no nginx, no tmux...)
# ends with status 77, which meson shows as SKIP, not as OK.
_outcomes = {"run": 0, "skipped": 0}


def pytest_runtest_logreport(report):
    if report.when == "call" and not report.skipped:
        _outcomes["run"] += 1
    elif report.skipped:
        _outcomes["skipped"] += 1


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0 and _outcomes["skipped"] and not _outcomes["run"]:
        session.exitstatus = 77
