#!/usr/bin/python3
"""What counting and downloading cost juggle, against references measured in the same run.

Run through bench/count_cost.sh, which installs nginx and curl and builds
a release juggle in build-bench/:

    count_cost.py [--quick] [--runs N] [--only kjv43,bulk1000,small5000,corpus] [--corpus DIR]

Scenarios (the goals of the speed issue):

  kjv43      one 43 MB text (kjvbible.txt ×10, from --corpus, JUGGLE_CORPUS
             or ../shared/corpus; skipped, visibly, when it is absent):
             `juggle -w 1 --split whitespace --keep-boilerplate` downloading it
             from nginx and counting it, against bench/countwords_ref.c (written
             after the method of benhoyt/countwords' optimized.c, built here
             with cc -O2) counting the same file from disk. Goal: juggle wall /
             countwords wall <= 0.8; and the two full tables must be equal.
  bulk1000   1,000 generated books × 400 KiB from nginx, 64 at once:
             juggle counting, juggle --no-count, curl --parallel, and the
             counting alone on the same bytes (build-bench/bench/count_files_bench).
             Goals: count/no-count wall <= 1.15; count CPU / (curl CPU +
             counting CPU) <= 1.15; no-count wall / curl wall <= 0.8; no-count
             CPU / curl CPU <= 1.1.
  small5000  5,000 generated books × 4 KiB from nginx, 20 at once:
             juggle --no-count against curl --parallel. Goal: wall ratio <= 1.0.
  corpus     every .txt of the shared corpus (--corpus DIR; real Gutenberg
             books, several languages and encodings) from nginx, counted,
             with --checkpoint 0.1: the loop-stall goals alone.

For every juggle run the loop stall (max and p99, from its --json report)
is kept; goal: max < 5 ms, p99 < 1 ms. On a 2-core machine nginx, the
kernel's network softirqs and juggle's workers share the cores with the
loop and preempt it mid-iteration; --fifo-loop (root) runs juggle under
chrt -f 10 as a control, so that the stall it reports is its own work.

Every run starts from an empty output directory (in /tmp: the same
filesystem, said in the output) that must end up with exactly the expected
files, each with its size and SHA-256, and juggle must exit 0 with every
book ok and the right byte total; anything else is a FAILURE, printed
loudly, and the exit status is 1. Participants take turns within each
repetition, after one unmeasured warm-up round (none with --quick).
Figures are medians over the runs; ratios are ratios of those medians. CPU is user+sys of the
process and the children it reaped (wait4: juggle's workers included).
Results: bench/results/count_cost.md and count_cost.json.
"""

import argparse
import atexit
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from engines_common import KiB, finish, fmt_duration, fmt_size, log, loud_failure  # noqa: E402
from engines_runner import (Bench, Corpus, Runner, Servers, file_digest, first_line,  # noqa: E402
                            machine_info, raise_nofile_limit, read_juggle_report,
                            remove_dead_work_dirs, tail, verify_output)

SCENARIOS = ("kjv43", "bulk1000", "small5000", "corpus")
RUN_TIMEOUT_S = 180
WORK_PREFIX = "jg-count-cost."

# The goals.
KJV_RATIO_GOAL = 0.8
COUNT_WALL_GOAL = 1.15
COUNT_CPU_GOAL = 1.15
NOCOUNT_WALL_GOAL = 0.8
NOCOUNT_CPU_GOAL = 1.1
SMALL_WALL_GOAL = 1.0
STALL_MAX_GOAL = 0.005
STALL_P99_GOAL = 0.001

# What juggle is told in every run: no config file of the user's may change
# the job, and no progress line.
JUGGLE_BASE = ["--no-config", "-q"]


# --------------------------------------------------------------------------
# Setup: work directory, machine, servers.

class NginxSpec:
    kind = "nginx"



def make_work_dir(base):
    """In /tmp by default: the outputs land on /tmp's filesystem, where a
    user's would (--tmp /dev/shm puts them in memory instead)."""
    remove_dead_work_dirs(base, WORK_PREFIX)
    d = tempfile.mkdtemp(prefix=WORK_PREFIX, dir=base)
    os.chmod(d, 0o755)        # nginx's workers read the corpus
    with open(os.path.join(d, "driver.pid"), "w") as f:
        f.write(str(os.getpid()))
    return d


def filesystem_of(path):
    """(mount point, type, device, options) of the filesystem holding path."""
    path = os.path.realpath(path)
    best = ("/", "?", "?", "?")
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                dev, mnt, fstype, opts = line.split()[:4]
                mnt = mnt.replace("\\040", " ")
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[0]):
                    best = (mnt, fstype, dev, opts)
    except OSError:
        pass
    return best


def loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


