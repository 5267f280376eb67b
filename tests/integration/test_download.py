"""The engine end to end: the real binary against the project's test server."""
import hashlib
import json
import os
import subprocess
import time

import pytest

import reference
from conftest import (JUGGLE, VERSION, book_files, max_overlap, open_files_at_least,
                      request_intervals)


def test_ebook_numbers_download_byte_identical(server, juggle):
    ids = [84, 1342, 2701, 11, 1661]
    r = juggle("--mirror", server.base, *map(str, ids))
    assert r.rc == 0, r.stderr
    assert r.files() == sorted(f"pg{i}.txt" for i in ids)
    for i in ids:
        want = server.fetch(f"/cache/epub/{i}/pg{i}.txt")
        with open(os.path.join(r.out, f"pg{i}.txt"), "rb") as f:
            assert f.read() == want
    rep = r.report()
    assert rep["totals"]["ok"] == 5 and rep["totals"]["failed"] == 0
    assert all(b["status"] == "ok" and b["http_code"] == 200 for b in rep["books"])


def test_real_corpus_files_are_saved_exactly(make_server, juggle, corpus):
    srv = make_server("--root", corpus)
    paths = ["/cache/epub/84/pg84.txt", "/files/31963/31963-8.txt", "/cache/epub/2641/pg2641.txt",
             "/files/43/43-0.txt"]
    r = juggle(*[srv.url(p) for p in paths])
    assert r.rc == 0, r.stderr
    for p in paths:
        with open(corpus + p, "rb") as a, open(os.path.join(r.out, os.path.basename(p)), "rb") as b:
            assert hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest()


def test_list_file_comments_blanks_duplicates_and_bad_lines(server, juggle, tmp_path):
    long_url = server.url("/gen/" + "x" * 9000)
    lines = [
        "# a comment",
        "",
        f"   {server.url('/gen/a.txt')}   ",
        "\t",
        f"{server.url('/gen/a.txt')}",            # duplicate: fetched once
        "ftp://example.org/book.txt",
        "file:///etc/passwd",
        "http://[::1",
        long_url,
        f"{server.url('/gen/b.txt')}",
    ]
    lst = tmp_path / "urls.txt"
    lst.write_text("\n".join(lines) + "\n")
    # A list that cannot be read is a usage error, before anything is made.
    missing = str(tmp_path / "missing.txt")
    m = juggle("-i", str(lst), "-i", missing, out="not-made")
    assert m.rc == 2
    assert f"juggle: -i {missing}: cannot read it: No such file or directory" in m.stderr
    assert not os.path.exists(m.out) and not server.starts("/gen/")
    r = juggle("-i", str(lst))
    assert r.rc == 1
    assert r.files() == ["a.txt", "b.txt"]
    assert f"urls.txt:6: ftp://example.org/book.txt: scheme not allowed" in r.stderr
    assert f"urls.txt:7: file:///etc/passwd: scheme not allowed" in r.stderr
    assert "urls.txt:8: http://[::1: malformed URL" in r.stderr
    assert "urls.txt:9: line longer than 8 KiB" in r.stderr
    assert len(server.starts("/gen/a.txt")) == 1


def test_stdin_list(server, juggle):
    r = juggle("-i", "-", stdin=f"{server.url('/gen/s1.txt')}\n{server.url('/gen/s2.txt')}\n")
    assert r.rc == 0, r.stderr
    assert r.files() == ["s1.txt", "s2.txt"]


def test_names_collide_by_input_order_not_finish_order(server, juggle):
    # The first URL finishes last, yet keeps the plain name.
    urls = [server.url("/gen/one/book.txt?delay=600"), server.url("/gen/two/book.txt"),
            server.url("/gen/three/book.txt?delay=200"), server.url("/x/"),
            server.url("/gen/..hidden")]
    r = juggle(*urls)
    books = r.books()
    assert books[urls[0]]["file"].endswith("/book.txt")
    assert books[urls[1]]["file"].endswith("/book.txt.1")
    assert books[urls[2]]["file"].endswith("/book.txt.2")
    assert os.path.basename(books[urls[4]]["file"]) == "hidden"
    with open(os.path.join(r.out, "book.txt"), "rb") as f:
        assert f.read() == server.fetch("/gen/one/book.txt")
    # "/x/" has no last segment: its name is derived from the host, and it
    # fails (404) without leaving anything.
    assert books[urls[3]]["status"] == "failed"
    assert "127.0.0.1" not in r.files()


