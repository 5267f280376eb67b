"""Counting: forked workers save and count every book; the totals match an
independent count, do not depend on the number of workers, and survive a
worker killed mid-run."""
import json
import os
import signal
import subprocess
import time
from collections import Counter

import pytest

import reference
from conftest import JUGGLE

BOOKS = ["/cache/epub/84/pg84.txt", "/cache/epub/844/pg844.txt", "/cache/epub/1342/pg1342.txt",
         "/cache/epub/25525/pg25525.txt", "/files/31963/31963-0.txt", "/files/44157/44157-0.txt",
         "/cache/epub/1513/pg1513.txt", "/files/972/972.txt"]


def reference_table(paths, mode, http_charset=None):
    """The independent count (reference.py) of these books, summed."""
    total = Counter()
    for p in paths:
        total.update(reference.count(open(p, "rb").read(), http_charset, mode)["table"])
    return total


def read_tsv(path):
    out = {}
    for line in open(path, encoding="utf-8", errors="surrogateescape"):
        word, n = line.rstrip("\n").rsplit("\t", 1)
        out[word] = int(n)
    return out


def run_counts(srv, tmp, name, *args, env=None):
    tsv = os.path.join(tmp, name + ".tsv")
    p = subprocess.run([JUGGLE, "-q", "-o", os.path.join(tmp, name), "--counts", tsv, *args,
                        *[srv.url(b) for b in BOOKS]],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    return read_tsv(tsv)


@pytest.mark.parametrize("mode", ["words", "whitespace"])
def test_counts_match_an_independent_reference(make_server, corpus, tmp_path, mode):
    srv = make_server("--root", corpus)
    got = run_counts(srv, str(tmp_path), "a", "--split", mode, "-w", "2")
    want = reference_table([corpus + b for b in BOOKS], mode)
    assert sum(got.values()) == sum(want.values())
    assert got == dict(want)


def test_one_worker_equals_four(make_server, corpus, tmp_path):
    srv = make_server("--root", corpus)
    one = run_counts(srv, str(tmp_path), "one", "-w", "1")
    four = run_counts(srv, str(tmp_path), "four", "-w", "4")
    assert one == four and len(one) > 10000


def test_tsv_is_sorted_by_count_then_word(make_server, corpus, tmp_path):
    srv = make_server("--root", corpus)
    got = list(run_counts(srv, str(tmp_path), "s", "-w", "2").items())
    assert got == sorted(got, key=lambda kv: (-kv[1], kv[0].encode("utf-8", "surrogateescape")))


def worker_pids(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(x) for x in f.read().split()]


def test_worker_killed_mid_run_changes_nothing(make_server, corpus, tmp_path):
    srv = make_server("--root", corpus)
    clean = run_counts(srv, str(tmp_path), "clean", "-w", "2")
    # Many books arriving slowly: the workers hold running tables when killed.
    urls = [srv.url(b) + f"?rate=400000&n={i}" for i in range(6) for b in BOOKS]
    tsv = tmp_path / "killed.tsv"
    report = tmp_path / "killed.json"
    proc = subprocess.Popen([JUGGLE, "-q", "-w", "2", "-j", "16", "--per-host", "16",
                             "-o", str(tmp_path / "killed"), "--counts", str(tsv),
                             "--json", str(report), *urls],
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1.2)
    victims = worker_pids(proc.pid)
    assert len(victims) == 2
    os.kill(victims[0], signal.SIGKILL)
    time.sleep(0.6)
    os.kill(worker_pids(proc.pid)[-1], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    got = read_tsv(tsv)
    assert got == {w: n * 6 for w, n in clean.items()}
    with open(report) as f:
        rep = json.load(f)
    assert rep["worker_restarts"] == 2  # both kills landed before the end
    assert rep["totals"]["ok"] == len(urls)


def test_a_book_that_kills_workers_twice_fails_alone(server, tmp_path):
    env = dict(os.environ, JUGGLE_TEST_WORKER_ABORT_ON="CCCCCCCC")
    poison = server.url("/gen/poison.txt?fill=C&size=5000")
    good = [server.url(f"/gen/g{i}.txt") for i in range(6)]
    p = subprocess.run([JUGGLE, "-w", "2", "-o", str(tmp_path / "t"), poison, *good],
                       capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 1
    assert f"FAILED {poison}: a worker process died twice on this book" in p.stderr
    assert "6 ok, 1 failed" in p.stderr


def test_no_count_saves_only(server, juggle):
    urls = [server.url(f"/gen/n{i}.txt") for i in range(5)]
    r = juggle("--no-count", *urls)
    assert r.rc == 0, r.stderr
    assert r.files() == [f"n{i}.txt" for i in range(5)]
    rep = r.report()
    assert "counts" not in rep and all("words" not in b for b in rep["books"])
    for i in range(5):
        with open(os.path.join(r.out, f"n{i}.txt"), "rb") as f:
            assert f.read() == server.fetch(f"/gen/n{i}.txt")


def test_latin1_content_type_is_converted(make_server, corpus, juggle, tmp_path):
    srv = make_server("--root", corpus)
    path = "/files/31963/31963-8.txt"
    latin = srv.url(path + "?ctype=text%2Fplain%3B+charset%3DISO-8859-1")
    tsv = tmp_path / "latin.tsv"
    r = juggle("--counts", str(tsv), latin)
    assert r.rc == 0, r.stderr
    want = reference_table([corpus + path], "words", http_charset="ISO-8859-1")
    assert read_tsv(tsv) == dict(want)
    assert want["holländer"] > 0
    # The saved file keeps the bytes as served.
    with open(os.path.join(r.out, "31963-8.txt"), "rb") as f:
        assert f.read() == open(corpus + path, "rb").read()


def test_binary_and_huge_lines_do_not_crash(server, juggle):
    urls = [server.url("/gen/bin.txt?fill=%00&size=300000"),
            server.url("/gen/line.txt?fill=x&size=3000000")]
    r = juggle(*urls)
    assert r.rc == 0, r.stderr
    books = r.books()
    assert books[urls[1]]["words"] == 1 and books[urls[1]]["distinct"] == 1


def test_workers_hold_only_their_own_pipe_ends(server, tmp_path):
    urls = [server.url(f"/gen/w{i}.txt?delay=1500") for i in range(3)]
    proc = subprocess.Popen([JUGGLE, "-q", "-w", "3", "-o", str(tmp_path / "t"), *urls],
                            stderr=subprocess.PIPE, text=True)
    time.sleep(0.7)
    kids = worker_pids(proc.pid)
    fds = {k: sorted(int(fd) for fd in os.listdir(f"/proc/{k}/fd")) for k in kids}
    parent_threads = len(os.listdir(f"/proc/{proc.pid}/task"))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert len(kids) == 3
    for k, f in fds.items():
        assert f == [0, 1, 2], (k, f)  # its two pipe ends and stderr
    assert parent_threads == 1


def proc_gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] in "ZX"
    except FileNotFoundError:
        return True


def test_respawned_worker_has_default_signal_handling(server, tmp_path):
    # A respawn forks inside the loop, after libev took SIGTERM: the new
    # worker must still die of it like the first ones.
    urls = [server.url(f"/gen/s{i}.txt?delay=2500") for i in range(2)]
    proc = subprocess.Popen([JUGGLE, "-q", "-w", "1", "-o", str(tmp_path / "t"), *urls],
                            stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    first = worker_pids(proc.pid)[0]
    os.kill(first, signal.SIGKILL)
    for _ in range(100):
        kids = [k for k in worker_pids(proc.pid) if k != first and not proc_gone(k)]
        if kids:
            break
        time.sleep(0.02)
    assert kids, "no worker was started again"
    os.kill(kids[0], signal.SIGTERM)
    for _ in range(100):
        if proc_gone(kids[0]):
            break
        time.sleep(0.02)
    assert proc_gone(kids[0])
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err  # a third worker counted the books


def test_max_size_is_capped_to_a_frame(server):
    p = subprocess.run([JUGGLE, "--max-size", "2G", server.url("/gen/x.txt")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "--max-size: invalid value '2G'" in p.stderr
