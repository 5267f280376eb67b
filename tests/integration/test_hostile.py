"""Hostile servers: what any server juggle is pointed at can do to it, with
default options, must cost bounded memory and time, never stall the loop,
and end each URL with a clear reason."""
import json
import os
import socket
import subprocess
import time

from conftest import JUGGLE, VERSION


def dead_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


def run(tmp_path, name, urls, *args, timeout=120):
    lst = tmp_path / f"{name}.txt"
    lst.write_text("".join(u + "\n" for u in urls))
    report = tmp_path / f"{name}.json"
    t0 = time.monotonic()
    p = subprocess.run([JUGGLE, "-q", "-o", str(tmp_path / name), "--json", str(report),
                        "-i", str(lst), *args], capture_output=True, text=True, timeout=timeout)
    took = time.monotonic() - t0
    return p, json.loads(report.read_text()), took


def test_a_dead_host_fails_its_urls_at_once(tmp_path, server):
    """20,000 URLs to a refused port, default retries: after a few
    consecutive failures the host's queued URLs fail, naming it; a live
    host in the same list is not held up."""
    port = dead_port()
    dead = [f"http://127.0.0.1:{port}/book{i}.txt" for i in range(20000)]
    live = [server.url(f"/gen/l{i}.txt") for i in range(20)]
    p, rep, took = run(tmp_path, "dead", dead + live)
    assert p.returncode == 1
    books = {b["url"]: b for b in rep["books"]}
    assert all(books[u]["status"] == "ok" for u in live)
    reason = f"127.0.0.1:{port}: unreachable, 5 consecutive failures; last: "
    tripped = [u for u in dead if books[u]["error"].startswith(reason)]
    assert len(tripped) > 19000, books[dead[-1]]["error"]
    assert all(books[u]["status"] == "failed" for u in dead)
    # They stay in the manifest as failures: a rerun tries them again.
    manifest = (tmp_path / "dead" / ".juggle" / "manifest").read_text()
    assert manifest.count("\nF\t") == 20000


def test_a_url_waiting_for_its_retry_holds_no_slot(server, juggle):
    """With one transfer per host, a URL waiting 2 s for its retry must not
    keep the host's other URLs waiting. (A 500: a 429 or 503 with
    Retry-After asks the whole host to slow down, and holds it.)"""
    flaky = server.url("/gen/flaky.txt?status=500")
    others = [server.url(f"/gen/o{i}.txt") for i in range(5)]
    r = juggle("--per-host", "1", "--retries", "1", "--retry-delay", "2", flaky, *others)
    assert r.rc == 1 and r.books()[flaky]["error"] == "HTTP 500", r.stderr
    starts = {e["target"]: e["t"] for e in server.log() if e["ev"] == "start"}
    first_try = min(e["t"] for e in server.log() if e["ev"] == "start" and "flaky" in e["target"])
    ends = [e["t"] for e in server.log() if e["ev"] == "end" and "/gen/o" in e["target"]]
    assert max(ends) < first_try + 1.5, "the others waited for the retry"
    assert len([t for t in starts if "/gen/o" in t]) == 5


def test_running_out_of_descriptors_is_back_pressure(server, tmp_path):
    """With 64 descriptors and 200 transfers allowed, opening a socket or a
    temporary file fails with EMFILE: juggle runs fewer at once instead of
    failing books."""
    import resource

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    urls = [server.url(f"/gen/e{i}.txt?size=2000&delay=200") for i in range(300)]
    for mode in (["--no-count"], []):
        out = tmp_path / ("nc" if mode else "c")
        report = tmp_path / (out.name + ".json")
        p = subprocess.run([JUGGLE, "-q", "-j", "200", "--per-host", "200", "-w", "2", *mode,
                            "-o", str(out), "--json", str(report), "-i", "-"],
                           input="".join(u + "\n" for u in urls), capture_output=True,
                           text=True, timeout=120, preexec_fn=low_limit)
        assert p.returncode == 0, p.stderr[-1500:]
        rep = json.loads(report.read_text())
        assert rep["totals"]["ok"] == 300 and rep["totals"]["retries"] == 0, rep["totals"]
        assert len([f for f in os.listdir(out) if not f.startswith(".")]) == 300