class CostBench:
    """What engines_runner's Runner and Servers expect of a bench (work dir,
    a sequence number, the process groups of the measured run), plus this
    benchmark's own state."""

    def __init__(self, args):
        self.args = args
        self.juggle = os.path.abspath(args.juggle)
        self.bookgen = os.path.abspath(args.bookgen)
        self.count_files = os.path.abspath(args.count_files)
        self.server = None                      # jg-testserver: not used here
        self.results = os.path.abspath(args.results)
        self.runs = args.runs or (2 if args.quick else 5)
        self.warmup = not args.quick
        self.sync = not args.no_sync
        self.sync_seconds = []
        self.seq = 0
        self.current = None
        self.failures = []
        self.work = make_work_dir(args.tmp)
        self.runner = Runner(self.work)
        self.servers = Servers(self)
        self.started = time.monotonic()

    def juggle_argv(self):
        """juggle, or juggle under SCHED_FIFO with --fifo-loop: its loop then
        runs whenever it is runnable, so the stall it reports is its own
        work, not the time nginx, softirqs and the workers (which leave
        for SCHED_BATCH) took the core from it."""
        return (["chrt", "-f", "10"] if self.args.fifo_loop else []) + [self.juggle]

    cleanup = Bench.cleanup   # the same state: runs in flight, servers, work dir

    def fail(self, scenario, what):
        self.failures.append(f"{scenario}: {what}")
        loud_failure(f"{scenario}: {what}")

    def fresh(self, name):
        self.seq += 1
        return os.path.join(self.work, f"{name}-{self.seq}")


def versions(bench, cc):
    v = {"juggle": first_line([bench.juggle, "-V"]), "python3": platform.python_version()}
    v["curl"] = " ".join((first_line(["curl", "--version"]) or "").split()[:2]) or None
    v["nginx"] = (first_line(["nginx", "-v"]) or "").replace("nginx version: ", "") or None
    v["cc"] = first_line([cc, "--version"]) if cc else None
    return v


# --------------------------------------------------------------------------
# One measured run.

def measure(bench, scenario, name, make_argv, expected=None, stdout_path=None, check=None,
            juggle=False, books=None, total_bytes=None):
    """Runs make_argv(out, report) with a fresh, empty output directory;
    returns its figures and problems (printed loudly if any)."""
    out = bench.fresh("out")
    os.mkdir(out)
    report = bench.fresh("report") + ".json"
    argv = make_argv(out, report)
    keep_stdout = stdout_path is not None
    stdout_path = stdout_path or bench.fresh("stdout")
    stderr_path = bench.fresh("stderr")
    with open(stdout_path, "w") as so, open(stderr_path, "w") as se:
        u = bench.runner.run(argv, so, se, bench.work, RUN_TIMEOUT_S, False, bench)
    r = {"participant": name, "wall": u.wall, "user": u.user, "sys": u.sys, "cpu": u.user + u.sys,
         "maxrss_kb": u.maxrss_kb, "exit": u.exit, "problems": []}
    if u.timed_out:
        r["problems"].append(f"killed after {RUN_TIMEOUT_S} s")
    if u.exit != 0:
        r["problems"].append(f"exit status {u.exit}: {tail(stderr_path)}")
    if juggle:
        read_juggle_report(report, r)      # stall, words, failed books
        try:
            with open(report) as f:
                rep = json.load(f)
            totals = rep.get("totals", {})
            if totals.get("ok") != books:
                r["problems"].append(f"juggle reports {totals.get('ok')} books ok, expected {books}")
            if totals.get("bytes") != total_bytes:
                r["problems"].append(f"juggle reports {totals.get('bytes')} bytes, "
                                     f"expected {total_bytes}")
            r["loop_iterations"] = (rep.get("loop_stall") or {}).get("iterations")
            proc = rep.get("process") or {}
            if proc.get("user_seconds") is not None:   # the loop process alone
                r["loop_process_cpu"] = proc["user_seconds"] + proc.get("sys_seconds", 0)
        except (OSError, ValueError):
            pass     # read_juggle_report has said so
    if expected is not None:
        r["problems"] += verify_output(out, expected)
    if check:
        r["problems"] += check(r, out)
    r["ok"] = not r["problems"]
    if not r["ok"]:
        bench.fail(scenario, f"{name}: " + "; ".join(r["problems"]) + f"\n  argv: {' '.join(argv)}")
    r["argv"] = argv
    for p in [report, stderr_path] + ([] if keep_stdout else [stdout_path]):
        if os.path.exists(p):
            os.unlink(p)
    shutil.rmtree(out, ignore_errors=True)
    settle(bench)
    return r


def settle(bench):
    """Writes back what the run left (its output, now deleted, and the
    filesystem's journal), so that the next run does not pay for it: on a
    disk that work lands on whichever run comes next."""
    if bench.sync:
        t = time.monotonic()
        os.sync()
        bench.sync_seconds.append(time.monotonic() - t)


