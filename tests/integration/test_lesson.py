"""bench/lesson_async.py, the asyncio sequel of the lesson program: against
jg-testserver its counts equal an independent count of the bytes served
(and lesson.py's own), every failed URL is named with its reason and a
non-zero exit, and no partial file is left under a final name."""
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "../../bench")
LESSON_ASYNC = os.path.join(BENCH, "lesson_async.py")
LESSON = os.path.join(BENCH, "lesson.py")


def importable(module):
    return subprocess.run([sys.executable, "-c", f"import {module}"],
                          capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not importable("aiohttp"),
                                reason="python3-aiohttp is not installed (scripts/deps.sh installs it)")

# The lesson's rule, restated here: runs of word characters, an apostrophe
# joining two of them, in the lower-cased text decoded as UTF-8 (bad bytes
# replaced).
WORD = re.compile(r"\w+(?:'\w+)*")

# Generated books of several sizes, one whose 64 KiB chunks do not divide
# it, one sent gzipped (saved decoded), one chunked, one slow to start.
BOOKS = ["/gen/a.txt?size=1000", "/gen/b.txt?size=65537", "/gen/c.txt?size=300000",
         "/cache/epub/7/pg7.txt", "/gen/gz.txt?gzip=1&size=200000",
         "/gen/ch.txt?chunked=1&size=90000", "/gen/slow.txt?delay=200&size=40000"]


def served(server, path):
    """The body as an independent client gets it (urllib; decoded, as the
    lesson programs save it)."""
    return server.fetch(path.replace("gzip=1&", ""))


def reference_counts(bodies):
    total = Counter()
    for body in bodies:
        total.update(WORD.findall(body.decode("utf-8", errors="replace").lower()))
    return total


def parse_output(stdout):
    lines = dict(line.split(" ", 1) for line in stdout.splitlines())
    top = lines["top"].split()
    return int(lines["words"]), int(lines["distinct"]), list(zip(top[::2], map(int, top[1::2])))


def check_counts(stdout, want):
    """words and distinct exact; the top ten each with its right count, in
    descending order, and the ten highest counts (ties may come in any
    order)."""
    words, distinct, top = parse_output(stdout)
    assert (words, distinct) == (sum(want.values()), len(want))
    assert [n for _, n in top] == sorted(want.values(), reverse=True)[:10]
    assert all(want[w] == n for w, n in top), top


def run(program, tmp_path, urls, *args, name="texts", timeout=120):
    url_list = tmp_path / f"{name}.urls"
    url_list.write_text("# a comment line, skipped\n\n" + "".join(u + "\n" for u in urls))
    out = tmp_path / name
    p = subprocess.run([sys.executable, program, *args, str(url_list), str(out)],
                       capture_output=True, text=True, timeout=timeout)
    return p, out


def test_counts_equal_an_independent_count(server, tmp_path):
    urls = [server.url(p) for p in BOOKS]
    p, out = run(LESSON_ASYNC, tmp_path, urls, "-j", "3", "-p", "2")
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    bodies = [served(server, path) for path in BOOKS]
    for path, body in zip(BOOKS, bodies):
        name = os.path.basename(path.split("?")[0])
        assert (out / name).read_bytes() == body, name
    assert sorted(os.listdir(out)) == sorted(os.path.basename(b.split("?")[0]) for b in BOOKS)
    want = reference_counts(bodies)
    assert sum(want.values()) > 50000
    check_counts(p.stdout, want)


needs_requests = pytest.mark.skipif(not importable("requests"),
                                    reason="python3-requests is not installed: lesson.py cannot run")


@needs_requests
def test_generated_books_count_as_lesson_py_counts_them(server, tmp_path):
    urls = [server.url(p) for p in BOOKS]
    ours, _ = run(LESSON_ASYNC, tmp_path, urls, name="async")
    theirs, _ = run(LESSON, tmp_path, urls, name="threads")
    assert ours.returncode == 0 and theirs.returncode == 0, (ours.stderr, theirs.stderr)
    assert parse_output(ours.stdout)[:2] == parse_output(theirs.stdout)[:2]
    check_counts(theirs.stdout, reference_counts(served(server, p) for p in BOOKS))


@needs_requests
def test_real_books_count_as_lesson_py_counts_them(make_server, corpus, tmp_path):
    """Real Gutenberg files (UTF-8 and Latin-1, CRLF): the same output as
    lesson.py, and as the independent count."""
    srv = make_server("--root", corpus)
    paths = ["/cache/epub/84/pg84.txt", "/cache/epub/1342/pg1342.txt",
             "/files/31963/31963-8.txt", "/files/44157/44157-0.txt", "/files/972/972.txt"]
    urls = [srv.url(p) for p in paths]
    ours, _ = run(LESSON_ASYNC, tmp_path, urls, "-j", "2", name="async")
    theirs, _ = run(LESSON, tmp_path, urls, name="threads")
    assert ours.returncode == 0 and theirs.returncode == 0, (ours.stderr, theirs.stderr)
    want = reference_counts(open(os.path.join(corpus, p.lstrip("/")), "rb").read() for p in paths)
    check_counts(ours.stdout, want)
    check_counts(theirs.stdout, want)
    assert parse_output(ours.stdout)[:2] == parse_output(theirs.stdout)[:2]


