"""Everything juggle writes about a book is true: an empty book is a book, a
file juggle did not write is never taken for one, list lines and URLs name
what they mean, and an HTML page is said to be one."""
import json
import os
import subprocess

import reference
from conftest import JUGGLE


def test_an_empty_body_is_an_empty_book(server, juggle):
    url = server.url("/gen/empty.txt?size=0")
    for mode in ([], ["--no-count"]):
        r = juggle(*mode, url, out="counted" if not mode else "saved")
        assert r.rc == 0, r.stderr
        assert r.files() == ["empty.txt"]
        assert os.path.getsize(os.path.join(r.out, "empty.txt")) == 0
        book = r.books()[url]
        assert book["status"] == "ok" and book["bytes"] == 0
        if not mode:
            assert book["words"] == 0 and book["distinct"] == 0 and book["top"] == []


def juggle_starts(server, path):
    return [s for s in server.starts(path) if s["ua"].startswith("juggle/")]


def test_a_file_juggle_did_not_write_is_not_adopted(server, tmp_path):
    out = tmp_path / "texts"
    out.mkdir()
    note = b"my own notes, not a book\n"
    (out / "pg84.txt").write_bytes(note)
    report = tmp_path / "r.json"
    cmd = [JUGGLE, "-o", str(out), "--mirror", server.base, "--json", str(report), "84"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert len(juggle_starts(server, "/cache/epub/84/pg84.txt")) == 1, "the book was not fetched"
    assert (out / "pg84.txt").read_bytes() == note, "the user's file was touched"
    assert (out / "pg84.txt.1").read_bytes() == server.fetch("/cache/epub/84/pg84.txt")
    assert f"{out}/pg84.txt was there before and is not juggle's" in p.stderr
    assert "left alone; " + server.url("/cache/epub/84/pg84.txt") + " is in pg84.txt.1" in p.stderr
    book = json.loads(report.read_text())["books"][0]
    assert book["foreign_file"] == "pg84.txt" and book["file"].endswith("/pg84.txt.1")
    # Run again: the book is juggle's now and kept; the note is still not.
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert len(juggle_starts(server, "/cache/epub/84/pg84.txt")) == 1
    assert (out / "pg84.txt").read_bytes() == note
    assert json.loads(report.read_text())["books"][0]["reused"] is True


def test_a_file_beside_another_lists_books_is_not_adopted(server, tmp_path):
    """A directory juggle has written, but a file no record names."""
    out = tmp_path / "texts"
    first = subprocess.run([JUGGLE, "-q", "-o", str(out), server.url("/gen/a.txt")],
                           capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    (out / "b.txt").write_bytes(b"<html>an error page a proxy saved</html>\n")
    p = subprocess.run([JUGGLE, "-q", "-o", str(out), server.url("/gen/a.txt"),
                        server.url("/gen/b.txt")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert len(juggle_starts(server, "/gen/b.txt")) == 1
    assert (out / "b.txt").read_bytes().startswith(b"<html>")
    assert (out / "b.txt.1").read_bytes() == server.fetch("/gen/b.txt")


def test_a_list_that_starts_with_a_byte_order_mark_loses_no_line(server, juggle, tmp_path):
    lst = tmp_path / "urls.txt"
    lst.write_bytes(b"\xef\xbb\xbf" + server.url("/gen/first.txt").encode() + b"\r\n" +
                    server.url("/gen/second.txt").encode() + b"\r\n")
    r = juggle("-i", str(lst))
    assert r.rc == 0, r.stderr
    assert r.files() == ["first.txt", "second.txt"]


def test_a_fragment_is_dropped_before_duplicates_are_found(server, juggle):
    base = server.url("/gen/frag.txt")
    r = juggle(base, base + "#chapter-1", base + "#chapter-2")
    assert r.rc == 0, r.stderr
    assert r.files() == ["frag.txt"]
    assert len(server.starts("/gen/frag.txt")) == 1
    assert [s["target"] for s in server.starts("/gen/frag.txt")] == ["/gen/frag.txt"]


def test_file_names_are_percent_decoded_then_made_safe(server, juggle):
    r = juggle(server.url("/gen/%70g84.txt"), server.url("/gen/a%2Fb%20c.txt"))
    assert r.rc == 0, r.stderr
    assert r.files() == ["a_b c.txt", "pg84.txt"]


def test_a_url_that_ends_in_a_slash_is_saved_as_index_html(server, juggle):
    urls = [server.url("/?fill=a&size=100"), server.url("/files/?fill=b&size=100"),
            server.url("?fill=c&size=100")]
    r = juggle(*urls)
    assert r.rc == 0, r.stderr
    assert r.files() == ["index.html", "index.html.1", "index.html.2"]


def test_html_is_counted_as_text_flagged_and_not_stripped(server, juggle):
    page = server.url("/gen/page.html?ctype=text%2Fhtml%3B+charset%3Dutf-8")
    plain = server.url("/gen/page.txt")
    r = juggle(page, plain)
    assert r.rc == 0, r.stderr
    books = r.books()
    assert books[page]["content_type"] == "text/html; charset=utf-8"
    assert books[plain]["content_type"] == "text/plain; charset=utf-8"
    assert f"note: {page}: served as text/html; charset=utf-8, not plain text" in r.stderr
    assert f"note: {plain}" not in r.stderr
    # A generated book carries Gutenberg's markers: the page keeps them all.
    raw = server.fetch("/gen/page.html")
    assert books[page]["words"] == reference.count(raw, "utf-8", html=True)["words"]
    assert books[page]["words"] > reference.count(raw, "utf-8")["words"]


def test_whitespace_mode_never_writes_invalid_utf8(make_server, tmp_path):
    """Bytes that are not UTF-8, in a book declared UTF-8, and a terminal
    escape: the report and the table stay UTF-8 that strict parsers take."""
    root = tmp_path / "root"
    root.mkdir()
    raw = b"K\xe4se caf\xc3\xa9 \x1b[31mred\xe2\x80 \xed\xa0\x80x \xff\n"
    (root / "bad.txt").write_bytes(raw)
    srv = make_server("--root", str(root))
    url = srv.url("/bad.txt?ctype=text%2Fplain%3B+charset%3Dutf-8")
    report, tsv = tmp_path / "r.json", tmp_path / "c.tsv"
    p = subprocess.run([JUGGLE, "-q", "-o", str(tmp_path / "t"), "--split", "whitespace",
                        "--json", str(report), "--counts", str(tsv), url],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    book = json.loads(report.read_bytes().decode("utf-8"))["books"][0]
    table = dict(line.rsplit("\t", 1) for line in tsv.read_bytes().decode("utf-8").splitlines())
    want = reference.count(raw, "utf-8", "whitespace")
    assert book["charset"] == "utf-8" and book["charset_from"] == "http"
    assert book["words"] == want["words"] == 5
    assert {w: int(n) for w, n in table.items()} == dict(want["table"])
    assert "k\ufffdse" in table and "\x1b[31mred\ufffd" in table