def test_control_bytes_never_reach_the_terminal_raw(make_server, tmp_path):
    """A book's words, printed per book and in the top words, carry an escape
    sequence and a line break: both arrive escaped, and no line is forged."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "esc.txt").write_bytes(b"\x1b[31mred \x1b]0;title\x07 \xc2\x9b2J plain\n" * 3)
    srv = make_server("--root", str(root))
    p = subprocess.run([JUGGLE, "--split", "whitespace", "-o", str(tmp_path / "t"),
                        srv.url("/esc.txt?ctype=text%2Fplain%3B+charset%3Dutf-8")],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    err = p.stderr
    assert b"\x1b" not in err and b"\x07" not in err and b"\xc2\x9b" not in err
    assert b"\\x1b[31mred 3" in err and b"\\u009b2j 3" in err


def test_a_forged_manifest_record_forges_no_line(tmp_path):
    """merge prints a shard's failures: an error field holding an escape and
    a line break (the journal unescapes \\n) stays on its own line."""
    import zlib
    d = tmp_path / "s" / ".juggle"
    d.mkdir(parents=True)

    def line(text):
        return f"{text}\t#{zlib.crc32(text.encode()):08x}\n"
    body = (line(f"H\tformat=1\tjuggle={VERSION}\tlist=0000000000000001\tlist_urls=1\t"
                 "order=0000000000000001\tshard=0/0\taccepted=1\tcount=words") +
            line("F\tindex=0\ttext=http://h/x\turl=http://h/x\terr=18446744073709551606\t"
                 "error=HTTP 404\x1b[0m\\n  FAILED http://fake/forged: HTTP 200\thttp=404"))
    (d / "manifest").write_text(body)
    p = subprocess.run([JUGGLE, "merge", str(tmp_path / "s")], capture_output=True, timeout=30)
    lines = [l for l in p.stderr.split(b"\n") if b"FAILED" in l]
    assert len(lines) == 1, p.stderr
    assert b"\x1b" not in p.stderr and b"\\x1b[0m\\n  FAILED http://fake" in lines[0]


# What a build with sanitizers costs in memory and time says nothing of juggle.
SANITIZED = os.environ.get("JG_SANITIZE", "none") not in ("", "none")


def hostile(server, tmp_path, name, paths, *args, timeout=120):
    urls = [server.url(p) for p in paths]
    p, rep, took = run(tmp_path, name, urls, *args, timeout=timeout)
    return p, {b["url"]: b for b in rep["books"]}, rep, took, urls


def test_endless_trailers_and_headers_are_cut(server, tmp_path):
    p, books, rep, took, urls = hostile(server, tmp_path, "tr", [
        "/gen/t.txt?trailers=endless", "/gen/h.txt?headers=endless"])
    assert p.returncode == 1  # it ends: the run's timeout is the hang guard
    for u in urls:
        assert books[u]["error"] == "headers and trailers longer than 256 KiB", books[u]
        assert books[u]["attempts"] == 1  # a server that does it once does it again
    if not SANITIZED:
        assert rep["process"]["max_rss_kb"] < 40000, rep["process"]


def test_endless_error_and_redirect_bodies_end(server, tmp_path):
    target = server.url("/gen/target.txt")
    p, books, rep, took, urls = hostile(server, tmp_path, "err", [
        "/gen/e404.txt?status=404&endless=1",
        f"/gen/e302.txt?status=302&endless=1&location={target}",
        "/gen/slow.txt?status=500&endless=1&rate=50"],
        "--stall-timeout", "1", "--retries", "0")
    assert books[urls[0]]["error"] == "HTTP 404"
    assert books[urls[1]]["status"] == "ok" and books[urls[1]]["final_url"] == target
    # 50 bytes a second of an error page is no sign of life.
    assert books[urls[2]]["error"].startswith("stalled: no data for 1 s"), books[urls[2]]


def test_a_content_length_over_the_limit_is_refused_at_once(server, tmp_path):
    p, books, rep, took, urls = hostile(server, tmp_path, "cl", [
        "/gen/lie.txt?size=0&clen=999999999999&stall=0",
        "/gen/big.txt?size=3000000&rate=100000"], "--max-size", "1M")
    # Refused at the headers: read, the body would fail as "body larger
    # than the size limit", after 30 s at 100 KB/s.
    for u, n in zip(urls, (999999999999, 3000000)):
        assert books[u]["error"] == \
            f"Content-Length {n} is over the size limit of 1048576 bytes", books[u]
        assert books[u]["attempts"] == 1


def test_a_redirect_with_escapes_is_reported_escaped(server, tmp_path):
    p = subprocess.run([JUGGLE, "-o", str(tmp_path / "t"), "--retries", "0",
                        server.url("/gen/r.txt?rawloc=http://127.0.0.1:1/%1b[31mRED%1b]0;t%07")],
                       capture_output=True, timeout=30)
    assert p.returncode == 1
    assert b"\x1b" not in p.stderr and b"\x07" not in p.stderr
    assert b"\\x1b[31mRED" in p.stderr, p.stderr


def test_decoders_stay_within_their_windows(server, tmp_path):
    """A zstd frame may ask for a 128 MiB window: HTTP's limit is 8 MiB
    (RFC 9659). A brotli stream's 16 MiB window is within the budget."""
    p, books, rep, took, urls = hostile(server, tmp_path, "win", [
        "/gen/z.txt?zwindow=27&fill=%00&size=1073741824",
        "/gen/b.txt?bwindow=24&fill=%20&size=40000000"], "--max-size", "64M")
    assert "zstd: Frame requires too much memory" in books[urls[0]]["error"]
    assert books[urls[0]]["attempts"] == 1
    assert books[urls[1]]["status"] == "ok" and books[urls[1]]["bytes"] == 40000000