def rounds(bench, scenario, participants):
    """One unmeasured warm-up round (not with --quick), then bench.runs
    rounds; the starting participant turns each round, so that no one
    always runs after the same neighbour. participants: list of (name,
    callable returning a result)."""
    results = {name: [] for name, _ in participants}
    if bench.warmup:
        log(f"{scenario}: warm-up round")
        for name, run in participants:
            run()
    n = len(participants)
    for rep in range(bench.runs):
        order = participants[rep % n:] + participants[:rep % n]
        for name, run in order:
            r = run()
            r["rep"] = rep
            results[name].append(r)
            log(f"{scenario}: run {rep + 1}/{bench.runs} {name}: {r['wall']:.3f} s wall, "
                f"{r['cpu']:.3f} s CPU" + ("" if r["ok"] else "  FAILED"))
    return results


def medians(runs):
    ok = [r for r in runs if r["ok"]]
    if not ok:
        return None
    m = {"runs": len(ok), "failed_runs": len(runs) - len(ok)}
    for k in ("wall", "user", "sys", "cpu", "maxrss_kb", "stall_max", "stall_p99",
              "loop_process_cpu", "loop_iterations"):
        vals = [r[k] for r in ok if r.get(k) is not None]
        if vals:
            m[k] = statistics.median(vals)
            m[k + "_min"] = min(vals)
            m[k + "_max"] = max(vals)
    return m


def ratio(a, b):
    return a / b if a is not None and b else None


def goal(name, value, limit, op="<="):
    if value is None:
        verdict = "not measured"
    elif op == "<=":
        verdict = "met" if value <= limit else "not met"
    else:
        verdict = "met" if value < limit else "not met"
    return {"name": name, "value": value, "goal": f"{op} {limit:g}", "verdict": verdict}


def stall_goals(summary, names):
    """The loop-stall goals of each juggle participant, on its medians."""
    out = []
    for n in names:
        m = summary.get(n)
        out.append(goal(f"{n}: loop stall max, median of runs",
                        m.get("stall_max") if m else None, STALL_MAX_GOAL, "<"))
        out.append(goal(f"{n}: loop stall p99, median of runs",
                        m.get("stall_p99") if m else None, STALL_P99_GOAL, "<"))
    return out


def corpus_urls(bench, base, corpus, tag):
    path = os.path.join(bench.work, f"urls-{tag}.txt")
    with open(path, "w") as f:
        for name in corpus.order:
            f.write(f"{base}/{corpus.expected[name][0]}\n")
    return path


def curl_argv(bench, urls_path, parallel, tag):
    """curl --parallel with a config of url/output pairs, written per run
    (the output directory is new each time)."""
    with open(urls_path) as f:
        urls = [line.strip() for line in f if line.strip()]

    def make(out, report):
        cfg = os.path.join(bench.work, f"curl-{tag}.cfg")
        with open(cfg, "w") as f:
            for url in urls:
                f.write(f'url = "{url}"\noutput = "{os.path.join(out, url.rsplit("/", 1)[1])}"\n')
        return ["curl", "-s", "-f", "--parallel", "--parallel-max", str(parallel), "-K", cfg]
    return make


# --------------------------------------------------------------------------
# kjv43: one 43 MB text, juggle against countwords.

def read_table(path, sep):
    """word -> count of a "word SEP count" file, in its order."""
    table = {}
    with open(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            if not line:
                continue
            word, _, count = line.rpartition(sep)
            table[word] = int(count)
    return table


def compare_tables(juggle_path, ref_path):
    """None when equal, else what differs first (in countwords' order)."""
    ref = read_table(ref_path, b" ")
    jug = read_table(juggle_path, b"\t")
    counts = list(jug.values())
    if any(a < b for a, b in zip(counts, counts[1:])):
        return "juggle's --counts file is not ordered most frequent first"
    if ref == jug:
        return None
    for word, n in ref.items():
        if jug.get(word) != n:
            return (f"first differing word {word.decode(errors='replace')!r}: countwords {n}, "
                    f"juggle {jug.get(word)} ({len(ref)} vs {len(jug)} distinct)")
    extra = next(w for w in jug if w not in ref)
    return (f"juggle has a word countwords has not: {extra.decode(errors='replace')!r} "
            f"({jug[extra]}); {len(ref)} vs {len(jug)} distinct")


def corpus_dir(args):
    return os.path.abspath(args.corpus or os.environ.get("JUGGLE_CORPUS") or
                           os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        "../../shared/corpus"))


