"""Hostile directories: what anyone who can write into the output directory
(or hand juggle a shard directory) can do must stay inside it, and nothing
read back from it is believed beyond what it can show."""
import fcntl
import json
import os
import subprocess
import time
import zlib

from conftest import JUGGLE, VERSION, book_files


def run(out, *args, timeout=60):
    return subprocess.run([JUGGLE, "-q", "-o", str(out), *args], capture_output=True,
                          text=True, timeout=timeout)


def test_symlinks_in_the_journal_are_never_followed(server, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    url = server.url("/gen/a.txt")
    # A planted manifest.part: juggle writes a file of its own instead.
    out = tmp_path / "one"
    (out / ".juggle").mkdir(parents=True)
    (out / ".juggle" / "manifest.part").symlink_to(victim)
    p = run(out, url)
    assert p.returncode == 0, p.stderr
    assert victim.read_text() == "precious\n"
    assert not (out / ".juggle" / "manifest").is_symlink()
    # A planted lock: refused, and nothing made where it points.
    out = tmp_path / "two"
    (out / ".juggle").mkdir(parents=True)
    (out / ".juggle" / "lock").symlink_to(tmp_path / "made-outside")
    p = run(out, url)
    assert p.returncode == 2 and "a symlink: not juggle's lock" in p.stderr, p.stderr
    assert not (tmp_path / "made-outside").exists()
    # .juggle itself a symlink to another directory: refused.
    out = tmp_path / "three"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / ".juggle").symlink_to(elsewhere)
    p = run(out, url)
    assert p.returncode == 2 and "not a directory (a symlink or a file)" in p.stderr, p.stderr
    assert os.listdir(elsewhere) == []


