"""Continuing a large body: what a kill -9, a stall or a cut connection left
of a body over 1 MiB is continued with `Range: bytes=N-` and `If-Range`, on
the next attempt or the next run; a server that ignores the range, or whose
validator changed, gives a fresh download, and a 206 that does not continue
the partial, or a 416, starts the book again from zero. Nothing appears
under the final name before the body is whole. (test_resume.py is the other
resume: whole runs, through the manifest.)"""
import hashlib
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import JUGGLE, book_files

SIZE = 4 * 1024 * 1024    # over the 1 MiB a body must pass to be kept
RATE = 2_000_000          # bytes/s: a body takes ~2 s, time to kill it mid-way
JG_PARTIAL_MIN = 1 << 20  # partial.h


def sha(data):
    return hashlib.sha256(data).hexdigest()


def partial_dir(out):
    return out / ".juggle" / "partial"


def partial_of(out, url, meta=False):
    """The partial of the book of `url`, DIR/.juggle/partial/KEY (KEY: a
    hash of the URL), found by its sidecar .KEY.resume, which names the
    URL (returned with `meta`); None when there is none."""
    d = partial_dir(out)
    for f in os.listdir(d) if d.exists() else []:
        if f.startswith(".") and f.endswith(".resume") and \
                f"\nurl {url}\n" in (d / f).read_text(errors="replace"):
            return d / f if meta else d / f[1:-len(".resume")]
    return None


def temp_files(out):
    return [n for n in os.listdir(out) if n.startswith(".jg-")]


class Watch:
    """Samples DIR/NAME while juggle runs: the sizes the final name was
    ever seen with (it must only ever appear whole)."""

    def __init__(self, path):
        self.path, self.seen, self.running = path, set(), True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            try:
                self.seen.add(os.stat(self.path).st_size)
            except FileNotFoundError:
                pass
            time.sleep(0.002)

    def stop(self):
        self.running = False
        self.thread.join()
        return self.seen