def scenario_kjv43(bench, cc):
    s = {"name": "kjv43", "title": "One 43 MB text: juggle -w 1 from nginx against countwords "
                                   "from disk"}
    kjv = os.path.join(corpus_dir(bench.args), "kjvbible.txt")
    if not os.path.isfile(kjv):
        s["skipped"] = f"no kjvbible.txt at {kjv} (set --corpus DIR or JUGGLE_CORPUS)"
        log(f"kjv43: SKIPPED: {s['skipped']}")
        return s
    if not cc:
        bench.fail("kjv43", "no C compiler (cc) to build bench/countwords_ref.c")
        s["skipped"] = "no C compiler"
        return s
    root = os.path.join(bench.work, "corpus-kjv43")
    os.mkdir(root)
    big = os.path.join(root, "kjv43.txt")
    one = open(kjv, "rb").read()
    with open(big, "wb") as f:
        for _ in range(10):
            f.write(one)
    size, digest = file_digest(big)
    settle(bench)
    expected = {"kjv43.txt": ("kjv43.txt", size, digest)}
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "countwords_ref.c")
    exe = os.path.join(bench.work, "countwords_ref")
    build = [cc, "-O2", "-std=c11", "-Wall", "-Wextra", "-o", exe, src]
    b = subprocess.run(build, capture_output=True, text=True)
    if b.returncode != 0 or b.stderr.strip():
        bench.fail("kjv43", f"{' '.join(build)}: {b.stderr.strip()}")
        s["skipped"] = "bench/countwords_ref.c did not build cleanly"
        return s
    s["countwords_build"] = " ".join([os.path.basename(cc)] + build[1:5] + ["bench/countwords_ref.c"])
    base, _ = bench.servers.start(NginxSpec(), root)
    url = f"{base}/kjv43.txt"
    s["input"] = f"{kjv} ×10 = {size:,} bytes"
    juggle_opts = ["-w", "1", "-j", "1", "--split", "whitespace", "--keep-boilerplate"]
    s["juggle_options"] = " ".join(juggle_opts + ["--counts FILE"])
    s["why_options"] = (
        "`--split whitespace` is countwords' rule (A-Z lower-cased, split on ASCII white space "
        "only); `--keep-boilerplate` because countwords counts every byte (the KJV has no "
        "Gutenberg markers, so nothing would be cut anyway); `-w 1`: one counting process, "
        "as countwords is one; `--counts FILE`: the full table written out, as countwords "
        "prints it. With no HTTP charset an ASCII text passes juggle's UTF-8 check unchanged")
    comparisons = []
    pending = {}      # rep -> countwords output, for the juggle run beside it

    def run_countwords():
        out_path = bench.fresh("countwords") + ".txt"
        r = measure(bench, "kjv43", "countwords_ref", lambda out, report: [exe, big],
                    stdout_path=out_path)
        pending["ref"] = out_path
        return r

    def run_juggle():
        counts = bench.fresh("counts") + ".tsv"

        def argv(out, report):
            return bench.juggle_argv() + JUGGLE_BASE + juggle_opts + ["--counts", counts, "-o", out,
                                                                 "--json", report, url]

        def check(r, out):
            ref = pending.get("ref")
            if not ref:       # countwords runs first in the first round: never here
                return ["no countwords table to compare with"]
            diff = compare_tables(counts, ref)
            comparisons.append(diff)
            os.unlink(counts)
            return []         # a difference is a finding, reported, not a lost book
        return measure(bench, "kjv43", "juggle -w 1", argv, expected, check=check, juggle=True,
                       books=1, total_bytes=size)

    s["load_before"] = loadavg()
    results = rounds(bench, "kjv43", [("countwords_ref", run_countwords), ("juggle -w 1", run_juggle)])
    s["load_after"] = loadavg()
    ref_words = sum(read_table(pending["ref"], b" ").values()) if pending.get("ref") else None
    s["runs"] = results
    s["summary"] = {n: medians(rs) for n, rs in results.items()}
    differing = [c for c in comparisons if c]
    s["tables_equal"] = not differing
    s["tables_compared"] = len(comparisons)
    s["tables_difference"] = differing[0] if differing else None
    s["countwords_words"] = ref_words
    jw = [r.get("words") for r in results["juggle -w 1"] if r.get("words") is not None]
    s["juggle_words"] = jw[0] if jw else None
    j, c = s["summary"].get("juggle -w 1"), s["summary"].get("countwords_ref")
    s["goals"] = [goal("juggle wall / countwords wall", ratio(j and j["wall"], c and c["wall"]),
                       KJV_RATIO_GOAL)]
    s["info"] = [("juggle CPU / countwords CPU", ratio(j and j["cpu"], c and c["cpu"]), "ratio")]
    s["goals"] += stall_goals(s["summary"], ["juggle -w 1"])
    return s


# --------------------------------------------------------------------------
# bulk1000 and small5000: many books from nginx.

