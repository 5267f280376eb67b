"""--robots: each host's robots.txt (RFC 9309) fetched once before its
first book, kept to, cached for a day; checked from the test server's own
request log (what reached it, and when)."""
import os
import re
import time

import pytest

from conftest import book_files, free_port

ROBOTS = "/robots.txt"


def serve(make_server, tmp_path, robots=None, *routes):
    """A test server whose root holds `robots` (None: no robots.txt, a 404)."""
    root = tmp_path / f"root{len(os.listdir(tmp_path))}"
    root.mkdir()
    if robots is not None:
        (root / "robots.txt").write_bytes(robots.encode() if isinstance(robots, str) else robots)
    args = ["--root", str(root)]
    for r in routes:
        args += ["--route", r]
    return make_server(*args)


def targets(srv):
    return [e["target"] for e in srv.starts()]


def robots_requests(srv):
    return [e for e in srv.starts() if e["target"] == ROBOTS]


def test_a_disallowed_book_never_reaches_the_server(make_server, tmp_path, juggle):
    srv = serve(make_server, tmp_path,
                "User-agent: *\nDisallow: /gen/private/\nAllow: /gen/private/ok$\n")
    ok = [srv.url(f"/gen/pub/b{i}.txt") for i in range(3)] + [srv.url("/gen/private/ok")]
    refused = [srv.url("/gen/private/a.txt"), srv.url("/gen/private/b.txt?x=1")]
    r = juggle("--robots", *ok, *refused)
    assert r.rc == 1, r.stderr  # a book refused is a book failed
    books = r.books()
    for u in ok:
        assert books[u]["status"] == "ok", books[u]
    for u in refused:
        assert not books[u]["status"] == "ok"
        assert books[u]["error"] == (f"disallowed by {srv.base}/robots.txt "
                                     "(Disallow: /gen/private/)"), books[u]["error"]
        assert books[u]["attempts"] == 0
    seen = targets(srv)
    assert not any(t.startswith("/gen/private/") and t != "/gen/private/ok" for t in seen), seen
    assert seen[0] == ROBOTS and seen.count(ROBOTS) == 1, seen
    assert "disallowed by" in r.stderr and "robots.txt" in r.stderr


def test_off_by_default(make_server, tmp_path, juggle):
    srv = serve(make_server, tmp_path, "User-agent: *\nDisallow: /\n")
    urls = [srv.url(f"/gen/o{i}.txt") for i in range(3)]
    r = juggle(*urls)
    assert r.rc == 0, r.stderr
    assert ROBOTS not in targets(srv)
    assert not os.path.exists(os.path.join(r.out, ".juggle", "robots"))


@pytest.mark.parametrize("engine", ["loop", "threads"])
def test_the_group_of_our_product_token_or_else_star(make_server, tmp_path, juggle, engine):
    """Groups are matched on juggle's product token ("juggle", case aside),
    or on that of -A/--user-agent; '*' only when no group names it."""
    srv = serve(make_server, tmp_path,
                "User-agent: *\nDisallow: /\n\n"
                "User-agent: JUGGLE\nDisallow: /gen/mine/\n\n"
                "User-agent: otherbot\nUser-agent: Fetcher\nDisallow: /gen/theirs/\n")
    mine, theirs, free = (srv.url("/gen/mine/a.txt"), srv.url("/gen/theirs/a.txt"),
                          srv.url("/gen/free/a.txt"))
    r = juggle("--robots", "--engine", engine, mine, theirs, free)
    assert r.rc == 1
    books = r.books()
    assert not books[mine]["status"] == "ok" and books[theirs]["status"] == "ok" and books[free]["status"] == "ok", books
    r = juggle("--robots", "-A", "Fetcher/2.0 (+http://example.test)", mine, theirs, free,
               out="t2")
    books = r.books()
    assert books[mine]["status"] == "ok" and not books[theirs]["status"] == "ok" and books[free]["status"] == "ok", books
    r = juggle("--robots", "-A", "Nobody 1.0", mine, theirs, free, out="t3")
    assert not any(b["status"] == "ok" for b in r.books().values())
    assert "(Disallow: /)" in r.books()[free]["error"]