def run(out, *args, json_path=None, timeout=120):
    cmd = [JUGGLE, "-q", "-o", str(out), *args]
    if json_path:
        cmd += ["--json", str(json_path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def kill_mid_body(out, url, name, *args, frac=0.4, sig=signal.SIGKILL):
    """Starts juggle on `url` and kills it (-9, or `sig`) once `frac` of the
    body is in its partial; returns the bytes the partial holds then."""
    watch = Watch(out / name)
    p = subprocess.Popen([JUGGLE, "-q", "-o", str(out), *args, url],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline and p.poll() is None:
        part = partial_of(out, url)
        if part and part.exists() and part.stat().st_size >= frac * SIZE:
            break
        time.sleep(0.005)
    assert p.poll() is None, "the run ended before the kill: " + p.stderr.read()
    p.send_signal(sig)
    p.wait()
    assert watch.stop() == set(), "the final name appeared before the body was whole"
    # A shell's status for the signal: 130 for INT, 143 for TERM.
    assert sig == signal.SIGKILL or p.returncode == 128 + sig, p.stderr.read()
    n = partial_of(out, url).stat().st_size
    assert JG_PARTIAL_MIN <= n < SIZE
    return n


def request_pairs(server, target_part, since=0):
    """(start, end) log entries of the requests for `target_part`, in order."""
    log = server.log()[since:]
    starts = {(e["conn"], e["req"]): e for e in log if e["ev"] == "start"}
    return [(starts[(e["conn"], e["req"])], e) for e in log
            if e["ev"] == "end" and target_part in e["target"] and (e["conn"], e["req"]) in starts]


MODES = {"count": [], "no-count": ["--no-count"], "threads": ["--engine", "threads"]}


@pytest.mark.parametrize("mode", MODES)
def test_kill9_mid_body_then_rerun_asks_for_the_missing_bytes_only(server, tmp_path, mode):
    path = f"/gen/big.txt?size={SIZE}&rate={RATE}"
    url, out = server.url(path), tmp_path / "out"
    n = kill_mid_body(out, url, "big.txt", *MODES[mode])
    assert not (out / "big.txt").exists()
    since = len(server.log())
    watch = Watch(out / "big.txt")
    again = run(out, *MODES[mode], url, json_path=tmp_path / "again.json")
    seen = watch.stop()
    assert again.returncode == 0, again.stderr
    assert seen <= {SIZE}, f"the final name held {seen - {SIZE}} bytes before the end"
    (start, end), = request_pairs(server, "/gen/big.txt", since)
    assert start["range"] == f"bytes={n}-" and start["ifrange"].startswith('"')
    assert start["ae"] == "identity"   # the rest of the identity bytes, never coded
    assert (end["status"], end["bytes"]) == (206, SIZE - n), "more than the missing bytes were sent"
    body = server.fetch(f"/gen/big.txt?size={SIZE}")  # an independent client's copy
    assert sha((out / "big.txt").read_bytes()) == sha(body)
    book, = json.loads((tmp_path / "again.json").read_text())["books"]
    assert book["continued_from"] == n and book["bytes"] == SIZE
    assert os.listdir(partial_dir(out)) == [] and temp_files(out) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_keeps_its_partial_and_the_next_continues_it(server, tmp_path, sig):
    path = f"/gen/int.txt?size={SIZE}&rate={RATE}"
    out = tmp_path / "out"
    n = kill_mid_body(out, server.url(path), "int.txt", sig=sig)
    assert temp_files(out) == []  # the session went away tidily: only the partial is left
    since = len(server.log())
    assert run(out, server.url(path)).returncode == 0
    (start, end), = request_pairs(server, "/gen/int.txt", since)
    assert start["range"] == f"bytes={n}-" and (end["status"], end["bytes"]) == (206, SIZE - n)
    assert sha((out / "int.txt").read_bytes()) == sha(server.fetch(f"/gen/int.txt?size={SIZE}"))


def test_the_if_range_validator_is_the_first_answers_etag(server, tmp_path):
    path = f"/gen/v.txt?size={SIZE}&rate={RATE}"
    out = tmp_path / "out"
    kill_mid_body(out, server.url(path), "v.txt")
    etag = subprocess.run(["curl", "-sI", server.url(path)], capture_output=True, text=True).stdout
    etag = [l.split(":", 1)[1].strip() for l in etag.splitlines() if l.lower().startswith("etag:")]
    since = len(server.log())
    assert run(out, server.url(path)).returncode == 0
    (start, _), = request_pairs(server, "/gen/v.txt", since)
    assert [start["ifrange"]] == etag


def test_counts_of_a_resumed_book_equal_an_uninterrupted_downloads(server, tmp_path):
    path = f"/gen/c.txt?size={SIZE}&rate={RATE}"
    out, ref = tmp_path / "out", tmp_path / "ref"
    kill_mid_body(out, server.url(path), "c.txt")
    again = run(out, "--counts", str(tmp_path / "again.tsv"), server.url(path),
                json_path=tmp_path / "again.json")
    assert again.returncode == 0, again.stderr
    whole = run(ref, "--counts", str(tmp_path / "ref.tsv"), server.url(path),
                json_path=tmp_path / "ref.json")
    assert whole.returncode == 0, whole.stderr
    assert (tmp_path / "again.tsv").read_bytes() == (tmp_path / "ref.tsv").read_bytes()
    a, = json.loads((tmp_path / "again.json").read_text())["books"]
    r, = json.loads((tmp_path / "ref.json").read_text())["books"]
    assert a["continued_from"] > 0 and "continued_from" not in r
    for k in ("words", "distinct", "top", "sha256", "charset", "bytes"):
        assert a[k] == r[k], k
    assert a["sha256"] == sha(server.fetch(f"/gen/c.txt?size={SIZE}"))
    assert a["words"] > 0


def test_a_changed_etag_restarts_from_zero_with_the_new_body(server, tmp_path):
    path = f"/gen/e.txt?size={SIZE}&rate={RATE}"
    out = tmp_path / "out"
    old = server.fetch(f"/gen/e.txt?size={SIZE}")
    n = kill_mid_body(out, server.url(path), "e.txt")
    server.bump()  # the book changes on the server: new bytes, new ETag
    new = server.fetch(f"/gen/e.txt?size={SIZE}")
    assert new != old
    since = len(server.log())
    again = run(out, server.url(path), json_path=tmp_path / "again.json")
    assert again.returncode == 0, again.stderr
    (start, end), = request_pairs(server, "/gen/e.txt", since)
    assert start["range"] == f"bytes={n}-"                   # asked, with the old validator,
    assert (end["status"], end["bytes"]) == (200, SIZE)     # and got the new body whole
    assert sha((out / "e.txt").read_bytes()) == sha(new)
    book, = json.loads((tmp_path / "again.json").read_text())["books"]
    assert "continued_from" not in book
    assert os.listdir(partial_dir(out)) == [] and temp_files(out) == []


def test_a_server_that_ignores_range_gives_a_correct_whole_file(server, tmp_path):
    path = f"/gen/i.txt?size={SIZE}&rate={RATE}&range=ignore"
    out = tmp_path / "out"
    n = kill_mid_body(out, server.url(path), "i.txt")
    since = len(server.log())
    again = run(out, server.url(path))
    assert again.returncode == 0, again.stderr
    (start, end), = request_pairs(server, "/gen/i.txt", since)
    assert start["range"] == f"bytes={n}-"
    assert (end["status"], end["bytes"]) == (200, SIZE)
    assert sha((out / "i.txt").read_bytes()) == sha(server.fetch(f"/gen/i.txt?size={SIZE}"))
    assert os.listdir(partial_dir(out)) == [] and temp_files(out) == []


@pytest.mark.parametrize("mode", ["count", "no-count", "threads"])
def test_a_connection_cut_mid_body_is_continued_on_the_retry(server, tmp_path, mode):
    """short=N: the server closes the connection after N bytes of the body,
    which all arrive; the retry asks for the rest, which the server does not
    cut (a range from byte N on is past the cut)."""
    cut = 2_500_000
    path = f"/gen/cut.txt?size={SIZE}&short={cut}"
    out = tmp_path / "out"
    r = run(out, *MODES[mode], "--retry-delay", "0.05", server.url(path),
            json_path=tmp_path / "r.json")
    assert r.returncode == 0, r.stderr
    book, = json.loads((tmp_path / "r.json").read_text())["books"]
    assert book["attempts"] == 2 and book["continued_from"] == cut
    (s1, e1), (s2, e2) = request_pairs(server, "/gen/cut.txt")
    assert (s1["range"], e1["how"], e1["bytes"]) == ("", "short", cut)
    assert s2["range"] == f"bytes={cut}-" and (e2["status"], e2["bytes"]) == (206, SIZE - cut)
    sent = e1["bytes"] + e2["bytes"]
    assert sent == SIZE, f"{sent} bytes sent for a body of {SIZE}"
    assert sha((out / "cut.txt").read_bytes()) == sha(server.fetch(f"/gen/cut.txt?size={SIZE}"))
    assert os.listdir(partial_dir(out)) == [] and temp_files(out) == []


def test_connections_reset_mid_body_make_progress_from_attempt_to_attempt(server, tmp_path):
    """reset=N: a TCP RST after N bytes, which also throws away what the
    client's kernel had not handed over yet, so an attempt keeps an
    unknown part of them. A range from before byte N is cut at N again:
    each retry asks from where the last one's bytes end, and the book
    comes whole once one of them gets past N."""
    cut = 2_500_000
    # Paced (8 MB/s) so that juggle has read what came before the RST: at
    # full speed the kernel may hold a megabyte unread when the RST throws
    # it away, no attempt keeps anything, and the retries' backoff alone
    # decides how long the test takes (over 120 s under load, once).
    path = f"/gen/rst.txt?size={SIZE}&reset={cut}&rate=8000000"
    out = tmp_path / "out"
    r = run(out, "--retries", "20", "--retry-delay", "0.05", server.url(path),
            json_path=tmp_path / "r.json")
    assert r.returncode == 0, r.stderr
    pairs = request_pairs(server, "/gen/rst.txt")
    starts = [int(s["range"][6:-1]) if s["range"] else 0 for s, _ in pairs]
    assert starts == sorted(starts) and starts[-1] > 0, starts
    assert pairs[-1][1]["status"] == 206 and pairs[-1][1]["how"] == "ok"
    assert sha((out / "rst.txt").read_bytes()) == sha(server.fetch(f"/gen/rst.txt?size={SIZE}"))


def test_a_stalled_body_is_kept_when_the_retries_are_spent_and_continued_next_run(server,
                                                                                   tmp_path):
    stall = 1_500_000
    path = f"/gen/st.txt?size={SIZE}&stall={stall}"
    out = tmp_path / "out"
    first = run(out, "--stall-timeout", "0.3", "--retries", "0", server.url(path))
    assert first.returncode == 1 and "st.txt" in first.stderr
    assert partial_of(out, server.url(path)).stat().st_size == stall
    assert not (out / "st.txt").exists()
    since = len(server.log())
    # A range from the stall's byte on is not cut (tests/server/README.md).
    again = run(out, "--stall-timeout", "5", server.url(path))
    assert again.returncode == 0, again.stderr
    (start, end), = request_pairs(server, "/gen/st.txt", since)
    assert start["range"] == f"bytes={stall}-" and (end["status"], end["bytes"]) == (206, SIZE - stall)
    assert sha((out / "st.txt").read_bytes()) == sha(server.fetch(f"/gen/st.txt?size={SIZE}"))


@pytest.mark.parametrize("crange", ["bytes%200-99/100", "bytes%201-2/*", "bytes=5-6/7", "junk",
                                    f"bytes%203-{SIZE - 1}/{SIZE}"])
def test_a_206_that_does_not_continue_the_partial_starts_again_from_zero(server, tmp_path, crange):
    path = f"/gen/h.txt?size={SIZE}&rate={RATE}&crange={crange}"
    out = tmp_path / "out"
    n = kill_mid_body(out, server.url(path), "h.txt")
    since = len(server.log())
    again = run(out, server.url(path), json_path=tmp_path / "again.json")
    assert again.returncode == 0, again.stderr
    (s1, e1), (s2, e2) = request_pairs(server, "/gen/h.txt", since)
    assert s1["range"] == f"bytes={n}-" and e1["status"] == 206
    assert s2["range"] == "" and (e2["status"], e2["bytes"]) == (200, SIZE)
    assert sha((out / "h.txt").read_bytes()) == sha(server.fetch(f"/gen/h.txt?size={SIZE}"))
    assert os.listdir(partial_dir(out)) == [] and temp_files(out) == []


def test_a_416_starts_again_from_zero(server, tmp_path):
    path = f"/gen/r.txt?size={SIZE}&rate={RATE}&range=416"
    out = tmp_path / "out"
    n = kill_mid_body(out, server.url(path), "r.txt")
    since = len(server.log())
    again = run(out, server.url(path))
    assert again.returncode == 0, again.stderr
    (s1, e1), (s2, e2) = request_pairs(server, "/gen/r.txt", since)
    assert s1["range"] == f"bytes={n}-" and e1["status"] == 416
    assert s2["range"] == "" and (e2["status"], e2["bytes"]) == (200, SIZE)
    assert sha((out / "r.txt").read_bytes()) == sha(server.fetch(f"/gen/r.txt?size={SIZE}"))


def test_no_continue_keeps_nothing_and_asks_for_no_range(server, tmp_path):
    path = f"/gen/n.txt?size={SIZE}&reset=2500000"
    out = tmp_path / "out"
    r = run(out, "--no-continue", "--retry-delay", "0.05", server.url(path))
    assert r.returncode == 1  # cut every time at the same place: never whole
    assert not partial_dir(out).exists()
    assert all(s["range"] == "" and e["status"] == 200 for s, e in request_pairs(server, "/n.txt"))


def test_a_coded_body_is_not_kept(server, tmp_path):
    """The ranges of a gzip body are of its gzip bytes, which juggle never
    keeps: a body with a Content-Encoding starts again whole."""
    # gzip makes about a third of the text: 600 kB coded are over 1 MiB decoded.
    path = f"/gen/z.txt?size={SIZE}&enc=gzip&short=600000"
    out = tmp_path / "out"
    r = run(out, "--retries", "1", "--retry-delay", "0.05", server.url(path))
    assert r.returncode == 1
    pairs = request_pairs(server, "/gen/z.txt")
    assert len(pairs) == 2 and all(s["range"] == "" and e["how"] == "short" for s, e in pairs)
    assert not partial_dir(out).exists() or os.listdir(partial_dir(out)) == []


def test_a_small_body_is_not_kept(server, tmp_path):
    path = "/gen/s.txt?size=900000&reset=800000"
    out = tmp_path / "out"
    r = run(out, "--retries", "1", "--retry-delay", "0.05", server.url(path))
    assert r.returncode == 1
    assert all(s["range"] == "" for s, _ in request_pairs(server, "/gen/s.txt"))


def test_a_partial_is_the_urls_whatever_name_the_list_gives_it(server, tmp_path):
    """File names follow the list's order: another list may give a book's
    name to another URL, which must not continue it, nor take it away."""
    out = tmp_path / "out"
    first = f"/gen/a/same.txt?size={SIZE}&rate={RATE}"
    n = kill_mid_body(out, server.url(first), "same.txt")
    since = len(server.log())
    other = f"/gen/b/same.txt?size={SIZE}"
    r = run(out, server.url(other))
    assert r.returncode == 0, r.stderr
    (start, end), = request_pairs(server, "/gen/b/same.txt", since)
    assert start["range"] == "" and end["status"] == 200
    assert sha((out / "same.txt").read_bytes()) == sha(server.fetch(other))
    # Now listed second, the first URL's book is same.txt.1: still continued.
    since = len(server.log())
    r = run(out, server.url(other), server.url(first))
    assert r.returncode == 0, r.stderr
    (start, end), = request_pairs(server, "/gen/a/same.txt", since)
    assert start["range"] == f"bytes={n}-" and end["status"] == 206
    assert sha((out / "same.txt.1").read_bytes()) == sha(server.fetch(f"/gen/a/same.txt?size={SIZE}"))


@pytest.mark.parametrize("plant", ["symlink", "hardlink"])
def test_a_planted_partial_is_never_written_through(server, tmp_path, plant):
    """A partial must be a regular file with no other name: a symlink or a
    hard link put in its place (with a sidecar that names the URL) is
    dropped, and the file it leads to stays as it was."""
    out, victim = tmp_path / "out", tmp_path / "victim.txt"
    victim.write_bytes(b"precious " * 200_000)   # 1.8 MB, over the 1 MiB
    before = victim.read_bytes()
    path = f"/gen/p.txt?size={SIZE}&rate={RATE}"
    kill_mid_body(out, server.url(path), "p.txt")
    part = partial_of(out, server.url(path))  # its sidecar still names the URL
    part.unlink()
    if plant == "symlink":
        os.symlink(victim, part)
    else:
        os.link(victim, part)
    since = len(server.log())
    r = run(out, server.url(path))
    assert r.returncode == 0, r.stderr
    assert victim.read_bytes() == before
    (start, end), = request_pairs(server, "/gen/p.txt", since)
    assert start["range"] == "" and end["status"] == 200
    assert sha((out / "p.txt").read_bytes()) == sha(server.fetch(f"/gen/p.txt?size={SIZE}"))
    assert os.listdir(partial_dir(out)) == []


def test_a_partial_directory_that_is_a_symlink_is_refused(server, tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    (out / ".juggle").mkdir(parents=True)
    elsewhere.mkdir()
    os.symlink(elsewhere, out / ".juggle" / "partial")
    r = run(out, server.url("/gen/x.txt?size=100"))
    assert r.returncode != 0
    assert "partial: not a directory (a symlink or a file): refusing to use it" in r.stderr
    assert os.listdir(elsewhere) == []


def test_a_broken_sidecar_is_dropped_and_the_book_fetched_whole(server, tmp_path):
    out = tmp_path / "out"
    path = f"/gen/b.txt?size={SIZE}&rate={RATE}"
    kill_mid_body(out, server.url(path), "b.txt")
    meta = partial_of(out, server.url(path), meta=True)
    meta.write_text(meta.read_text().replace("juggle-partial 1", "juggle-partial 9"))
    since = len(server.log())
    r = run(out, server.url(path))
    assert r.returncode == 0, r.stderr
    (start, end), = request_pairs(server, "/gen/b.txt", since)
    assert start["range"] == "" and (end["status"], end["bytes"]) == (200, SIZE)
    assert sha((out / "b.txt").read_bytes()) == sha(server.fetch(f"/gen/b.txt?size={SIZE}"))


def test_a_resumed_book_takes_its_place_in_the_manifest(server, tmp_path):
    """The killed run recorded nothing for the book; the run that continues
    it records it, and a third run keeps it with no request."""
    path = f"/gen/m.txt?size={SIZE}&rate={RATE}"
    out = tmp_path / "out"
    kill_mid_body(out, server.url(path), "m.txt")
    assert run(out, server.url(path)).returncode == 0
    since = len(server.log())
    third = run(out, server.url(path))
    assert third.returncode == 0 and request_pairs(server, "/gen/m.txt", since) == []
    assert book_files(out) == ["m.txt"]


def test_a_stock_nginx_continues_a_killed_download(make_nginx, tmp_path):
    """The other side is a real server's Range and If-Range: nginx, its
    strong ETag, limit_rate to kill the run mid-body."""
    root = tmp_path / "www"
    root.mkdir()
    body = os.urandom(SIZE)  # no text: nothing for any coding to do
    (root / "n.bin").write_bytes(body)
    srv = make_nginx(f"""
    server {{
        listen 127.0.0.1:{{port}};
        root {root};
        location / {{ limit_rate {RATE}; }}
    }}""")
    out = tmp_path / "out"
    n = kill_mid_body(out, srv.url("/n.bin"), "n.bin", "--no-count")
    again = run(out, "--no-count", srv.url("/n.bin"), json_path=tmp_path / "again.json")
    assert again.returncode == 0, again.stderr
    book, = json.loads((tmp_path / "again.json").read_text())["books"]
    assert book["continued_from"] >= n and book["http_code"] == 206
    assert sha((out / "n.bin").read_bytes()) == sha(body)