def scenario_bulk(bench, key, books, size, parallel, with_count):
    s = {"name": key}
    what = f"{books:,} books × {fmt_size(size)} from nginx, {parallel} at once"
    s["title"] = what
    t = time.monotonic()
    root = os.path.join(bench.work, f"corpus-{key}")
    corpus = Corpus(bench.bookgen, root, books, size)
    settle(bench)
    log(f"{key}: corpus of {books} × {fmt_size(size)} made and hashed in "
        f"{time.monotonic() - t:.1f} s")
    expected = corpus.expected
    total = books * size
    s["input"] = f"{books:,} generated books (build-bench/bench/bookgen_dump) × {size:,} bytes"
    base, _ = bench.servers.start(NginxSpec(), root)
    urls = corpus_urls(bench, base, corpus, key)
    jopts = ["-j", str(parallel), "--per-host", str(parallel)]
    s["juggle_options"] = " ".join(jopts) + " (workers: the default, one per online CPU)"
    curl = curl_argv(bench, urls, parallel, key)

    def juggle_run(name, extra):
        def argv(out, report):
            return bench.juggle_argv() + JUGGLE_BASE + jopts + extra + ["-o", out, "--json", report,
                                                                   "-i", urls]
        return lambda: measure(bench, key, name, argv, expected, juggle=True, books=books,
                               total_bytes=total)

    participants = []
    if with_count:
        participants.append(("juggle count", juggle_run("juggle count", [])))
    participants.append(("juggle --no-count", juggle_run("juggle --no-count", ["--no-count"])))
    curl_name = f"curl --parallel-max {parallel}"
    participants.append((curl_name, lambda: measure(bench, key, curl_name, curl, expected)))
    s["load_before"] = loadavg()
    results = rounds(bench, key, participants)
    s["runs"] = results
    s["summary"] = {n: medians(rs) for n, rs in results.items()}
    summ = s["summary"]
    jn, cu = summ.get("juggle --no-count"), summ.get(curl_name)

    if with_count:
        s["tokenizer"] = tokenizer_cost(bench, key, corpus, root)
        tok = s["tokenizer"]
        jc = summ.get("juggle count")
        words = [r.get("words") for r in results["juggle count"] if r.get("words") is not None]
        s["juggle_words"] = words[0] if words else None
        if tok and s["juggle_words"] is not None and tok.get("words") != s["juggle_words"]:
            bench.fail(key, f"juggle counted {s['juggle_words']} words, count_files_bench "
                            f"{tok.get('words')} on the same books")
        tok_cpu = tok.get("cpu_seconds") if tok else None
        s["goals"] = [
            goal("count wall / no-count wall", ratio(jc and jc["wall"], jn and jn["wall"]),
                 COUNT_WALL_GOAL),
            goal("count CPU / (curl CPU + counting CPU)",
                 ratio(jc and jc["cpu"], cu and tok_cpu is not None and cu["cpu"] + tok_cpu),
                 COUNT_CPU_GOAL),
            goal("no-count wall / curl wall", ratio(jn and jn["wall"], cu and cu["wall"]),
                 NOCOUNT_WALL_GOAL),
            goal("no-count CPU / curl CPU", ratio(jn and jn["cpu"], cu and cu["cpu"]),
                 NOCOUNT_CPU_GOAL),
        ]
        s["info"] = [("count CPU - no-count CPU, s (counting alone: "
                      f"{fmt_s(tok_cpu)} s)", jc["cpu"] - jn["cpu"] if jc and jn else None, "s"),
                     ("juggle count: the loop process's own CPU, s (no workers)",
                      jc.get("loop_process_cpu") if jc else None, "s"),
                     ("juggle --no-count: the loop process's own CPU, s (no workers)",
                      jn.get("loop_process_cpu") if jn else None, "s")]
        s["goals"] += stall_goals(summ, ["juggle count", "juggle --no-count"])
    else:
        s["goals"] = [goal("no-count wall / curl wall",
                           ratio(jn and jn["wall"], cu and cu["wall"]), SMALL_WALL_GOAL)]
        s["info"] = [("no-count CPU / curl CPU", ratio(jn and jn["cpu"], cu and cu["cpu"]), "ratio"),
                     ("no-count user / curl user", ratio(jn and jn["user"], cu and cu["user"]),
                      "ratio"),
                     ("no-count sys / curl sys", ratio(jn and jn["sys"], cu and cu["sys"]), "ratio")]
        s["goals"] += stall_goals(summ, ["juggle --no-count"])
    s["load_after"] = loadavg()
    shutil.rmtree(root, ignore_errors=True)
    return s