def test_report_and_counts_temporaries_are_never_followed(server, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    report, counts = tmp_path / "r.json", tmp_path / "c.tsv"
    for planted in (tmp_path / "r.json.part", tmp_path / "c.tsv.part",
                    tmp_path / ".r.json.jg-1-0.part"):
        planted.symlink_to(victim)
    p = run(tmp_path / "t", "--json", str(report), "--counts", str(counts),
            server.url("/gen/a.txt"))
    assert p.returncode == 0, p.stderr
    assert victim.read_text() == "precious\n"
    json.loads(report.read_text())
    assert counts.read_text().count("\t") > 10


def test_a_recount_reads_only_the_file_that_was_checked(server, tmp_path):
    """Books counted again from their files: a name swapped for a symlink to
    a file outside, or for a FIFO, after the check is not read."""
    out = tmp_path / "out"
    lst = tmp_path / "urls.txt"
    lst.write_text("".join(server.url(f"/gen/f{i}.txt?size=400") + "\n" for i in range(3000)))
    first = run(out, "-i", str(lst))
    assert first.returncode == 0, first.stderr
    for f in os.listdir(out / ".juggle"):
        if f.startswith("counts."):
            os.unlink(out / ".juggle" / f)  # so every book is counted again
    secret = tmp_path / "secret"
    secret.write_text("topsecretpassword hunter2zz\n" * 20)
    manifest = out / ".juggle" / "manifest"
    before = os.stat(manifest).st_ino
    proc = subprocess.Popen([JUGGLE, "-q", "-w", "1", "-j", "1", "-o", str(out), "-i", str(lst),
                             "--counts", str(tmp_path / "c.tsv"), "--json",
                             str(tmp_path / "r.json")], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    while os.stat(manifest).st_ino == before and time.time() < deadline:
        time.sleep(0.002)  # the compacted manifest: every book was checked
    (out / "f2999.new").symlink_to(secret)
    os.rename(out / "f2999.new", out / "f2999.txt")
    os.unlink(out / "f2998.txt")
    os.mkfifo(out / "f2998.txt")
    _, err = proc.communicate(timeout=60)  # a FIFO read would hang here
    assert proc.returncode == 1, err
    assert "hunter2zz" not in (tmp_path / "c.tsv").read_text()
    books = {b["url"].split("/")[-1].split("?")[0]: b
             for b in json.loads((tmp_path / "r.json").read_text())["books"]}
    assert "a symlink, not the book juggle saved" in books["f2999.txt"]["error"]
    assert "not a regular file" in books["f2998.txt"]["error"]


def test_a_locked_directory_keeps_its_temporary_files(tmp_path):
    """A run in another PID namespace or on another host holds the lock: a
    second run is refused before it touches anything, whatever PIDs say."""
    out = tmp_path / "out"
    (out / ".juggle").mkdir(parents=True)
    live = out / ".jg-11-53d3644a-0.part"  # PID 11 of another namespace
    live.write_text("half a book")
    with open(out / ".juggle" / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        p = run(out, "http://127.0.0.1:9/x.txt")
        assert p.returncode == 2
        assert f"{out}: another juggle run is using this directory" in p.stderr
        assert live.read_text() == "half a book"
    # Once the lock is free, such leftovers are a dead run's: swept.
    p = run(out, "--retries", "0", "http://127.0.0.1:9/x.txt")
    assert not live.exists()


def test_an_output_directory_near_path_max(server, tmp_path):
    deep = tmp_path
    while len(str(deep)) < 4000:
        deep = deep / ("d" * 200)
    p = run(deep, "--json", str(tmp_path / "r.json"), server.url("/gen/a.txt"))
    assert p.returncode == 0, p.stderr
    assert book_files(deep) == ["a.txt"]
    assert json.loads((tmp_path / "r.json").read_text())["books"][0]["words"] > 100
    too_deep = str(deep / ("e" * 200))
    p = subprocess.run([JUGGLE, "-q", "-o", too_deep, server.url("/gen/a.txt")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "longer than 4095 bytes" in p.stderr, p.stderr


def test_a_file_dated_after_2262(server, tmp_path):
    """Nanoseconds since 1970 pass 2^63 in 2262: no overflow (UBSan runs
    this too), and the changed book is simply fetched again."""
    out = tmp_path / "out"
    url = server.url("/gen/far.txt")
    assert run(out, url).returncode == 0
    t = 10413792000  # 2300-01-01
    os.utime(out / "far.txt", (t, t))
    p = run(out, url)
    assert p.returncode == 0, p.stderr
    assert len(server.starts("/gen/far.txt")) == 2


def line(text):
    return f"{text}\t#{zlib.crc32(text.encode()):08x}\n"


HEADER = (f"H\tformat=1\tjuggle={VERSION}\tlist=0000000000000001\tlist_urls=2\t"
          "order=0000000000000001\tshard=0/0\taccepted=2\tcount=words")


def shard(tmp_path, name, *records, snapshot=None):
    d = tmp_path / name / ".juggle"
    d.mkdir(parents=True)
    (d / "manifest").write_text("".join(line(r) for r in records))
    if snapshot is not None:
        (d / "counts.1.tsv").write_text(snapshot)
    return tmp_path / name


def merge(*dirs):
    return subprocess.run([JUGGLE, "merge", *map(str, dirs)], capture_output=True, text=True,
                          timeout=30)


def test_merge_refuses_an_empty_or_headless_manifest(tmp_path):
    empty = tmp_path / "empty" / ".juggle"
    empty.mkdir(parents=True)
    (empty / "manifest").write_text("")
    torn = tmp_path / "torn" / ".juggle"
    torn.mkdir(parents=True)
    (torn / "manifest").write_text(f"H\tformat=1\tjuggle={VERSION}")
    for d in (empty.parent, torn.parent):
        p = merge(d)
        assert p.returncode == 2, (p.returncode, p.stderr)
        assert "no header (empty, or cut short)" in p.stderr


def test_merge_believes_no_forged_field(tmp_path):
    book = ("B\tindex=0\ttext=http://h/a\turl=http://h/a\tfile={file}\tbytes=10\tmtime_ns=1\t"
            "http=200\tattempts=1\twords=2\tdistinct=2\ttop=a:1 b:1")
    for name, record in [
        ("escape", book.format(file="../../../../etc/passwd")),
        ("absolute", book.format(file="/etc/passwd")),
        ("hidden", book.format(file=".juggle")),
        ("noerr", "F\tindex=0\ttext=http://h/a\turl=http://h/a\terror=HTTP 404\thttp=404"),
        ("signed", book.format(file="a").replace("bytes=10", "bytes=-5")),
        ("huge", book.format(file="a").replace("bytes=10", "bytes=99999999999999999999")),
        ("words", book.format(file="a").replace("words=2", "words=11")),
    ]:
        p = merge(shard(tmp_path, name, HEADER, record))
        assert p.returncode == 2, (name, p.returncode, p.stderr)
        assert "is not a record juggle writes" in p.stderr, (name, p.stderr)


def test_merge_refuses_counts_that_wrap(tmp_path):
    book = ("B\tindex={i}\ttext=http://h/{i}\turl=http://h/{i}\tfile={i}.txt\tbytes=10\t"
            "mtime_ns=1\thttp=200\tattempts=1\twords=0\tdistinct=0\ttop=")
    big = 2 ** 64 - 1
    table = f"a\t{big}\nb\t{big}\n"
    seal = f"S\tgen=1\tbooks=2\twords=0\tdistinct=0\tcrc={zlib.crc32(table.encode()):08x}"
    p = merge(shard(tmp_path, "wrap", HEADER, book.format(i=0), book.format(i=1), seal,
                    snapshot=table))
    assert p.returncode == 1, p.stderr
    assert "the counts add up past 2^64" in p.stderr


def test_a_forged_snapshot_is_counted_again(server, tmp_path):
    """A table whose totals agree with its seal but not with the books it
    covers (both rewritten, CRC and all) is not believed: the books are
    counted again from their files."""
    out = tmp_path / "out"
    url = server.url("/gen/f.txt")
    first = run(out, "--counts", str(tmp_path / "c1.tsv"), url)
    assert first.returncode == 0
    forged = "pwned\t33\n"
    (out / ".juggle" / "counts.1.tsv").write_text(forged)
    manifest = out / ".juggle" / "manifest"
    lines = manifest.read_text().splitlines()
    seal = f"S\tgen=1\tbooks=1\twords=33\tdistinct=1\tcrc={zlib.crc32(forged.encode()):08x}"
    manifest.write_text("".join(l + "\n" for l in lines[:-1]) + line(seal))
    p = run(out, "--counts", str(tmp_path / "c2.tsv"), url)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "c2.tsv").read_text() == (tmp_path / "c1.tsv").read_text()


def test_merge_dedupes_input_errors(tmp_path):
    """The same 150,000 input errors in two shards are one list of them
    (how long that takes is bench/hostile.py's: it was quadratic)."""
    errors = [line(f"E\tsource=l.txt\tline={i}\ttext=ftp://x/{i}\terror=scheme") for i in
              range(150000)]
    for k in (0, 1):
        d = tmp_path / f"s{k}" / ".juggle"
        d.mkdir(parents=True)
        header = HEADER.replace("shard=0/0", f"shard={k}/2").replace("accepted=2", "accepted=0")
        (d / "manifest").write_text(line(header) + "".join(errors))
    p = subprocess.run([JUGGLE, "merge", "-q", "--json", str(tmp_path / "m.json"),
                        str(tmp_path / "s0"), str(tmp_path / "s1")], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 1, p.stderr
    assert json.loads((tmp_path / "m.json").read_text())["totals"]["input_errors"] == 150000


def debug_build():
    """The worker's file-harming test hooks exist only in debug builds."""
    opts = json.load(open(os.path.join(os.path.dirname(JUGGLE), "meson-info",
                                       "intro-buildoptions.json")))
    return any(o["name"] == "buildtype" and o["value"].startswith("debug") for o in opts)


def test_a_book_cut_short_while_its_worker_reads_it_fails_and_the_run_goes_on(server, tmp_path):
    """Another program empties a saved book past 16 MiB while the worker
    that mapped it counts it (the debug builds' hook plays that program):
    the book fails with its file and the reason, the worker survives to
    count the next book, and the run exits 1."""
    if not debug_build():
        import pytest
        pytest.skip("a release build: no hook to cut a book with")
    big = server.url("/gen/big.txt?size=18000000")
    small = server.url("/gen/small.txt?size=3000")
    out = tmp_path / "out"
    env = dict(os.environ, JUGGLE_TEST_WORKER_CUT_MAPPED="1000000000000")
    p = subprocess.run([JUGGLE, "-q", "-w", "1", "-j", "1", "-o", str(out), "--json",
                        str(tmp_path / "r.json"), big, small], capture_output=True, text=True,
                       timeout=120, env=env)
    assert p.returncode == 1, p.stderr
    assert f"{out}/big.txt: cut short while it was read" in p.stderr, p.stderr
    books = {b["url"]: b for b in json.load(open(tmp_path / "r.json"))["books"]}
    assert books[big]["status"] != "ok" and "cut short while it was read" in books[big]["error"]
    assert books[small]["status"] == "ok" and books[small]["words"] > 0
