"""Resuming over an output directory: a rerun fetches only what is missing,
a run killed at any moment and started again ends with the files and counts
of an uninterrupted run, and --refresh revalidates with conditional GETs."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import JUGGLE, book_files


def run(args, out, tmp_path, name):
    counts = tmp_path / f"{name}.tsv"
    report = tmp_path / f"{name}.json"
    p = subprocess.run([JUGGLE, "-q", "-o", str(out), "--counts", str(counts), "--json",
                        str(report), *args], capture_output=True, text=True, timeout=120)
    return p, counts, report


def contents(d):
    return {f: (d / f).read_bytes() for f in book_files(d)}


def got(server, since=0):
    """Targets the server answered with a body, from log entry `since` on."""
    return [e["target"] for e in server.log()[since:]
            if e["ev"] == "end" and e["status"] == 200]


def settle(out):
    """A worker of a killed run finishes the book it holds (saved whole,
    under its final name), then reads EOF and exits: wait until nothing is
    being written in `out` and its listing holds still."""
    last, deadline = None, time.time() + 10
    while time.time() < deadline:
        names = sorted(os.listdir(out)) if os.path.isdir(out) else []
        if names == last and not [n for n in names if n.startswith(".jg-")]:
            return
        last = names
        time.sleep(0.3)


def write_list(tmp_path, server, n, query="size=20000"):
    lst = tmp_path / "urls.txt"
    lst.write_text("".join(server.url(f"/gen/b{i}.txt?{query}") + "\n" for i in range(n)))
    return lst


def test_rerun_of_a_complete_directory_makes_no_request(server, tmp_path):
    lst = write_list(tmp_path, server, 30)
    first, c1, _ = run(["-i", str(lst)], tmp_path / "out", tmp_path, "first")
    assert first.returncode == 0, first.stderr
    before = len(server.log())
    again = subprocess.run([JUGGLE, "-o", str(tmp_path / "out"), "-i", str(lst), "--counts",
                            str(tmp_path / "again.tsv"), "--json", str(tmp_path / "again.json")],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert len(server.log()) == before, "a complete directory was fetched again"
    assert "30 books kept" in again.stderr
    assert (tmp_path / "again.tsv").read_bytes() == c1.read_bytes()
    books = json.loads((tmp_path / "again.json").read_text())["books"]
    assert all(b["reused"] and b["words"] > 0 and len(b["sha256"]) == 64 for b in books)


@pytest.mark.parametrize("mode", [[], ["--no-count"]])
def test_the_manifest_records_each_files_own_mtime(server, tmp_path, mode):
    """Without counting the session tells the run each file's mtime, read
    from the descriptor that wrote it (no stat by name); with counting the
    run looks at the file the workers saved. Both are what the file has,
    to the nanosecond, or a rerun would fetch every book again."""
    lst = write_list(tmp_path, server, 20)
    out = tmp_path / "out"
    p = subprocess.run([JUGGLE, "-q", "-o", str(out), "-i", str(lst), *mode],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    recorded = {}
    for line in (out / ".juggle" / "manifest").read_text().splitlines():
        fields = dict(f.split("=", 1) for f in line.split("\t")[1:-1])
        if line.startswith("B\t"):
            recorded[fields["file"]] = int(fields["mtime_ns"])
    assert sorted(recorded) == book_files(out)
    for name, ns in recorded.items():
        assert ns == os.stat(out / name, follow_symlinks=False).st_mtime_ns, name
    before = len(server.log())
    again = subprocess.run([JUGGLE, "-q", "-o", str(out), "-i", str(lst), *mode],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert got(server, before) == []


def test_kill9_at_any_moment_then_rerun_equals_an_uninterrupted_run(make_server, tmp_path):
    # Throttled, so that a kill lands with books in every state: queued,
    # downloading, with the workers, saved but unsealed.
    server = make_server("--rate", "100000")
    lst = write_list(tmp_path, server, 40, "size=30000")
    ref, ref_counts, _ = run(["-i", str(lst), "-j", "8"], tmp_path / "ref", tmp_path, "ref")
    assert ref.returncode == 0, ref.stderr
    for delay in (0.15, 0.5, 0.9):
        out = tmp_path / f"killed{delay}"
        p = subprocess.Popen([JUGGLE, "-q", "-o", str(out), "-i", str(lst), "-j", "8"],
                             stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        settle(out)
        done = set(book_files(out))
        assert len(done) < 40, "the run ended before the kill; slow the server down"
        since = len(server.log())
        again, counts, _ = run(["-i", str(lst), "-j", "8"], out, tmp_path, f"again{delay}")
        assert again.returncode == 0, again.stderr
        assert contents(out) == contents(tmp_path / "ref")
        assert counts.read_bytes() == ref_counts.read_bytes()
        fetched = {t.split("/")[-1].split("?")[0] for t in got(server, since)}
        assert not fetched & done, f"books saved before the kill were fetched again: {fetched & done}"
        assert fetched == {f"b{i}.txt" for i in range(40)} - done
        assert not [f for f in os.listdir(out) if f.startswith(".jg-")]


def test_refresh_sends_conditional_gets_and_304s_cost_no_body(server, tmp_path):
    lst = write_list(tmp_path, server, 20)
    first, c1, _ = run(["-i", str(lst)], tmp_path / "out", tmp_path, "first")
    assert first.returncode == 0, first.stderr
    since = len(server.log())
    fresh, c2, report = run(["-i", str(lst), "--refresh"], tmp_path / "out", tmp_path, "fresh")
    assert fresh.returncode == 0, fresh.stderr
    ends = [e for e in server.log()[since:] if e["ev"] == "end"]
    assert len(ends) == 20 and all(e["status"] == 304 and e["bytes"] == 0 for e in ends), ends
    starts = [e for e in server.log()[since:] if e["ev"] == "start"]
    assert len(starts) == 20 and all(e["inm"] and e["ims"] for e in starts), starts
    assert c2.read_bytes() == c1.read_bytes()
    books = json.loads(report.read_text())["books"]
    assert {b["http_code"] for b in books} == {304} and all(b["reused"] for b in books)


def test_refresh_replaces_a_book_that_changed(make_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    for i in range(3):
        (root / f"f{i}.txt").write_text(f"alpha beta gamma {i}\n" * 50)
    server = make_server("--root", str(root))
    lst = tmp_path / "urls.txt"
    lst.write_text("".join(server.url(f"/f{i}.txt") + "\n" for i in range(3)))
    first, _, _ = run(["-i", str(lst)], tmp_path / "out", tmp_path, "first")
    assert first.returncode == 0, first.stderr
    (root / "f1.txt").write_text("delta epsilon\n" * 70)
    os.utime(root / "f1.txt", (time.time() + 5, time.time() + 5))
    since = len(server.log())
    fresh, counts, _ = run(["-i", str(lst), "--refresh"], tmp_path / "out", tmp_path, "fresh")
    assert fresh.returncode == 0, fresh.stderr
    assert got(server, since) == ["/f1.txt"]
    assert (tmp_path / "out" / "f1.txt").read_bytes() == (root / "f1.txt").read_bytes()
    clean, clean_counts, _ = run(["-i", str(lst)], tmp_path / "clean", tmp_path, "clean")
    assert counts.read_bytes() == clean_counts.read_bytes()


def damage(path, how):
    data = path.read_bytes()
    if how == "torn":
        path.write_bytes(data[:-9])
    else:
        lines = data.split(b"\n")
        lines[2] = lines[2].replace(b"bytes=", b"bytes=9", 1)
        path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize("how", ["torn", "corrupt"])
def test_damaged_manifest_is_detected_and_rebuilt_from_the_files(server, tmp_path, how):
    lst = write_list(tmp_path, server, 12)
    first, c1, _ = run(["-i", str(lst)], tmp_path / "out", tmp_path, "first")
    assert first.returncode == 0, first.stderr
    manifest = tmp_path / "out" / ".juggle" / "manifest"
    damage(manifest, how)
    since = len(server.log())
    again, c2, _ = run(["-i", str(lst)], tmp_path / "out", tmp_path, "again")
    assert again.returncode == 0, again.stderr
    expect = "cut short" if how == "torn" else "fails its checksum; not trusted"
    assert f"{manifest}:" in again.stderr and expect in again.stderr, again.stderr
    assert got(server, since) == [], "the files were there: nothing to fetch"
    assert c2.read_bytes() == c1.read_bytes()
    # Rebuilt: a third run trusts it again and keeps everything.
    third = subprocess.run([JUGGLE, "-o", str(tmp_path / "out"), "-i", str(lst)],
                           capture_output=True, text=True, timeout=60)
    assert third.returncode == 0 and "12 books kept" in third.stderr, third.stderr


def test_tampered_snapshot_or_book_is_not_believed(server, tmp_path):
    lst = write_list(tmp_path, server, 10)
    first, c1, _ = run(["-i", str(lst)], tmp_path / "out", tmp_path, "first")
    assert first.returncode == 0, first.stderr
    snap = next((tmp_path / "out" / ".juggle").glob("counts.*.tsv"))
    snap.write_text(snap.read_text().replace("\t", "\t1", 1))
    again, c2, _ = run(["-i", str(lst)], tmp_path / "out", tmp_path, "again")
    assert again.returncode == 0, again.stderr
    assert "fails its checksum; counting the saved books again" in again.stderr
    assert c2.read_bytes() == c1.read_bytes()
    # A book changed on disk (another size) is fetched again.
    book = tmp_path / "out" / "b3.txt"
    original = book.read_bytes()
    book.write_bytes(b"not the book\n")
    since = len(server.log())
    third, c3, _ = run(["-i", str(lst)], tmp_path / "out", tmp_path, "third")
    assert third.returncode == 0, third.stderr
    assert got(server, since) == ["/gen/b3.txt?size=20000"]
    assert book.read_bytes() == original
    assert c3.read_bytes() == c1.read_bytes()


def test_failures_are_tried_again_and_other_lists_share_the_directory(server, tmp_path):
    lst = tmp_path / "urls.txt"
    good = server.url("/gen/ok.txt?size=5000")
    flaky = server.url("/gen/flaky.txt?size=5000&fail=1&fail_key=flaky-resume")
    lst.write_text(good + "\n" + flaky + "\n")
    first, _, _ = run(["-i", str(lst), "--retries", "0"], tmp_path / "out", tmp_path, "first")
    assert first.returncode == 1, first.stderr
    since = len(server.log())
    again, _, _ = run(["-i", str(lst), "--retries", "0"], tmp_path / "out", tmp_path, "again")
    assert again.returncode == 0, again.stderr
    assert [t.split("?")[0] for t in got(server, since)] == ["/gen/flaky.txt"]
    # A different list over the same directory: known books are still kept.
    other = tmp_path / "other.txt"
    other.write_text(good + "\n" + server.url("/gen/new.txt?size=5000") + "\n")
    since = len(server.log())
    third, _, _ = run(["-i", str(other)], tmp_path / "out", tmp_path, "third")
    assert third.returncode == 0, third.stderr
    assert [t.split("?")[0] for t in got(server, since)] == ["/gen/new.txt"]


def test_checkpoints_seal_counts_so_a_killed_run_counts_little_again(make_server, tmp_path):
    server = make_server("--rate", "100000")
    lst = write_list(tmp_path, server, 60, "size=20000")
    ref, ref_counts, _ = run(["-i", str(lst), "-j", "6"], tmp_path / "ref", tmp_path, "ref")
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "out"
    p = subprocess.Popen([JUGGLE, "-q", "-o", str(out), "-i", str(lst), "-j", "6",
                          "--checkpoint", "0.2"], stderr=subprocess.PIPE, text=True)
    manifest = out / ".juggle" / "manifest"
    deadline = time.time() + 20
    while time.time() < deadline:  # kill once two seals are on disk
        if manifest.exists() and manifest.read_text().count("\nS\t") >= 2:
            break
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    settle(out)
    saved = len(book_files(out))
    assert 0 < saved < 60, "kill too late or too early"
    again = subprocess.run([JUGGLE, "-o", str(out), "-i", str(lst), "-j", "6", "--counts",
                            str(tmp_path / "again.tsv")], capture_output=True, text=True,
                           timeout=60)
    assert again.returncode == 0, again.stderr
    kept = int(again.stderr.split(" books kept")[0].rsplit(" ", 1)[-1])
    recounted = int(again.stderr.split(" counted again")[0].rsplit(", ", 1)[-1])
    assert kept > 0, again.stderr            # sealed by a checkpoint: not counted again
    assert kept + recounted == saved, again.stderr
    assert (tmp_path / "again.tsv").read_bytes() == ref_counts.read_bytes()
    assert contents(out) == contents(tmp_path / "ref")


def test_a_second_run_over_a_busy_directory_is_refused(make_server, tmp_path):
    server = make_server("--delay", "3000")
    out = tmp_path / "out"
    first = subprocess.Popen([JUGGLE, "-q", "-o", str(out), server.url("/gen/slow.txt")],
                             stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while not server.starts() and time.time() < deadline:
        time.sleep(0.02)
    second = subprocess.run([JUGGLE, "-q", "-o", str(out), server.url("/gen/other.txt")],
                            capture_output=True, text=True, timeout=30)
    assert second.returncode == 2
    assert f"{out}: another juggle run is using this directory" in second.stderr
    _, err = first.communicate(timeout=30)
    assert first.returncode == 0, err
    assert book_files(out) == ["slow.txt"]


def clashing(server):
    """Two URLs whose file names clash (x.txt, x.txt.1 by position), and one more."""
    return (server.url("/a/x.txt?fill=a&size=3000"), server.url("/b/x.txt?fill=b&size=5000"),
            server.url("/gen/c.txt?size=4000"))


def second_run_matches_a_fresh_one(server, tmp_path, first_urls, second_urls, refetched):
    """Runs `first_urls`, then `second_urls` over the same directory: only
    `refetched` (paths) are fetched again, and files and counts equal a
    fresh run of `second_urls`."""
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("".join(u + "\n" for u in first_urls))
    second.write_text("".join(u + "\n" for u in second_urls))
    one, _, _ = run(["-i", str(first)], tmp_path / "out", tmp_path, "one")
    assert one.returncode == 0, one.stderr
    since = len(server.log())
    two, counts, _ = run(["-i", str(second)], tmp_path / "out", tmp_path, "two")
    assert two.returncode == 0, two.stderr
    assert sorted(t.split("?")[0] for t in got(server, since)) == refetched
    fresh, fresh_counts, _ = run(["-i", str(second)], tmp_path / "fresh", tmp_path, "fresh")
    assert counts.read_bytes() == fresh_counts.read_bytes()
    assert contents(tmp_path / "out") == contents(tmp_path / "fresh")


def test_a_reordered_list_neither_double_counts_nor_mixes_up_files(server, tmp_path):
    # Two URLs share a file name: x.txt and x.txt.1 follow the list's order.
    a, b, c = clashing(server)
    # The two whose names moved are fetched again; c, whose name held, is not.
    second_run_matches_a_fresh_one(server, tmp_path, [a, b, c], [b, a, c],
                                   ["/a/x.txt", "/b/x.txt"])


def test_a_book_of_another_list_under_the_same_name_is_not_taken(server, tmp_path):
    a, b = server.url("/a/x.txt?fill=a&size=3000"), server.url("/b/x.txt?fill=b&size=3000")
    m1, m2 = tmp_path / "m1.txt", tmp_path / "m2.txt"
    m1.write_text(a + "\n")
    m2.write_text(b + "\n")
    out = tmp_path / "out"
    for lst in (m1, m2):  # b's x.txt replaces a's
        r, _, _ = run(["-i", str(lst)], out, tmp_path, "r")
        assert r.returncode == 0, r.stderr
    since = len(server.log())
    third, counts, report = run(["-i", str(m1)], out, tmp_path, "third")
    assert third.returncode == 0, third.stderr
    assert [t.split("?")[0] for t in got(server, since)] == ["/a/x.txt"]
    assert (out / "x.txt").read_bytes() == server.fetch("/a/x.txt?fill=a&size=3000")
    fresh, fresh_counts, _ = run(["-i", str(m1)], tmp_path / "fresh", tmp_path, "fresh")
    assert counts.read_bytes() == fresh_counts.read_bytes()
    # Only this list's books are recorded: nothing stays pending, so the
    # directory merges as complete.
    m = subprocess.run([JUGGLE, "merge", "-q", str(out)], capture_output=True, text=True)
    assert m.returncode == 0, m.stderr
    assert open(out / ".juggle" / "manifest").read().count("\nB\t") == 1


def test_books_added_to_the_list_keep_the_sealed_ones(server, tmp_path):
    lst = write_list(tmp_path, server, 10)
    first, _, _ = run(["-i", str(lst)], tmp_path / "out", tmp_path, "first")
    assert first.returncode == 0, first.stderr
    grown = tmp_path / "grown.txt"
    grown.write_text(lst.read_text() + "".join(
        server.url(f"/gen/new{i}.txt?size=20000") + "\n" for i in range(3)))
    since = len(server.log())
    again = subprocess.run([JUGGLE, "-o", str(tmp_path / "out"), "-i", str(grown), "--counts",
                            str(tmp_path / "again.tsv")], capture_output=True, text=True,
                           timeout=60)
    assert again.returncode == 0, again.stderr
    assert "10 books kept, 0 counted again" in again.stderr, again.stderr
    assert sorted(t.split("?")[0] for t in got(server, since)) == \
        [f"/gen/new{i}.txt" for i in range(3)]
    fresh, fresh_counts, _ = run(["-i", str(grown)], tmp_path / "fresh", tmp_path, "fresh")
    assert (tmp_path / "again.tsv").read_bytes() == fresh_counts.read_bytes()


def test_a_new_book_that_takes_a_sealed_books_name_is_not_double_counted(server, tmp_path):
    a, b, c = clashing(server)
    # b now gets x.txt and a x.txt.1: a's sealed counts must not stay.
    second_run_matches_a_fresh_one(server, tmp_path, [a, c], [b, a, c],
                                   ["/a/x.txt", "/b/x.txt"])