def scenario_corpus(bench):
    """The real books, served as they are, counted with a checkpoint
    every 0.1 s: the run of the loop-stall goal that merges the most
    distinct words (many languages) and seals the most often."""
    s = {"name": "corpus", "title": "The shared corpus from nginx, counted, --checkpoint 0.1"}
    root = corpus_dir(bench.args)
    files = sorted(os.path.relpath(os.path.join(d, n), root)
                   for d, _, names in os.walk(root) for n in names if n.endswith(".txt"))
    if not files:
        s["skipped"] = f"no .txt files under {root} (set --corpus DIR or JUGGLE_CORPUS)"
        log(f"corpus: SKIPPED: {s['skipped']}")
        return s
    expected = {}
    for rel in files:
        size, digest = file_digest(os.path.join(root, rel))
        expected[os.path.basename(rel)] = (os.path.basename(rel), size, digest)
    if len(expected) != len(files):
        bench.fail("corpus", "two corpus files share a name: the outputs would collide")
        s["skipped"] = "colliding names"
        return s
    total = sum(e[1] for e in expected.values())
    s["input"] = f"{len(files)} files, {total:,} bytes, from {root}"
    base, _ = bench.servers.start(NginxSpec(), root)
    urls = os.path.join(bench.work, "urls-corpus.txt")
    with open(urls, "w") as f:
        for rel in files:
            f.write(f"{base}/{rel}\n")
    opts = ["--checkpoint", "0.1"]
    s["juggle_options"] = " ".join(opts) + " (otherwise the defaults: -j 64, a worker per CPU)"

    def argv(out, report):
        return bench.juggle_argv() + JUGGLE_BASE + opts + ["-o", out, "--json", report, "-i", urls]
    name = "juggle --checkpoint 0.1"
    s["load_before"] = loadavg()
    results = rounds(bench, "corpus", [(name, lambda: measure(
        bench, "corpus", name, argv, expected, juggle=True, books=len(files),
        total_bytes=total))])
    s["load_after"] = loadavg()
    s["runs"] = results
    s["summary"] = {n: medians(rs) for n, rs in results.items()}
    s["goals"] = stall_goals(s["summary"], [name])
    return s