def test_crawl_delay_spaces_the_host_s_requests(make_server, tmp_path, juggle):
    """Crawl-delay: 0.4 is a floor of the host's wait from the robots.txt
    request on (measured by the server's clock), whatever --per-host says."""
    srv = serve(make_server, tmp_path, "User-agent: *\nCrawl-delay: 0.4\nDisallow: /no\n")
    urls = [srv.url(f"/gen/cd{i}.txt") for i in range(5)]
    t0 = time.monotonic()
    r = juggle("--robots", "-j", "16", "--per-host", "8", *urls)
    wall = time.monotonic() - t0
    assert r.rc == 0, r.stderr
    t = sorted(e["t"] for e in srv.starts())
    assert len(t) == 6  # robots.txt and five books
    gaps = [y - x for x, y in zip(t, t[1:])]
    print(f"Crawl-delay 0.4: gaps between starts {[round(g, 3) for g in gaps]} s")
    # juggle spaces the starts of its requests; their arrival at the server
    # moves by what one connection's set-up or reuse costs (under 10 ms).
    assert min(gaps) >= 0.39, gaps
    assert t[-1] - t[0] >= 5 * 0.4
    assert wall >= 2.0
    # A --wait of the user's larger than the delay stays.
    srv2 = serve(make_server, tmp_path, "User-agent: *\nCrawl-delay: 0.1\n")
    r = juggle("--robots", "--wait", "0.3", *[srv2.url(f"/gen/w{i}.txt") for i in range(3)],
               out="t2")
    t = sorted(e["t"] for e in srv2.starts())
    assert min(y - x for x, y in zip(t, t[1:])) >= 0.29


@pytest.mark.parametrize("status", [404, 401, 403, 410, 429])
def test_a_4xx_allows_everything(make_server, tmp_path, juggle, status):
    srv = serve(make_server, tmp_path, "User-agent: *\nDisallow: /\n",
                f"/robots.txt?status={status}")
    urls = [srv.url(f"/gen/f{i}.txt") for i in range(4)]
    r = juggle("--robots", *urls)
    assert r.rc == 0, r.stderr
    assert sorted(targets(srv)) == sorted([ROBOTS] + [u[len(srv.base):] for u in urls])


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_refuses_every_book_naming_robots_txt(make_server, tmp_path, juggle, status):
    srv = serve(make_server, tmp_path, "User-agent: *\nAllow: /\n", f"/robots.txt?status={status}")
    urls = [srv.url(f"/gen/s{i}.txt") for i in range(4)]
    r = juggle("--robots", "--retry-delay", "0", *urls)
    assert r.rc == 1
    for u in urls:
        err = r.books()[u]["error"]
        assert err == (f"disallowed: {srv.base}/robots.txt unreachable (HTTP {status}), "
                       "so nothing of the host is fetched this run"), err
    assert targets(srv) == [ROBOTS]  # asked once, not retried, no book
    # Not kept: the next run asks again.
    r = juggle("--robots", *urls)
    assert targets(srv) == [ROBOTS, ROBOTS]


def test_unreachable_host_or_name_refuses_everything(juggle, dns):
    port = free_port()  # nothing listens there
    urls = [f"http://127.0.0.1:{port}/a{i}.txt" for i in range(3)]
    r = juggle("--robots", "--retries", "0", *urls)
    assert r.rc == 1
    for u in urls:
        err = r.books()[u]["error"]
        assert err.startswith(f"disallowed: http://127.0.0.1:{port}/robots.txt unreachable ("), err
    d = dns({})  # knows no name
    r = juggle("--robots", "--dns-servers", f"127.0.0.1:{d.port}",
               "http://nowhere.test/a.txt", "http://nowhere.test/b.txt", out="t2")
    assert r.rc == 1
    for b in r.books().values():
        assert b["error"].startswith("disallowed: http://nowhere.test/robots.txt unreachable"), b