def assert_nothing_partial(r):
    assert not [f for f in os.listdir(r.out) if f.startswith(".jg-")], "temporary file left"


def test_failures_leave_no_file_and_say_why(server, juggle):
    cases = {
        "/gen/reset.txt?reset=5000&size=100000": "Recv failure",
        "/gen/short.txt?short=5000&size=100000": "transfer closed with",
        "/gen/missing.txt?status=404": "HTTP 404",
        "/gen/gone.txt?status=410": "HTTP 410",
    }
    r = juggle("--retries", "0", *[server.url(p) for p in cases], server.url("/gen/good.txt"))
    assert r.rc == 1
    assert r.files() == ["good.txt"]
    assert_nothing_partial(r)
    books = r.books()
    for path, why in cases.items():
        b = books[server.url(path)]
        assert b["status"] == "failed" and b["file"] is None
        assert why in b["error"], (path, b["error"])
        assert f"FAILED {server.url(path)}: " in r.stderr


def test_stall_timeout_aborts_in_time(server, juggle):
    t0 = time.monotonic()
    r = juggle("--retries", "0", "--stall-timeout", "1", server.url("/gen/stall.txt?stall=1000"))
    took = time.monotonic() - t0
    assert r.rc == 1
    assert "stalled: no data for 1 s" in r.books()[server.url("/gen/stall.txt?stall=1000")]["error"]
    assert 0.9 <= took < 4, took
    assert r.files() == []


def test_first_byte_delay_counts_as_stall(server, juggle):
    r = juggle("--retries", "0", "--stall-timeout", "0.5", server.url("/gen/slow.txt?delay=3000"))
    assert r.rc == 1 and "stalled" in r.stderr


def test_transient_errors_are_retried_with_retry_after(server, juggle):
    url = server.url("/gen/flaky.txt?fail=2&retry_after=1")
    t0 = time.monotonic()
    r = juggle("--retry-delay", "0.05", url)
    took = time.monotonic() - t0
    assert r.rc == 0, r.stderr
    assert r.books()[url]["attempts"] == 3
    starts = [e["t"] for e in server.starts("flaky")]
    assert len(starts) == 3
    # Retry-After: 1 was honoured although our own backoff is 50 ms.
    assert starts[1] - starts[0] >= 0.95 and starts[2] - starts[1] >= 0.95
    assert took >= 1.9


def test_permanent_errors_are_not_retried(server, juggle):
    r = juggle(server.url("/gen/nf.txt?status=404"), server.url("/gen/forbidden.txt?status=403"))
    assert r.rc == 1
    assert len(server.starts("nf.txt")) == 1 and len(server.starts("forbidden.txt")) == 1


def test_retries_run_out(server, juggle):
    url = server.url("/gen/down.txt?status=503")
    r = juggle("--retries", "2", "--retry-delay", "0.01", url)
    assert r.rc == 1
    assert len(server.starts("down.txt")) == 3
    b = r.books()[url]
    assert b["attempts"] == 3 and b["error"] == "HTTP 503"


def test_redirects(server, juggle):
    chain = server.url("/gen/chain.txt?redirect=3")
    loop = server.url("/gen/loop.txt?loop=1")
    deep = server.url("/gen/deep.txt?redirect=12")
    to_file = server.url("/gen/tofile.txt?location=file%3A%2F%2F%2Fetc%2Fpasswd")
    r = juggle(chain, loop, deep, to_file)
    assert r.rc == 1
    books = r.books()
    assert books[chain]["status"] == "ok"
    assert books[chain]["file"].endswith("/chain.txt")
    with open(os.path.join(r.out, "chain.txt"), "rb") as f:
        assert f.read() == server.fetch("/gen/chain.txt")
    assert "redirect loop" in books[loop]["error"]
    assert "too many redirects" in books[deep]["error"]
    assert "redirect to file:///etc/passwd: scheme 'file' not allowed" in books[to_file]["error"]
    assert r.files() == ["chain.txt"]


