"""Real books counted right: every file of the shared Gutenberg corpus, served
by a stock nginx the way real servers serve them (text/plain, no charset),
must get exactly the words, distinct words and top 10 of the independent
count in reference.py, with the charset decision it makes."""
import json
import os
import subprocess
from collections import Counter

import pytest

import reference
from conftest import JUGGLE

CORPUS_ENCODINGS = {  # from the corpus README's table: what each file really is
    "UTF-8": "utf-8", "UTF-8 with BOM": "utf-8", "ISO-8859-1": "iso-8859-1",
    "Windows-1252": "windows-1252", "ASCII": "us-ascii",
}


def corpus_files(corpus):
    """(path under the corpus, its true charset) for every text file."""
    out = []
    for line in open(os.path.join(corpus, "README.md"), encoding="utf-8"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 5 and cells[0].endswith(".txt"):
            out.append(("/" + cells[0], CORPUS_ENCODINGS[cells[4]]))
    assert len(out) == 36, "the corpus README lists 36 files"
    return out


# ---- serving the corpus ----------------------------------------------------

def serve_corpus(make_nginx, corpus, charsets=None):
    """nginx over the corpus as text/plain; `charsets` maps paths to the
    charset to announce (none at all when None, as stock servers do)."""
    locations = "".join(f"        location = {p} {{ charset {cs}; }}\n"
                        for p, cs in (charsets or {}).items())
    return make_nginx(f"""
    types {{ text/plain txt; }}
    charset_types text/plain;
    server {{
        listen 127.0.0.1:{{port}};
        root {corpus};
{locations}    }}
""")


def run(tmp_path, name, urls, *args):
    out = tmp_path / name
    report = tmp_path / f"{name}.json"
    tsv = tmp_path / f"{name}.tsv"
    p = subprocess.run([JUGGLE, "-q", "-o", str(out), "--json", str(report), "--counts", str(tsv),
                        "--top", "10", *args, *urls], capture_output=True, timeout=240)
    assert p.returncode == 0, p.stderr.decode("utf-8", "replace")
    raw = report.read_bytes()
    rep = json.loads(raw.decode("utf-8"))  # strict: the report is UTF-8
    tsv.read_bytes().decode("utf-8")       # so is the table
    return rep, p


def check_books(rep, refs, urls, what):
    books = {b["url"]: b for b in rep["books"]}
    wrong = []
    for url, ref in zip(urls, refs):
        b = books[url]
        got = (b.get("words"), b.get("distinct"), b.get("top"), b.get("charset"),
               b.get("charset_from"))
        want = (ref["words"], ref["distinct"], ref["top"], ref["charset"], ref["charset_from"])
        if got != want:
            wrong.append(f"{url}: got {got[:2]} {got[3:]}, want {want[:2]} {want[3:]}")
    assert not wrong, f"{what}: {len(wrong)} of {len(urls)} books counted wrong:\n" + "\n".join(wrong)


def refs_for(corpus, files, with_charset, mode="words"):
    out = []
    for path, cs in files:
        raw = open(corpus + path, "rb").read()
        out.append(reference.count(raw, cs if with_charset else None, mode))
    return out


def test_every_corpus_book_served_without_a_charset(make_nginx, corpus, tmp_path):
    files = corpus_files(corpus)
    srv = serve_corpus(make_nginx, corpus)
    urls = [srv.url(p) for p, _ in files]
    rep, _ = run(tmp_path, "plain", urls)
    refs = refs_for(corpus, files, False)
    check_books(rep, refs, urls, "served with no charset")
    total = Counter()
    for r in refs:
        total.update(r["table"])
    got = {}
    for line in (tmp_path / "plain.tsv").read_text(encoding="utf-8").splitlines():
        w, n = line.rsplit("\t", 1)
        got[w] = int(n)
    assert got == dict(total)


def test_every_corpus_book_served_with_its_charset(make_nginx, corpus, tmp_path):
    files = corpus_files(corpus)
    srv = serve_corpus(make_nginx, corpus, dict(files))
    urls = [srv.url(p) for p, _ in files]
    rep, _ = run(tmp_path, "declared", urls)
    check_books(rep, refs_for(corpus, files, True), urls, "served with its charset")


def test_a_recount_after_resume_counts_the_same(make_nginx, corpus, tmp_path):
    files = corpus_files(corpus)
    srv = serve_corpus(make_nginx, corpus, {p: cs for p, cs in files if cs == "iso-8859-1"})
    urls = [srv.url(p) for p, _ in files]
    first, _ = run(tmp_path, "again", urls)
    # Without the sealed table, the rerun counts every saved book again from
    # its file, with the charset decision recorded for it.
    for f in os.listdir(tmp_path / "again" / ".juggle"):
        if f.startswith("counts."):
            os.unlink(tmp_path / "again" / ".juggle" / f)
    second, p = run(tmp_path, "again", urls)
    assert all(b.get("reused") for b in second["books"]), "a book was fetched again"
    refs = [reference.count(open(corpus + path, "rb").read(), cs if cs == "iso-8859-1" else None)
            for path, cs in files]
    check_books(second, refs, urls, "recounted from the saved files")
    manifest = (tmp_path / "again" / ".juggle" / "manifest").read_text(encoding="utf-8")
    assert "charset=windows-1252" in manifest and "charset_from=book" in manifest


def test_whitespace_mode_on_the_corpus_is_valid_utf8_and_exact(make_nginx, corpus, tmp_path):
    files = corpus_files(corpus)
    srv = serve_corpus(make_nginx, corpus)
    urls = [srv.url(p) for p, _ in files]
    rep, _ = run(tmp_path, "ws", urls, "--split", "whitespace")
    check_books(rep, refs_for(corpus, files, False, "whitespace"), urls, "--split whitespace")


def test_whitespace_mode_equals_wc_on_ascii(make_nginx, corpus, tmp_path):
    srv = serve_corpus(make_nginx, corpus)
    rep, _ = run(tmp_path, "kjv", [srv.url("/kjvbible.txt")], "--split", "whitespace")
    wc = subprocess.run(["wc", "-w", os.path.join(corpus, "kjvbible.txt")], capture_output=True,
                        text=True, check=True)
    assert rep["books"][0]["words"] == int(wc.stdout.split()[0])


def without_markers(raw):
    """`raw` less every line the boilerplate rule would cut at: repeated,
    the book is one text to both counts, whatever each makes of markers."""
    keep = [line for line in raw.split(b"\n")
            if not (reference.START.match(line.decode("latin-1"))
                    or reference.END.match(line.decode("latin-1")))]
    return b"\n".join(keep)


def test_books_past_16_mib_are_counted_from_their_mapping_exactly(make_nginx, corpus, tmp_path):
    """A worker maps a saved book past 16 MiB rather than reading it. Two
    real texts made that large, served by nginx with no charset: the KJV
    x4 (ASCII: counted in place) and Little Women x16 (Windows-1252, CRLF:
    converted from the mapping). Each is counted as reference.py counts
    it, and the run's --counts table (the sealed snapshot, copied) is the
    two tables added up."""
    site = tmp_path / "site"
    site.mkdir()
    kjv = open(os.path.join(corpus, "kjvbible.txt"), "rb").read() * 4
    women = without_markers(open(os.path.join(corpus, "cache/epub/37106/pg37106.txt"),
                                 "rb").read()) * 16
    (site / "kjv4.txt").write_bytes(kjv)
    (site / "women16.txt").write_bytes(women)
    assert len(kjv) > 16 << 20 and len(women) > 16 << 20
    srv = make_nginx(f"""
    types {{ text/plain txt; }}
    server {{
        listen 127.0.0.1:{{port}};
        root {site};
    }}
""")
    urls = [srv.url("/kjv4.txt"), srv.url("/women16.txt")]
    refs = [reference.count(kjv), reference.count(women)]
    assert refs[1]["charset"] == "windows-1252"
    rep, _ = run(tmp_path, "big", urls, "-w", "1")
    check_books(rep, refs, urls, "books past 16 MiB")
    table = Counter()
    for line in (tmp_path / "big.tsv").read_text(encoding="utf-8").splitlines():
        word, n = line.rsplit("\t", 1)
        table[word] += int(n)
    assert table == refs[0]["table"] + refs[1]["table"]