def tokenizer_cost(bench, key, corpus, root):
    """Counting alone on the same files, one core, in the mode juggle
    counted them (the default: Unicode words, boilerplate cut off)."""
    if not os.access(bench.count_files, os.X_OK):
        bench.fail(key, f"{bench.count_files} is not built (ninja -C build-bench "
                        "bench/count_files_bench)")
        return None
    lst = os.path.join(bench.work, f"files-{key}.txt")
    with open(lst, "w") as f:
        for name in corpus.order:
            f.write(os.path.join(root, corpus.expected[name][0]) + "\n")
    argv = [bench.count_files, lst, str(bench.runs)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    if r.returncode != 0:
        bench.fail(key, f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
        return None
    tok = json.loads(r.stdout)
    tok["argv"] = "build-bench/bench/count_files_bench LIST " + str(bench.runs)
    log(f"{key}: counting alone: {tok['cpu_seconds']:.3f} s CPU, {tok['wall_seconds']:.3f} s wall "
        f"(median of {tok['runs']}, {tok['path']} path)")
    return tok


# --------------------------------------------------------------------------
# Tables.

def fmt_s(v, digits=3):
    return "-" if v is None else f"{v:.{digits}f}"


def fmt_ms(v):
    return "-" if v is None else f"{v * 1000:.2f}"


def fmt_ratio(v):
    return "-" if v is None else f"{v:.2f}"


def render(bench, scenarios, meta, elapsed):
    L = ["# What counting and downloading cost juggle (bench/count_cost.py)", ""]
    L.append(f"{meta['machine']['date']}; {meta['machine']['nproc']} cores, "
             f"{meta['machine']['cpu']}, kernel {meta['machine']['kernel']}; "
             f"load average at the start {meta['load_start']}, at the end {meta['load_end']} "
             "(other programs were sharing the machine when that is above 0).")
    L.append(f"juggle: {meta['versions']['juggle']} (release build); {meta['versions']['curl']}; "
             f"{meta['versions']['nginx']} (stock configuration, no charset: `text/plain`); "
             f"cc: {meta['versions']['cc']}.")
    fs = meta["output_fs"]
    where = "the one /tmp is on" if fs["same_as_tmp"] else "not /tmp's"
    L.append(f"Outputs and corpora in `{meta['work']}`: filesystem {fs['type']} ({fs['device']}, "
             f"`{fs['options']}`) mounted on {fs['mount']}, {where}.")
    warm = "after one warm-up round" if bench.warmup else "with no warm-up round (--quick)"
    L.append(f"Medians of {bench.runs} runs {warm}, participants taking turns; "
             "CPU = user+sys of the process and its reaped children (juggle's workers "
             "included); ratios are ratios of medians. " + meta["sync_note"] + " Command: `" +
             meta["command"] + "`; "
             f"took {fmt_duration(elapsed)}.")
    if meta.get("fifo_loop"):
        L.append("**--fifo-loop: juggle ran under `chrt -f 10`** (its workers leave for "
                 "SCHED_BATCH): a control for the loop stall, not the goals' run.")
    L.append("")
    all_goals = []
    for s in scenarios:
        L.append(f"## {s['name']}: {s['title']}")
        L.append("")
        if s.get("skipped"):
            L.append(f"**Skipped**: {s['skipped']}.")
            L.append("")
            continue
        L.append(f"Input: {s['input']}. juggle options: `{s['juggle_options']}` "
                 f"(and `{' '.join(JUGGLE_BASE)}`). Load average before {s['load_before']}, "
                 f"after {s['load_after']}.")
        if s.get("why_options"):
            L.append(f"Why these options: {s['why_options']}.")
        if s.get("countwords_build"):
            L.append(f"countwords: bench/countwords_ref.c, built with `{s['countwords_build']}`, "
                     "reading the file from disk (page cache), its table to a file.")
        L.append("")
        L.append("| participant | runs ok | wall s (min-max) | user s | sys s | CPU s | "
                 "loop stall max ms (worst) | stall p99 ms (worst) | loop iterations |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for name, m in s["summary"].items():
            if not m:
                L.append(f"| {name} | 0 | all runs failed | | | | | | |")
                continue
            stall = (f"{fmt_ms(m.get('stall_max'))} ({fmt_ms(m.get('stall_max_max'))})"
                     if "stall_max" in m else "")
            p99 = (f"{fmt_ms(m.get('stall_p99'))} ({fmt_ms(m.get('stall_p99_max'))})"
                   if "stall_p99" in m else "")
            failed = f" ({m['failed_runs']} failed)" if m["failed_runs"] else ""
            iterations = f"{m['loop_iterations']:,.0f}" if "loop_iterations" in m else ""
            L.append(f"| {name} | {m['runs']}{failed} | {fmt_s(m['wall'])} "
                     f"({fmt_s(m['wall_min'])}-{fmt_s(m['wall_max'])}) | {fmt_s(m['user'])} | "
                     f"{fmt_s(m['sys'])} | {fmt_s(m['cpu'])} | {stall} | {p99} | {iterations} |")
        tok = s.get("tokenizer")
        if tok:
            L.append(f"| counting alone (count_files_bench, 1 core, {tok['path']}) | {tok['runs']} | "
                     f"{fmt_s(tok['wall_seconds'])} | | | {fmt_s(tok['cpu_seconds'])} | | | |")
        L.append("")
        if s["name"] == "kjv43":
            if s["tables_equal"]:
                L.append(f"Full tables: **equal** in all {s['tables_compared']} runs of juggle "
                         f"(juggle `--counts` against countwords_ref's output; "
                         f"{s['countwords_words']:,} words).")
            else:
                L.append(f"Full tables: **not equal**: {s['tables_difference']}.")
            L.append("")
        if s.get("juggle_words") is not None and tok:
            L.append(f"Words counted: juggle {s['juggle_words']:,}, count_files_bench "
                     f"{tok['words']:,} on the same files.")
            L.append("")
        L.append("| ratio | value | goal | verdict |")
        L.append("|---|---|---|---|")
        for g in s["goals"]:
            stall = "stall" in g["name"]
            val = fmt_ms(g["value"]) + " ms" if stall and g["value"] is not None else \
                fmt_ratio(g["value"])
            gl = g["goal"]
            if stall:
                op, lim = gl.split()
                gl = f"{op} {float(lim) * 1000:g} ms"
            L.append(f"| {g['name']} | {val} | {gl} | {g['verdict']} |")
        for name, v, kind in s.get("info", []):
            L.append(f"| {name} | {fmt_ratio(v) if kind == 'ratio' else fmt_s(v)} | (no goal) | |")
        L.append("")
        all_goals += s["goals"]
    met = sum(g["verdict"] == "met" for g in all_goals)
    L.append(f"Goals met: {met} of {len(all_goals)} "
             f"({sum(g['verdict'] == 'not measured' for g in all_goals)} not measured). "
             "Loop-stall goals are judged on the median of the runs; the worst run is shown "
             "beside it (juggle's p99 is over its loop iterations: with few of them, as for one "
             "book, it is close to the max).")
    if bench.failures:
        L.append("")
        L.append(f"**FAILURES ({len(bench.failures)})**:")
        for f in bench.failures:
            L.append(f"- {f}")
    L.append("")
    return "\n".join(L)


# --------------------------------------------------------------------------

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--juggle", default="build-bench/juggle")
    ap.add_argument("--bookgen", default="build-bench/bench/bookgen_dump")
    ap.add_argument("--count-files", default="build-bench/bench/count_files_bench")
    ap.add_argument("--results", default="bench/results")
    ap.add_argument("--corpus", help="the shared corpus: kjvbible.txt and the books [JUGGLE_CORPUS, else "
                                     "../shared/corpus]")
    ap.add_argument("--only", help="comma-separated scenarios: " + ",".join(SCENARIOS))
    ap.add_argument("--runs", type=int, help="measured runs per participant [5; --quick: 2]")
    ap.add_argument("--quick", action="store_true", help="2 runs each and no warm-up round "
                                                         "(under 2 minutes)")
    ap.add_argument("--tmp", default="/tmp", help="where the temporary directory (corpora, "
                                                  "outputs) is made [/tmp]")
    ap.add_argument("--no-sync", action="store_true", help="no sync(2) after each run")
    ap.add_argument("--keep-work", action="store_true", help="keep the temporary directory")
    ap.add_argument("--fifo-loop", action="store_true",
                    help="run juggle under chrt -f 10 (root): a control for the loop stall "
                    "with nothing on the machine able to preempt its loop; not the goal's run")
    return ap.parse_args()


def main():
    args = parse_args()
    only = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = [o for o in only if o not in SCENARIOS]
    if unknown:
        log(f"count_cost.py: unknown scenario {', '.join(unknown)} (have {', '.join(SCENARIOS)})")
        return 2
    if args.runs is not None and not 1 <= args.runs <= 100:
        log("count_cost.py: --runs: expected 1 to 100")
        return 2
    for tool, path in (("juggle", args.juggle), ("bookgen_dump", args.bookgen)):
        if not os.access(path, os.X_OK):
            log(f"count_cost.py: no {tool} at {path}: run bench/count_cost.sh, which builds it")
            return 2
    if not shutil.which("nginx") or not shutil.which("curl"):
        log("count_cost.py: needs nginx and curl (bench/count_cost.sh installs them)")
        return 2
    # Everything goes to 127.0.0.1 directly: no proxy from the environment.
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        os.environ.pop(var, None)
    bench = CostBench(args)
    atexit.register(bench.cleanup)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(130))
    os.makedirs(bench.results, exist_ok=True)
    raise_nofile_limit()
    cc = shutil.which("cc") or shutil.which("gcc")
    mount, fstype, dev, opts = filesystem_of(bench.work)
    meta = {
        "machine": machine_info(len(os.sched_getaffinity(0))),
        "versions": versions(bench, cc),
        "work": bench.work,
        "output_fs": {"mount": mount, "type": fstype, "device": dev, "options": opts,
                      "same_as_tmp": filesystem_of("/tmp")[0] == mount},
        # bench/count_cost.sh says how it was started; else this script's argv.
        "command": os.environ.get("COUNT_COST_COMMAND") or " ".join(["bench/count_cost.py"] +
                                                                   sys.argv[1:]),
        "runs": bench.runs,
        "fifo_loop": bool(args.fifo_loop),
        "load_start": loadavg(),
    }
    log(f"count_cost.py: work directory {bench.work} ({fstype} on {mount}); {bench.runs} runs; "
        f"load average {meta['load_start']}")
    scenarios = []
    for key in only:
        t = time.monotonic()
        if key == "kjv43":
            scenarios.append(scenario_kjv43(bench, cc))
        elif key == "bulk1000":
            scenarios.append(scenario_bulk(bench, key, 1000, 400 * KiB, 64, True))
        elif key == "corpus":
            scenarios.append(scenario_corpus(bench))
        else:
            scenarios.append(scenario_bulk(bench, key, 5000, 4 * KiB, 20, False))
        bench.servers.stop_all()
        log(f"{key}: {time.monotonic() - t:.0f} s")
    meta["load_end"] = loadavg()
    if bench.sync:
        st = bench.sync_seconds
        meta["sync_note"] = (f"After each run its output is deleted and sync(2) called (not timed: "
                             f"median {statistics.median(st):.2f} s, at most {max(st):.2f} s), so "
                             "that no run pays for the writeback of the one before."
                             if st else "")
    else:
        meta["sync_note"] = "No sync(2) between runs (--no-sync)."
    elapsed = time.monotonic() - bench.started
    markdown = render(bench, scenarios, meta, elapsed)
    with open(os.path.join(bench.results, "count_cost.md"), "w") as f:
        f.write(markdown)
    with open(os.path.join(bench.results, "count_cost.json"), "w") as f:
        json.dump({"meta": meta, "elapsed_seconds": elapsed, "scenarios": scenarios,
                   "failures": bench.failures,
                   "goals": {"kjv43_ratio": KJV_RATIO_GOAL, "count_wall": COUNT_WALL_GOAL,
                             "count_cpu": COUNT_CPU_GOAL, "nocount_wall": NOCOUNT_WALL_GOAL,
                             "nocount_cpu": NOCOUNT_CPU_GOAL, "small_wall": SMALL_WALL_GOAL,
                             "stall_max_s": STALL_MAX_GOAL, "stall_p99_s": STALL_P99_GOAL}},
                  f, indent=1, default=str)
    return finish(markdown, f"{bench.results}/count_cost.md and count_cost.json", elapsed,
                  bench.failures, "failure(s)")


if __name__ == "__main__":
    sys.exit(main())