def test_redirect_to_another_host_name(server, juggle):
    target = f"http://mirror.test:{server.port}/gen/moved.txt"
    url = server.url("/gen/old.txt?location=" + target.replace(":", "%3A").replace("/", "%2F"))
    r = juggle("--resolve", f"mirror.test:{server.port}:127.0.0.1", url)
    assert r.rc == 0, r.stderr
    assert r.books()[url]["file"].endswith("/old.txt")
    hosts = [e["host"] for e in server.starts("/gen/moved.txt")]
    assert hosts == [f"mirror.test:{server.port}"]


def test_compressed_and_chunked_bodies_are_decoded(server, juggle):
    gz = server.url("/gen/gz.txt?gzip=1&size=300000")
    ch = server.url("/gen/ch.txt?chunked=1&size=300000")
    r = juggle(gz, ch)
    assert r.rc == 0, r.stderr
    plain = server.fetch("/gen/gz.txt?size=300000")
    for name in ("gz.txt", "ch.txt"):
        with open(os.path.join(r.out, name), "rb") as f:
            data = f.read()
        assert data == server.fetch(f"/gen/{name}?size=300000")
    assert server.fetch("/gen/ch.txt?size=300000") == server.fetch("/gen/ch.txt?chunked=1&size=300000")
    assert len(plain) == 300000
    ours = [e for e in server.starts("/gen/") if e["ua"].startswith("juggle/")]
    assert ours and all("gzip" in e["ae"] for e in ours)


def test_compression_bomb_stops_at_max_size(server, juggle):
    url = server.url("/gen/bomb.txt?size=2000000000&fill=a&gzip=1")
    t0 = time.monotonic()
    r = juggle("--max-size", "10M", url)
    assert r.rc == 1
    assert "body larger than the size limit of 10485760 bytes" in r.books()[url]["error"]
    assert time.monotonic() - t0 < 10
    assert r.files() == []


def test_a_body_over_the_size_limit_stops_even_when_its_read_was_held(server, juggle):
    """A read curl held for the transfer (paused for --limit-rate, or for
    the loop's slice) comes back inside curl_easy_pause(); when it passes
    --max-size the transfer must end there, as too large, once the 3 s the
    rate takes are over. It used to go on with no socket or timer in curl,
    and end at the stall timeout, 30 s later."""
    url = server.url("/gen/held.txt?size=60000&chunked=1")
    t0 = time.monotonic()
    r = juggle("--limit-rate", "20K", "--max-size", "59999", "--retries", "0",
               "--stall-timeout", "30", url)
    elapsed = time.monotonic() - t0
    assert r.rc == 1
    book = r.books()[url]
    assert book["error_kind"] == "too_large", book
    assert "body larger than the size limit of 59999 bytes" in book["error"]
    assert elapsed < 20, f"ended after {elapsed:.1f} s: at the stall timeout"
    assert r.files() == []


def test_jobs_and_per_host_limits_are_enforced(server, juggle):
    urls = [server.url(f"/gen/c{i}.txt?delay=150") for i in range(12)]
    urls += [f"http://localhost:{server.port}/gen/l{i}.txt?delay=150" for i in range(12)]
    r = juggle("-j", "5", "--per-host", "3", *urls)
    assert r.rc == 0, r.stderr
    log = server.log()
    total = max_overlap(request_intervals(log))
    local = max_overlap(request_intervals(log, key=lambda s: s["host"].startswith("localhost")))
    ip = max_overlap(request_intervals(log, key=lambda s: s["host"].startswith("127.")))
    assert total <= 5 and local <= 3 and ip <= 3
    assert total >= 4  # and it really ran concurrently


def test_headers_and_connection_reuse(server, juggle):
    urls = [server.url(f"/gen/r{i}.txt") for i in range(20)]
    r = juggle("-j", "2", "--per-host", "2", *urls)
    assert r.rc == 0
    starts = server.starts("/gen/r")
    assert {e["ua"] for e in starts} == {f"juggle/{VERSION}"}
    assert len({e["conn"] for e in starts}) <= 4  # 20 requests, a couple of connections


