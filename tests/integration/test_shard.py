"""--shard K/N and `juggle merge`: array tasks of a scheduler split one list
between them, and their directories combine into the single run's result."""
import json
import os
import subprocess

from conftest import JUGGLE, book_files


def merge(*args):
    return subprocess.run([JUGGLE, "merge", *map(str, args)], capture_output=True, text=True,
                          timeout=60)


def write_list(server, tmp_path, n=60):
    urls = [server.url(f"/gen/s{i}.txt?size=3000") for i in range(n)] + ["7", "8", "9"]
    urls += [server.url("/missing/gone.txt?status=404"), "ftp://bad.test/x"]
    lst = tmp_path / "urls.txt"
    lst.write_text("\n".join(reversed(urls)) + "\n")  # order must not matter
    return lst


def book_view(report):
    """What a run says of each book, without what differs between runs."""
    keep = ("status", "http_code", "bytes", "error", "sha256", "words", "distinct", "top")
    return {b["url"]: {k: b.get(k) for k in keep} for b in report["books"]}


def test_four_shards_merge_into_the_single_run(server, tmp_path):
    lst = write_list(server, tmp_path)
    common = ["--mirror", server.base, "--retries", "0"]
    dirs = []
    procs = []
    for k in range(4):
        env = dict(os.environ, SLURM_ARRAY_TASK_ID=str(k))
        procs.append(subprocess.Popen(
            [JUGGLE, "--shard", "auto/4", "-o", str(tmp_path / f"shard{k}"), "-i", str(lst),
             *common], stderr=subprocess.PIPE, text=True, env=env))
    seen = []
    for k, p in enumerate(procs):
        _, err = p.communicate(timeout=60)
        # The 404 and the bad line fail in their own shard; the others are clean.
        assert p.returncode in (0, 1), err
        assert f"juggle: shard {k}/4: " in err
        files = book_files(tmp_path / f"shard{k}")
        assert files, f"shard {k} got nothing of 65 URLs"
        seen += files
        dirs.append(tmp_path / f"shard{k}")
    whole = subprocess.run([JUGGLE, "-q", "-o", str(tmp_path / "all"), "-i", str(lst),
                            "--counts", str(tmp_path / "all.tsv"),
                            "--json", str(tmp_path / "all.json"), *common],
                           capture_output=True, text=True, timeout=60)
    assert whole.returncode == 1, whole.stderr  # the 404 and the ftp line
    assert sorted(seen) == book_files(tmp_path / "all")
    assert len(seen) == 63
    for k, d in enumerate(dirs):
        for f in book_files(d):
            assert (d / f).read_bytes() == (tmp_path / "all" / f).read_bytes(), f

    m = merge("--counts", tmp_path / "m.tsv", "--json", tmp_path / "m.json", *dirs)
    assert m.returncode == 1, m.stderr  # the same two failures as the single run
    assert (tmp_path / "m.tsv").read_bytes() == (tmp_path / "all.tsv").read_bytes()
    single = json.loads((tmp_path / "all.json").read_text())
    merged = json.loads((tmp_path / "m.json").read_text())
    for key in ("urls", "ok", "failed", "input_errors", "bytes"):
        assert merged["totals"][key] == single["totals"][key], key
    assert merged["counts"] == single["counts"]
    assert book_view(merged) == book_view(single)
    assert merged["merged_shards"] == 4
    # Books come in list order: the list was written reversed.
    indexes = [b["url"] for b in merged["books"] if b["status"] == "ok"]
    assert indexes[0].endswith("/cache/epub/9/pg9.txt")
    assert "HTTP 404" in m.stderr and "gone.txt" in m.stderr


def test_merge_refuses_mismatched_shards_and_names_missing_ones(server, tmp_path):
    lst = write_list(server, tmp_path, n=12)
    common = ["--mirror", server.base, "--retries", "0", "-q"]
    four, _ = run_shards_allow_failures(tmp_path / "four", lst, 4, common)
    two, _ = run_shards_allow_failures(tmp_path / "two", lst, 2, common)
    other = tmp_path / "other.txt"
    other.write_text(server.url("/gen/x.txt") + "\n")
    diff, _ = run_shards_allow_failures(tmp_path / "diff", other, 4, common)

    m = merge(four[0], two[1])
    assert m.returncode == 2 and "different shard counts" in m.stderr, m.stderr
    m = merge(four[0], diff[1])
    assert m.returncode == 2 and "different list" in m.stderr, m.stderr
    m = merge(four[0], four[0])
    assert m.returncode == 2 and "are both shard 0/4" in m.stderr, m.stderr
    m = merge(four[0], four[2], four[3])
    assert m.returncode == 1 and "missing 1 of 4 shards: 1" in m.stderr, m.stderr
    m = merge(tmp_path)
    assert m.returncode == 2 and "no .juggle/manifest" in m.stderr, m.stderr

    # A shard killed before it sealed its counts is named, not merged blindly.
    manifest = four[1] / ".juggle" / "manifest"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(l for l in lines if not l.startswith("S\t")))
    m = merge(*four)
    assert m.returncode == 1 and "have no sealed counts" in m.stderr, m.stderr


def run_shards_allow_failures(base, lst, n, extra):
    base.mkdir()
    procs = []
    for k in range(n):
        procs.append(subprocess.Popen(
            [JUGGLE, "--shard", f"{k}/{n}", "-o", str(base / f"shard{k}"), "-i", str(lst),
             *extra], stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode in (0, 1), err
    return [base / f"shard{k}" for k in range(n)], None


def test_shard_usage_errors(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX")}
    for arg, why in (("4/4", "0 <= K < N"), ("auto/4", "neither SLURM_ARRAY_TASK_ID"),
                     ("2", "K/N or auto/N")):
        p = subprocess.run([JUGGLE, "--shard", arg, "http://x.test/a"], capture_output=True,
                           text=True, env=env)
        assert p.returncode == 2 and why in p.stderr, (arg, p.stderr)