def test_cache_a_second_run_asks_nothing(make_server, tmp_path, juggle):
    srv = serve(make_server, tmp_path, "User-agent: *\nDisallow: /gen/x\n")
    first = [srv.url("/gen/a.txt"), srv.url("/gen/x1.txt")]
    r = juggle("--robots", *first)
    assert r.rc == 1
    cache = os.path.join(r.out, ".juggle", "robots")
    names = os.listdir(cache)
    assert len(names) == 1 and not names[0].startswith("."), names  # no temporary left
    text = open(os.path.join(cache, names[0]), "rb").read()
    assert re.match(rb"juggle-robots 1\norigin http://127\.0\.0\.1:%d\nfetched \d+\n"
                    rb"status 200\n\nUser-agent: \*\nDisallow: /gen/x\n$" % srv.port, text), text
    # Within the day: no robots.txt request, the same rules.
    second = [srv.url("/gen/b.txt"), srv.url("/gen/x2.txt")]
    r = juggle("--robots", *first, *second)
    assert r.rc == 1
    assert targets(srv).count(ROBOTS) == 1
    books = r.books()
    assert books[second[0]]["status"] == "ok" and "disallowed by" in books[second[1]]["error"]
    assert "/gen/x2.txt" not in targets(srv)
    # A day old: asked again (and rewritten).
    path = os.path.join(cache, names[0])
    old = re.sub(rb"fetched \d+", b"fetched %d" % (time.time() - 25 * 3600), text)
    open(path, "wb").write(old)
    r = juggle("--robots", *first, *second)
    assert targets(srv).count(ROBOTS) == 2
    assert open(path, "rb").read() != old
    # A file for another origin under this name (a hash clash, a copy) is no answer.
    open(path, "wb").write(text.replace(b"127.0.0.1:%d" % srv.port, b"127.0.0.1:1"))
    r = juggle("--robots", *first, *second)
    assert targets(srv).count(ROBOTS) == 3


def test_a_symlink_in_place_of_the_cache_is_refused(make_server, tmp_path, juggle):
    srv = serve(make_server, tmp_path, "User-agent: *\n")
    out = tmp_path / "texts"
    (out / ".juggle").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", out / ".juggle" / "robots")
    r = juggle("--robots", srv.url("/gen/a.txt"))
    assert r.rc != 0
    assert "robots: not a directory (a symlink or a file): refusing to use it" in r.stderr
    assert os.listdir(tmp_path / "elsewhere") == []
    assert targets(srv) == []


def test_robots_txt_once_per_host_and_books_wait_for_it(make_server, tmp_path, juggle):
    """200 books over two hosts, a robots.txt that takes 500 ms: each host's
    robots.txt is asked for once, its books wait for it (none fails) and
    none starts before it was answered; the other host is not held up."""
    srv = serve(make_server, tmp_path, "User-agent: *\nDisallow: /gen/no\n",
                "/robots.txt?delay=500")
    a = [srv.url(f"/gen/m{i}.txt?size=500") for i in range(100)]
    b = [f"http://localhost:{srv.port}/gen/n{i}.txt?size=500" for i in range(100)]
    r = juggle("--robots", "-j", "64", "--per-host", "8", *a, *b, timeout=120)
    assert r.rc == 0, r.stderr
    assert len(r.files()) == 200
    log = srv.log()
    ends = {(e["conn"], e["req"]): e["t"] for e in log if e["ev"] == "end"}
    for host in ("127.0.0.1", "localhost"):
        mine = [e for e in log if e["ev"] == "start" and e["host"].startswith(host)]
        robots = [e for e in mine if e["target"] == ROBOTS]
        assert len(robots) == 1, robots
        answered = ends[(robots[0]["conn"], robots[0]["req"])]
        books = [e["t"] for e in mine if e["target"] != ROBOTS]
        assert len(books) == 100
        assert min(books) >= answered
    starts = {e["host"].split(":")[0]: e["t"] for e in log
              if e["ev"] == "start" and e["target"] == ROBOTS}
    assert abs(starts["127.0.0.1"] - starts["localhost"]) < 0.3
    # Waiting is no busy loop: a few hundred iterations (half a million
    # when the books were popped again and again meanwhile).
    assert r.report()["loop_stall"]["iterations"] < 5000


def test_redirects_are_followed_five_times(make_server, tmp_path, juggle):
    srv = serve(make_server, tmp_path, "User-agent: *\nDisallow: /gen/no\n",
                "/robots.txt?redirect=5")
    r = juggle("--robots", srv.url("/gen/yes.txt"), srv.url("/gen/no.txt"))
    assert r.rc == 1
    assert "disallowed by" in r.books()[srv.url("/gen/no.txt")]["error"]
    assert len([t for t in targets(srv) if t.startswith(ROBOTS)]) == 6
    # A sixth redirect: taken as no robots.txt at all (RFC 9309 2.3.1.2).
    srv = serve(make_server, tmp_path, "User-agent: *\nDisallow: /gen/no\n",
                "/robots.txt?redirect=6")
    r = juggle("--robots", srv.url("/gen/yes.txt"), srv.url("/gen/no.txt"), out="t2")
    assert r.rc == 0, r.stderr
    assert len([t for t in targets(srv) if t.startswith(ROBOTS)]) == 6