def test_each_failure_is_named_and_the_rest_still_counted(server, tmp_path):
    good = ["/gen/ok1.txt?size=30000", "/gen/ok2.txt?size=80000"]
    bad = {
        "/gen/missing.txt?status=404": "HTTP 404",
        "/gen/broken.txt?status=500": "HTTP 500",
        "/gen/short.txt?short=1000&size=50000": "body cut short",
        "/gen/reset.txt?reset=70000&size=200000": "",
        "/gen/stall.txt?stall=1000&size=50000": "timed out",
    }
    urls = [server.url(p) for p in good + list(bad)]
    refused = "http://127.0.0.1:1/nobody.txt"
    p, out = run(LESSON_ASYNC, tmp_path, urls + [refused], "--timeout", "1")
    assert p.returncode == 1
    lines = p.stderr.splitlines()
    assert len(lines) == len(bad) + 1, p.stderr
    for path, reason in bad.items():
        line = next((l for l in lines if l.startswith(f"lesson_async.py: {server.url(path)}: ")), None)
        assert line is not None, (path, p.stderr)
        assert reason in line, line
    assert any(l.startswith(f"lesson_async.py: {refused}: Cannot connect") for l in lines), p.stderr
    # Only the good books, whole, and no temporary file left behind.
    assert sorted(os.listdir(out)) == ["ok1.txt", "ok2.txt"]
    check_counts(p.stdout, reference_counts(served(server, g) for g in good))


def test_download_only_and_usage_errors(server, tmp_path):
    urls = [server.url(p) for p in BOOKS[:3]]
    p, out = run(LESSON_ASYNC, tmp_path, urls, "--no-count")
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    assert sorted(os.listdir(out)) == ["a.txt", "b.txt", "c.txt"]

    p = subprocess.run([sys.executable, LESSON_ASYNC, str(tmp_path / "no-such-list"),
                        str(tmp_path / "o")], capture_output=True, text=True)
    assert p.returncode == 2 and "no-such-list" in p.stderr, p.stderr
    p = subprocess.run([sys.executable, LESSON_ASYNC, "-j", "0", "list", "o"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "-j" in p.stderr, p.stderr
    p, _ = run(LESSON_ASYNC, tmp_path, [server.url("/gen/..")], name="dots")
    assert p.returncode == 1 and "not a file name" in p.stderr, p.stderr


def sockets_of(pid):
    try:
        return sum(os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:       # it ended meanwhile
        return 0


def test_counting_processes_hold_none_of_the_loops_sockets(server, tmp_path):
    """Workers forked once transfers are open would each keep a copy of
    every connection (a socket the loop closes would stay open in them)."""
    urls = [server.url(f"/gen/w{i}.txt?delay={100 + 60 * i}&size=20000") for i in range(30)]
    url_list = tmp_path / "urls"
    url_list.write_text("".join(u + "\n" for u in urls))
    proc = subprocess.Popen([sys.executable, LESSON_ASYNC, "-j", "10", str(url_list),
                             str(tmp_path / "texts")], stdout=subprocess.PIPE, text=True)
    seen = []       # (sockets of the parent, sockets of each worker)
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                workers = [int(c) for c in f.read().split()]
        except OSError:
            break
        if workers:
            seen.append((sockets_of(proc.pid), [sockets_of(w) for w in workers]))
        time.sleep(0.01)
    assert proc.wait(timeout=60) == 0
    busy = [(parent, workers) for parent, workers in seen if parent >= 10]
    assert busy, f"never saw the transfers under way: {seen[:5]}"
    assert all(n == 0 for _, workers in busy for n in workers), busy[:5]


def test_ctrl_c_leaves_no_partial_file_and_no_traceback(server, tmp_path):
    """Ctrl-C reaches the whole process group: the loop cancels every
    transfer (their temporary files removed), the workers stay quiet."""
    urls = [server.url(f"/gen/i{i}.txt?rate=100000&size=400000") for i in range(8)]
    urls.append(server.url("/gen/quick.txt?size=5000"))
    url_list = tmp_path / "urls"
    url_list.write_text("".join(u + "\n" for u in urls))
    out = tmp_path / "texts"
    # As a shell starts a foreground job: its own group, SIGINT not ignored.
    proc = subprocess.Popen([sys.executable, LESSON_ASYNC, str(url_list), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 20
    while not (out.is_dir() and any(n.endswith(".part") for n in os.listdir(out))):
        assert proc.poll() is None and time.monotonic() < deadline, "no transfer began"
        time.sleep(0.01)
    time.sleep(0.3)       # the quick book saved and counting, the others mid-body
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert (stdout, stderr) == ("", "")
    assert [n for n in os.listdir(out) if n.endswith(".part")] == []
    assert set(os.listdir(out)) <= {"quick.txt"}