def test_memory_budget_sends_bodies_to_their_files(server, tmp_path):
    """Bodies in flight count in --max-buffer as they arrive: past it they go
    on in their temporary files and are counted from there, exactly. The
    bodies are small enough (60 kB) to be held in memory to be counted;
    larger ones go to their files anyway (next test)."""
    urls = [server.url(f"/gen/mid{i}.txt?size=60000&rate=60000") for i in range(200)]

    def run(name, *args):
        report = tmp_path / f"{name}.json"
        p = subprocess.run([JUGGLE, "-q", "-w", "1", "-j", "200", "--per-host", "200",
                            "-o", str(tmp_path / name), "--json", str(report),
                            "--counts", str(tmp_path / f"{name}.tsv"), *args, *urls],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return json.loads(report.read_text())
    loose = run("loose")
    tight = run("tight", "--max-buffer", "1")
    assert (tmp_path / "tight.tsv").read_bytes() == (tmp_path / "loose.tsv").read_bytes()
    for i in range(0, 200, 37):
        assert (tmp_path / "tight" / f"mid{i}.txt").read_bytes() == \
            server.fetch(f"/gen/mid{i}.txt?size=60000")
    # 200 bodies of 60 kB held at once cost 12 MB; the budget keeps 1 MiB.
    assert tight["process"]["max_rss_kb"] < loose["process"]["max_rss_kb"] - 6000, \
        (tight["process"], loose["process"])


def test_large_bodies_to_count_go_to_their_files_as_they_come(server, tmp_path):
    """Past 64 KiB a body to count is written to its file by the loop as it
    arrives (while its bytes are still in the cache), and the worker counts
    the file: mid-transfer the loop has written most of what came, and the
    counts are exact."""
    url = server.url("/gen/slow.txt?size=3000000&rate=1500000")
    out = tmp_path / "t"
    proc = subprocess.Popen([JUGGLE, "-q", "-w", "1", "--no-continue", "-o", str(out),
                             "--counts", str(tmp_path / "c.tsv"), url],
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    with open(f"/proc/{proc.pid}/io") as f:
        wrote = int(next(line for line in f if line.startswith("wchar:")).split()[1])
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert wrote > 1_000_000, f"the loop had written {wrote} bytes after 1 s at 1.5 MB/s"
    body = server.fetch("/gen/slow.txt?size=3000000")
    assert (out / "slow.txt").read_bytes() == body
    want = reference.count(body)["table"]
    got = {w: int(n) for w, n in (line.rsplit("\t", 1) for line in
                                  (tmp_path / "c.tsv").read_text().splitlines() if line)}
    assert got == want


def test_stale_temporary_files_are_swept(server, juggle, tmp_path):
    out = tmp_path / "texts"
    out.mkdir()
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    (out / f".jg-{dead}-00000001-0.part").write_text("left by kill -9")
    r = juggle(server.url("/gen/fresh.txt"))
    assert r.rc == 0
    assert r.files() == ["fresh.txt"]


REFUSE_TMPFILE = os.path.join(os.path.dirname(JUGGLE), "tests", "librefuse_tmpfile.so")


@pytest.mark.parametrize("fs", ["o_tmpfile", "without"])
@pytest.mark.parametrize("mode", [[], ["--no-count"]])
def test_books_are_whole_or_absent_with_or_without_o_tmpfile(server, tmp_path, fs, mode):
    """Books written to a file with no name, linked under theirs once whole;
    on a filesystem without O_TMPFILE (NFS, vfat: an LD_PRELOAD refuses it
    here) under a temporary name, renamed. Either way every book is exact,
    one whose name is taken (the last run's, after --refresh) is replaced,
    a large one (a partial on the way: a name first) too, and nothing is
    left."""
    out = tmp_path / "out"
    log = tmp_path / "refused.log"
    env = dict(os.environ)
    if fs == "without":
        env["LD_PRELOAD"] = REFUSE_TMPFILE
        env["JG_REFUSED_LOG"] = str(log)
        # The sanitizers' runtime wants to be loaded first; the shim is not sanitized.
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                      "verify_asan_link_order=0"]))
    paths = [f"/gen/s{i}.txt?size=3000" for i in range(12)] + ["/gen/big.txt?size=3000000"]
    urls = [server.url(p) for p in paths]

    def run(*extra):
        p = subprocess.run([JUGGLE, "-q", "-o", str(out), *mode, *extra, *urls], env=env,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        for path in paths:
            with open(out / path.split("/")[-1].split("?")[0], "rb") as f:
                assert f.read() == server.fetch(path), path
        assert book_files(out) == sorted(p.split("/")[-1].split("?")[0] for p in paths)
        assert not [f for f in os.listdir(out) if f.startswith(".jg-")]

    run()
    server.bump()  # every body changes: --refresh saves each over its old file
    run("--refresh")
    assert log.exists() == (fs == "without")


RECV_SIZES = os.path.join(os.path.dirname(JUGGLE), "tests", "librecv_sizes.so")


def recv_buffers(tmp_path, server, n, name):
    """n books of 200 KiB at 50 KiB/s each, all n at once, --no-count, with
    an LD_PRELOAD noting the largest recv() asked of each socket: {buffer
    length: sockets}."""
    log = tmp_path / f"{name}.recv"
    env = dict(os.environ, LD_PRELOAD=RECV_SIZES, JG_RECV_LOG=str(log))
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                  "verify_asan_link_order=0"]))
    urls = tmp_path / f"{name}.txt"
    urls.write_text("".join(server.url(f"/gen/{name}{i}.txt?size=204800&rate=51200") + "\n"
                            for i in range(n)))
    with open_files_at_least(2 * n + 200):  # a socket and a file per transfer
        p = subprocess.run([JUGGLE, "-q", "--no-count", "-j", str(n), "--per-host", str(n),
                            "-o", str(tmp_path / name), "-i", str(urls)], env=env,
                           capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert len(book_files(tmp_path / name)) == n
    sizes = {}
    for line in log.read_text().split("\n"):
        if line:
            length, sockets = map(int, line.split())
            sizes[length] = sizes.get(length, 0) + sockets
    return sizes


def test_receive_buffers_shrink_as_transfers_crowd_in(server, tmp_path):
    """curl's receive buffer is 64 KiB while few transfers are open (a fast
    server fills each read), and each one starting while many are open gets
    its share of 16 MiB (a buffer costs the pages its reads touch). 1,200
    starting at once get 64 KiB for the first 256, then ever less: about
    16 MiB x (1 + ln(1200 / 256)) = 40.7 MiB in all, not 75 MiB."""
    few = recv_buffers(tmp_path, server, 8, "few")
    assert few == {65536: 8}, few
    many = recv_buffers(tmp_path, server, 1200, "many")
    # A connection a book left may take another (one socket, two books).
    assert 1000 <= sum(many.values()) <= 1200, many
    assert max(many) == 65536 and many[65536] <= 256, many
    assert min(many) <= 16384, many
    total = sum(length * sockets for length, sockets in many.items())
    assert total <= 44 << 20, (total, many)


def test_one_host_gets_no_more_connections_than_transfers(server, tmp_path):
    """2,000 small books, 20 at a time from one host: 20 connections, each
    reused. curl's default cache (four times the transfers added at the
    moment) shrank whenever one loop iteration removed most transfers
    before the next added their successors, and closed connections the
    next transfers then opened again: 25 to 118 here before."""
    lst = tmp_path / "urls.txt"
    lst.write_text("".join(server.url(f"/gen/c{i}.txt?size=4000") + "\n" for i in range(2000)))
    p = subprocess.run([JUGGLE, "-q", "--no-count", "-j", "20", "--per-host", "20", "-o",
                        str(tmp_path / "out"), "-i", str(lst)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    starts = server.starts("/gen/c")
    assert len(starts) == 2000
    assert len({e["conn"] for e in starts}) <= 20


def test_exit_status_zero_only_when_all_ok(server, juggle):
    assert juggle(server.url("/gen/ok.txt")).rc == 0
    assert juggle(server.url("/gen/ok.txt"), server.url("/gen/no.txt?status=404")).rc == 1


def test_unreachable_port_is_a_connect_error(juggle):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    url = f"http://127.0.0.1:{port}/x.txt"
    r = juggle("--retries", "1", "--retry-delay", "0.01", url)
    assert r.rc == 1
    b = r.books()[url]
    assert b["attempts"] == 2 and "onnect" in b["error"]


def interrupt_run(server, tmp_path, sig, tag, *extra):
    """juggle on one quick book and three that hang, stopped by `sig` once
    the three are under way; its exit status, stderr, output dir, report."""
    import subprocess
    from conftest import JUGGLE
    out = tmp_path / tag
    report = tmp_path / f"{tag}.json"
    urls = [server.url(f"/gen/{tag}-hang{i}.txt?stall=1000&size=100000") for i in range(3)]
    proc = subprocess.Popen([JUGGLE, "-o", str(out), "--json", str(report), *extra,
                             server.url(f"/gen/{tag}-quick.txt"), *urls],
                            stderr=subprocess.PIPE, text=True)
    for _ in range(100):  # until the stalled transfers are under way
        if len(server.starts(f"{tag}-hang")) == 3:
            break
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=10)
    with open(report) as f:
        rep = json.load(f)
    return proc.returncode, err, out, rep, urls


def test_interrupt_says_what_is_safe_and_lists_no_cancelled_book_as_failed(server, tmp_path):
    """Ctrl-C: one line saying what was saved and what was not fetched,
    exit 130, the quick book kept, no temporary file left, the hung ones
    "cancelled" in the report and named nowhere as failures."""
    import signal
    rc, err, out, rep, urls = interrupt_run(server, tmp_path, signal.SIGINT, "int")
    assert rc == 130, err
    assert book_files(out) == ["int-quick.txt"]
    assert not [f for f in os.listdir(out) if f.endswith(".part")]
    assert "juggle: interrupted: 1 saved, 3 not fetched; run again to resume" in err, err
    assert "FAILED" not in err and "failed" not in err, err
    status = {b["url"]: b["status"] for b in rep["books"]}
    assert [status[u] for u in urls] == ["cancelled"] * 3
    t = rep["totals"]
    assert (t["ok"], t["failed"], t["cancelled"]) == (1, 0, 3)
    assert t["urls"] == t["ok"] + t["failed"] + t["cancelled"]


def test_sigterm_and_sighup_end_the_run_as_a_shell_reports_them(server, tmp_path):
    import signal
    for sig, code in ((signal.SIGTERM, 143), (signal.SIGHUP, 129)):
        rc, err, out, rep, _ = interrupt_run(server, tmp_path, sig, f"sig{code}")
        assert rc == code, (sig, err)
        assert "interrupted: 1 saved, 3 not fetched" in err
        assert book_files(out) == [f"sig{code}-quick.txt"]
        # The journal was written: a rerun keeps the saved book.
        assert os.path.exists(os.path.join(out, ".juggle", "manifest"))


def test_user_agent_and_headers_shape_every_request(server, juggle):
    ua = "mybot/1.0 (+http://example.invalid/bot)"
    urls = [server.url(f"/gen/ua{i}.txt") for i in range(3)]
    r = juggle("-A", ua, "-H", "X-Test: hello there", "-H", "accept-encoding: identity", *urls)
    assert r.rc == 0, r.stderr
    starts = server.starts("/gen/ua")
    assert len(starts) == 3
    for e in starts:
        assert e["ua"] == ua and e["xt"] == "hello there", e
        # The caller's Accept-Encoding replaces juggle's: sent once.
        assert e["ae"] == "identity" and "ae_lines" not in e, e
    # "Name:" removes juggle's own header.
    r = juggle("-H", "Accept-Encoding:", server.url("/gen/noae.txt"), out="t2")
    assert r.rc == 0, r.stderr
    assert server.starts("/gen/noae")[0]["ae"] == ""


def test_bad_headers_are_usage_errors(juggle):
    for args, msg in [(["-H", "no colon"], "--header: expected 'Name: value'"),
                      (["-H", "Bad Name: x"], "--header: expected"),
                      (["-H", "X-Ok: a\r\nX-Injected: 1"], "--header: expected"),
                      (["-H", ": empty name"], "--header: expected"),
                      (["-A", "bot\nX-Injected: 1"], "--user-agent: invalid value"),
                      (["-A", ""], "--user-agent: invalid value")]:
        r = juggle(*args, "http://127.0.0.1:9/x", json_report=False)
        assert r.rc == 2 and msg in r.stderr, (args, r.stderr)
        assert "X-Injected: 1\n" not in r.stderr  # the message escapes line ends


def test_wait_paces_each_host_and_holds_no_other_up(server, juggle):
    """--wait 0.5: the starts of one host's requests are at least 0.5 s
    apart (measured by the server's own clock); the second host starts at
    once, not after the first host's wait."""
    a = [server.url(f"/gen/wa{i}.txt") for i in range(4)]
    b = [f"http://localhost:{server.port}/gen/wb{i}.txt" for i in range(4)]
    t0 = time.monotonic()
    r = juggle("-j", "8", "--per-host", "8", "--wait", "0.5", *a, *b)
    wall = time.monotonic() - t0
    assert r.rc == 0, r.stderr
    starts = server.starts("/gen/w")
    ta = sorted(e["t"] for e in starts if e["host"].startswith("127."))
    tb = sorted(e["t"] for e in starts if e["host"].startswith("localhost"))
    assert len(ta) == 4 and len(tb) == 4
    gaps = [y - x for x, y in zip(ta, ta[1:])] + [y - x for x, y in zip(tb, tb[1:])]
    print(f"--wait 0.5: gaps between one host's starts {[round(g, 3) for g in gaps]} s")
    assert min(gaps) >= 0.49, gaps
    assert abs(tb[0] - ta[0]) < 0.3  # the other host is not held up
    assert wall < 3.5  # 3 waits of 0.5 s per host, run side by side


def test_random_wait_varies_the_gaps_within_half_to_one_and_a_half(server, juggle):
    urls = [server.url(f"/gen/rw{i}.txt") for i in range(6)]
    r = juggle("--wait", "0.2", "--random-wait", *urls)
    assert r.rc == 0, r.stderr
    t = sorted(e["t"] for e in server.starts("/gen/rw"))
    gaps = [y - x for x, y in zip(t, t[1:])]
    assert all(0.099 <= g <= 0.35 for g in gaps), gaps
    assert max(gaps) - min(gaps) > 0.005, gaps  # not one fixed wait


def test_gutenberg_main_site_gets_one_request_at_a_time_two_seconds_apart(server, juggle):
    """Without --wait or --per-host, www.gutenberg.org (here resolved to the
    test server) is fetched as its terms ask, and the user is told why a
    long list would be slow."""
    pin = f"www.gutenberg.org:{server.port}:127.0.0.1"
    urls = [f"http://www.gutenberg.org:{server.port}/gen/g{i}.txt" for i in range(6)]
    r = juggle("--resolve", pin, "-j", "8", *urls, timeout=60)
    assert r.rc == 0, r.stderr
    log = server.log()
    assert max_overlap(request_intervals(log)) == 1
    t = sorted(e["t"] for e in server.starts("/gen/g"))
    gaps = [y - x for x, y in zip(t, t[1:])]
    print(f"www.gutenberg.org: gaps between starts {[round(g, 3) for g in gaps]} s")
    assert min(gaps) >= 1.99, gaps
    assert "www.gutenberg.org asks automated tools for one request at a time, 2 s apart: " \
           "6 books take at least 10 s; a mirror (--mirror URL) is faster" in r.stderr
    # A limit the user chose replaces the default: no pacing, no note.
    urls = [f"http://www.gutenberg.org:{server.port}/gen/h{i}.txt" for i in range(6)]
    t0 = time.monotonic()
    r = juggle("--resolve", pin, "--per-host", "4", *urls, out="t2")
    assert r.rc == 0 and time.monotonic() - t0 < 3, r.stderr
    assert "asks automated tools" not in r.stderr


def test_retry_after_holds_the_whole_host_and_halves_its_concurrency(server, juggle):
    """A 503 with Retry-After: 1 is a floor for the host's next request,
    not only for the URL that got it, and the host's concurrency halves
    (4 -> 2); other books of the host wait, then go at most 2 at once."""
    first = server.url("/gen/ra0.txt?fail=1&retry_after=1&delay=300")
    rest = [server.url(f"/gen/ra{i}.txt?delay=200") for i in range(1, 9)]
    r = juggle("-j", "8", "--per-host", "4", "--retry-delay", "0", first, *rest)
    assert r.rc == 0, r.stderr
    log = server.log()
    refused = [e for e in log if e["ev"] == "end" and e.get("status") == 503]
    assert len(refused) == 1, refused
    t503 = refused[0]["t"]
    later = [e for e in server.starts("/gen/ra") if e["t"] > t503]
    assert later, "every request came before the 503"
    gap = min(e["t"] for e in later) - t503
    print(f"first request to the host after its 503 (Retry-After: 1): {gap:.3f} s")
    assert gap >= 0.99, gap
    after = [iv for iv in request_intervals(log) if iv[0] > t503]
    assert max_overlap(after) <= 2, after


def test_limit_rate_holds_the_whole_run_to_the_rate_and_shares_it(server, juggle):
    """--limit-rate 512K: 2 MiB take 4 s (within 15%), whether one book
    or four at once, and four share it fairly (they end together)."""
    size = 2 << 20
    one = [server.url(f"/gen/rate-one.txt?size={size}")]
    four = [server.url(f"/gen/rate-{i}.txt?size={size // 4}") for i in range(4)]
    for urls, out in ((one, "one"), (four, "four")):
        t0 = time.monotonic()
        r = juggle("--limit-rate", "512K", "--no-count", *urls, out=out)
        took = time.monotonic() - t0
        assert r.rc == 0, r.stderr
        assert sum(b["bytes"] for b in r.report()["books"]) >= size
        print(f"--limit-rate 512K, 2 MiB as {len(urls)} book(s): {took:.2f} s")
        assert 4 * 0.85 <= took <= 4 * 1.15, took
    four_ends = sorted(e["t"] for e in server.log()
                       if e["ev"] == "end" and "/gen/rate-" in e["target"] and "one" not in
                       e["target"])
    assert len(four_ends) == 4
    # Fair: no book got the rate to itself and ended early.
    assert four_ends[-1] - four_ends[0] < 0.6, four_ends
    # Unlimited, the same bytes take a fraction of that.
    t0 = time.monotonic()
    r = juggle("--no-count", *[u + "&again=1" for u in four], out="free")
    assert r.rc == 0 and time.monotonic() - t0 < 1.5, r.stderr


def test_json_hosts_say_what_the_run_asked_of_each_server(server, juggle):
    """The report's hosts array: requests (retries included), books ok and
    failed, bytes, seconds held back by --wait, the concurrency reached and
    the limit left after a 503; each figure checked against the server's
    own log and the books."""
    other = f"other.test:{server.port}"
    a = [server.url(f"/gen/ha{i}.txt?delay=100") for i in range(6)]
    a.append(server.url("/gen/ha-503.txt?fail=1&retry_after=0"))
    a.append(server.url("/gen/ha-404.txt?status=404"))
    b = [f"http://{other}/gen/hb{i}.txt" for i in range(3)]
    r = juggle("--resolve", f"{other}:127.0.0.1", "--per-host", "4", "--retry-delay", "0",
               "--wait", "0.2", *a, *b, timeout=60)
    assert r.rc == 1, r.stderr  # the 404
    rep = r.report()
    hosts = {h["host"]: h for h in rep["hosts"]}
    assert set(hosts) == {f"127.0.0.1:{server.port}", other}
    for name, urls, starts in ((f"127.0.0.1:{server.port}", a, "/gen/ha"),
                               (other, b, "/gen/hb")):
        h = hosts[name]
        books = [x for x in rep["books"] if x["url"] in urls]
        assert h["requests"] == len(server.starts(starts)), h
        assert h["ok"] == sum(x["status"] == "ok" for x in books)
        assert h["failed"] == sum(x["status"] == "failed" for x in books)
        assert h["bytes"] == sum(x["bytes"] for x in books if x["status"] == "ok")
        # --wait 0.2 between starts: held back about that per request after
        # the first (a little less when a request took longer than the wait).
        assert 0.1 * (h["requests"] - 1) <= h["waited_seconds"] <= 0.25 * h["requests"], h
        assert h["robots"] == ""
    ha = hosts[f"127.0.0.1:{server.port}"]
    assert ha["requests"] == 9 and ha["ok"] == 7 and ha["failed"] == 1, ha  # 503 retried once
    assert 1 <= ha["concurrency_max"] <= 4
    assert ha["limit"] < 4, ha  # the 503 halved it, not yet grown back
