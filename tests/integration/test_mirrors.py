"""Several --mirror: ebook numbers spread over them by number, and a book
its mirror fails tried on the next one."""
import os
import time

from conftest import free_port

IDS = [84, 1342, 2701, 11, 1661, 98, 345, 514, 844, 174, 76, 1400, 5200, 4300, 2600, 1080,
       120, 46, 1952, 16328]


def served_by(report):
    return {b["url"]: b.get("final_url", b["url"]) for b in report["books"] if b["status"] == "ok"}


def test_a_dead_first_mirror_leaves_every_book_to_the_second(server, juggle):
    """The first mirror refuses connections: every book is saved from the
    second, at once (no retries wasted on a mirror that has gone), and the
    summary says how many books each mirror served."""
    dead = f"http://127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    r = juggle("--mirror", dead, "--mirror", server.base, "--retry-delay", "2", *map(str, IDS))
    took = time.monotonic() - t0
    assert r.rc == 0, r.stderr
    assert r.files() == sorted(f"pg{i}.txt" for i in IDS)
    for i in IDS:
        with open(os.path.join(r.out, f"pg{i}.txt"), "rb") as f:
            assert f.read() == server.fetch(f"/cache/epub/{i}/pg{i}.txt"), i
    finals = served_by(r.report())
    assert len(finals) == len(IDS)
    assert all(u.startswith(server.base + "/cache/epub/") for u in finals.values()), finals
    # Some books were first sent to the dead mirror (the spread) and moved on.
    firsts = [u for u in finals if u.startswith(dead)]
    assert 0 < len(firsts) < len(IDS), firsts
    print(f"dead first mirror: {len(IDS)} books in {took:.2f} s, {len(firsts)} moved on")
    assert took < 5, took  # a retry wait of 2 s doubling would take longer
    assert f"books per mirror: {dead} 0, {server.base} {len(IDS)}" in r.stderr, r.stderr


def test_books_are_spread_over_the_mirrors_the_same_way_each_run(make_server, juggle):
    a, b = make_server(), make_server()
    r1 = juggle("--mirror", a.base, "--mirror", b.base, *map(str, IDS))
    assert r1.rc == 0, r1.stderr
    first = served_by(r1.report())
    on_a = {u for u, f in first.items() if f.startswith(a.base)}
    on_b = {u for u, f in first.items() if f.startswith(b.base)}
    assert on_a and on_b and len(on_a) + len(on_b) == len(IDS), first
    # Each server saw exactly its share: no book was fetched twice.
    assert len(a.starts("/cache/epub/")) == len(on_a)
    assert len(b.starts("/cache/epub/")) == len(on_b)
    # A second run with the same list: the same book on the same mirror.
    r2 = juggle("--mirror", a.base, "--mirror", b.base, *map(str, IDS), out="again")
    assert r2.rc == 0, r2.stderr
    assert served_by(r2.report()) == first


def test_a_mirror_that_lacks_a_book_sends_it_to_the_next(make_server, make_nginx, corpus, juggle):
    """A stock nginx mirror of the real corpus lacks the books it does not
    hold (404): those come from the second mirror, the rest from it."""
    have = sorted(int(n) for n in os.listdir(os.path.join(corpus, "cache/epub")))
    nginx = make_nginx(f"server {{ listen 127.0.0.1:{{port}}; root {corpus}; }}")
    other = make_server()
    absent = list(range(999001, 999009))
    ids = have + absent
    r = juggle("--mirror", nginx.url(""), "--mirror", other.base, *map(str, ids))
    assert r.rc == 0, r.stderr
    books = {int(b["url"].rsplit("/pg", 1)[1][:-4]): b for b in r.report()["books"]}
    assert len(books) == len(ids) and all(b["status"] == "ok" for b in books.values())
    moved = 0
    for n, b in books.items():
        first_nginx = b["url"].startswith(nginx.url("/"))
        if n in have and first_nginx:
            # On nginx: served there, the real file, byte for byte.
            assert b.get("final_url", b["url"]).startswith(nginx.url("/")), b
            with open(os.path.join(r.out, f"pg{n}.txt"), "rb") as f, \
                    open(os.path.join(corpus, f"cache/epub/{n}/pg{n}.txt"), "rb") as g:
                assert f.read() == g.read(), n
        else:
            assert b.get("final_url", b["url"]).startswith(other.base + "/"), b
            if first_nginx:
                moved += 1
                assert b["attempts"] == 2, b  # the 404, then the next mirror
    assert moved > 0 and any(b["url"].startswith(nginx.url("/")) and n in have
                             for n, b in books.items())
    assert f"books per mirror: {nginx.url('')} " in r.stderr


def test_a_book_every_mirror_fails_names_them_all_and_fails_the_run(server, juggle):
    dead = f"http://127.0.0.1:{free_port()}"
    lacking = server.url("/empty")  # no such tree: every book is a 404 there
    r = juggle("--mirror", dead, "--mirror", lacking, "--retries", "1", "--retry-delay", "0.1",
               "84", "1342")
    assert r.rc == 1, r.stderr
    books = r.report()["books"]
    assert len(books) == 2 and all(b["status"] == "failed" for b in books), books
    for b in books:
        assert "every mirror failed it: 2 tried" in b["error"], b
        # One attempt on the mirror it left, the last mirror's retries too.
        assert b["attempts"] >= 2, b
    assert "FAILED" in r.stderr and "every mirror failed it" in r.stderr


def test_a_bad_mirror_is_a_usage_error(juggle):
    r = juggle("--mirror", "ftp://example.test/", "84")
    assert r.rc == 2
    assert "--mirror: expected an http or https URL, got 'ftp://example.test/'" in r.stderr