BOMBS = [f"/gen/bomb-{enc}-{i}.txt?enc={enc}&fill=%00&size=1073741824"
         for enc in ("gzip", "deflate", "br", "zstd") for i in (1, 2)]


def test_eight_bombs_and_endless_streams_in_one_budget(server, tmp_path):
    """The issue's own case: 8 compression bombs of 1 GiB, endless trailers
    and endless error bodies in one run with --max-buffer 64. Peak RSS stays
    under 64 MiB plus 16 MiB (juggle alone, with its 64 KiB receive buffer
    per transfer, is 11 MB), no loop iteration takes 20 ms, every URL fails
    with its reason, and nothing is saved."""
    paths = BOMBS + ["/gen/trail.txt?trailers=endless", "/gen/e404.txt?status=404&endless=1",
                     "/gen/e500.txt?status=500&endless=1"]
    # The stall is wall time: on a machine that runs other tests beside
    # this one, the loop may be preempted in mid-iteration for a time
    # slice or two. That does not repeat; a loop our code holds does (the
    # bombs are the same each run). So the stall bound must hold in one
    # of three runs, and everything else in each.
    stalls = []
    for run in range(3):
        out = f"all{run}"
        p, books, rep, took, urls = hostile(server, tmp_path, out, paths, "--max-buffer", "64",
                                            "--retries", "0", timeout=300)
        assert p.returncode == 1
        for u, path in zip(urls, paths):
            b = books[u]
            assert b["status"] == "failed", b
            if "bomb" in path:
                assert b["error"] == "body larger than the size limit of 268435456 bytes", b
        assert books[urls[8]]["error"] == "headers and trailers longer than 256 KiB"
        assert books[urls[9]]["error"] == "HTTP 404" and books[urls[10]]["error"] == "HTTP 500"
        assert [f for f in os.listdir(tmp_path / out) if f != ".juggle"] == []
        print(f"peak RSS {rep['process']['max_rss_kb']} KB, stall max "
              f"{rep['loop_stall']['max_seconds'] * 1e3:.1f} ms, {took:.1f} s")
        if SANITIZED:
            break
        assert rep["process"]["max_rss_kb"] < (64 + 16) * 1024, rep["process"]
        stalls.append(rep["loop_stall"])
        if rep["loop_stall"]["max_seconds"] < 0.020:
            break
    else:
        raise AssertionError(f"a loop iteration of 20 ms or more in every run: {stalls}")