def test_only_500_kib_are_read(make_server, tmp_path, juggle):
    head = "User-agent: *\nDisallow: /gen/early\n"
    pad = "#" * 79 + "\n"
    body = head + pad * ((500 * 1024 - len(head) - 100) // len(pad))
    body += " " * (500 * 1024 - 8 - len(body)) + "Disallow: /gen/late\n"
    assert len(body) > 500 * 1024
    srv = serve(make_server, tmp_path, body)
    early, late = srv.url("/gen/early.txt"), srv.url("/gen/late.txt")
    r = juggle("--robots", early, late)
    books = r.books()
    assert not books[early]["status"] == "ok" and books[late]["status"] == "ok", books
    cache = os.path.join(r.out, ".juggle", "robots")
    kept = open(os.path.join(cache, os.listdir(cache)[0]), "rb").read()
    assert len(kept) < 500 * 1024 + 200 and b"/gen/late" not in kept


def test_robots_of_each_scheme_and_port_apart(make_server, tmp_path, juggle):
    """Two ports of one address are two origins, each with its own rules."""
    s1 = serve(make_server, tmp_path, "User-agent: *\nDisallow: /gen/a\n")
    s2 = serve(make_server, tmp_path, "User-agent: *\nDisallow: /gen/b\n")
    r = juggle("--robots", s1.url("/gen/a.txt"), s1.url("/gen/b.txt"),
               s2.url("/gen/a.txt"), s2.url("/gen/b.txt"))
    ok = {u: b["status"] == "ok" for u, b in r.books().items()}
    assert ok == {s1.url("/gen/a.txt"): False, s1.url("/gen/b.txt"): True,
                  s2.url("/gen/a.txt"): True, s2.url("/gen/b.txt"): False}, ok
    assert len(os.listdir(os.path.join(r.out, ".juggle", "robots"))) == 2
    assert set(book_files(r.out)) == {"a.txt.1", "b.txt"}  # names by input position



def test_interrupted_while_robots_txt_is_on_its_way(make_server, tmp_path):
    """The books waiting for a robots.txt in flight are cancelled like any
    queued book, and the fetch is stopped (no leak, no late callback: the
    suite runs this under ASan too)."""
    import signal
    import subprocess
    from conftest import JUGGLE
    srv = serve(make_server, tmp_path, "User-agent: *\n", "/robots.txt?delay=20000")
    out = tmp_path / "t"
    urls = [srv.url(f"/gen/i{i}.txt") for i in range(3)]
    proc = subprocess.Popen([JUGGLE, "--robots", "-o", str(out), *urls],
                            stderr=subprocess.PIPE, text=True)
    for _ in range(100):
        if robots_requests(srv):
            break
        time.sleep(0.05)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert "interrupted: 0 saved, 3 not fetched; run again to resume" in err, err
    assert "FAILED" not in err
    assert book_files(out) == []
    assert targets(srv) == [ROBOTS]


def test_the_hosts_array_says_what_robots_txt_said(make_server, tmp_path, juggle):
    parsed = serve(make_server, tmp_path, "User-agent: *\nDisallow: /gen/no\n")
    missing = serve(make_server, tmp_path, None)
    r = juggle("--robots", parsed.url("/gen/yes.txt"), parsed.url("/gen/no.txt"),
               missing.url("/gen/any.txt"))
    assert r.rc == 1
    hosts = {h["host"]: h for h in r.report()["hosts"]}
    a, b = hosts[f"127.0.0.1:{parsed.port}"], hosts[f"127.0.0.1:{missing.port}"]
    assert a["robots"] == "parsed" and b["robots"] == "allow-all"
    # The refused book asked nothing of its host; robots.txt is one request.
    assert a["requests"] == 2 and a["ok"] == 1 and a["failed"] == 1, a
    assert b["requests"] == 2 and b["ok"] == 1, b
    r2 = juggle(parsed.url("/gen/yes2.txt"), out="off")
    assert r2.report()["hosts"][0]["robots"] == ""
