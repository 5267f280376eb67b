"""The scenarios of the engines benchmark: what is run and what it must show.

The plan (sweeps of cells, each answering one question), the participants
(each engine or tool: its command line and its predicted cost), how the
plan is taken through the runner (participants skipped and why, the
round-robin order, warm-up runs, timeouts, progress and ETA), and the
goals of the issue, judged on the medians of each cell.

Runs go through engines_runner's Bench (servers, one measured command);
nothing here formats tables or plots (engines_tables). Imports only
engines_common.
"""

import dataclasses
import math
import os
import statistics
import time

from engines_common import (CURL_PARALLEL_CAP, ENGINES, KiB, LESSON_THREADS, MiB, fmt_duration,
                            fmt_rate, fmt_size, least_squares_slope, log, loud_failure)

LESSON_LATENCY_MS = 30       # the "remote mirror" of the lesson cell
WARMUP_ROUND_MAX_S = 6.0     # a cell whose round is predicted shorter: one unmeasured round
WARMUP_MAX_S = 3.0           # else, when its quickest run is shorter: one unmeasured run of it

# Rough cost model, only to skip absurd cells and to estimate the time left.
STARTUP_S = 0.05             # exec, fork the workers, read the list
REQUEST_OVERHEAD_S = 0.0003  # connect + request + response on loopback
LINK_BPS = 1e9               # one connection at full speed
AGGREGATE_BPS = 700e6        # all connections together at full speed
COUNT_BPS = {"juggle": 250e6, "lesson": 25e6}   # counting, all cores

# Goals' thresholds (the issue's text).
SLOW_IDEAL_FACTOR = 1.25
MEMORY_SLOPE_FACTOR = 0.5
LESSON_SPEEDUP = 10.0
STALL_P99_LIMIT = 0.005
STALL_MAX_LIMIT = 0.020


# --------------------------------------------------------------------------
# The plan: cells grouped in sweeps, each answering one question.

@dataclasses.dataclass
class ServerSpec:
    kind: str                 # "testserver" or "nginx"
    delay_ms: int = 0         # first-byte delay (jg-testserver --delay)
    rate: int = 0             # bytes/s per connection, 0 = unlimited

    def describe(self):
        if self.kind == "nginx":
            return "nginx, full speed"
        return f"jg-testserver, {self.delay_ms} ms first-byte delay, {fmt_rate(self.rate)} per connection"


@dataclasses.dataclass
class Cell:
    key: str
    books: int
    size: int
    server: ServerSpec
    concurrency: int
    participants: list
    runs: int
    count: bool = False       # juggle counts words (else --no-count)
    sample: bool = False      # sample /proc/PID/fd and threads during runs
    x: object = None          # coordinate in its sweep
    required: tuple = ()      # participants a goal needs: never skipped
    notes: list = dataclasses.field(default_factory=list)
    skipped: dict = dataclasses.field(default_factory=dict)   # name -> reason
    predicted_skip: dict = dataclasses.field(default_factory=dict)  # name -> predicted s
    skip_cap: float = 0.0
    runs_done: list = dataclasses.field(default_factory=list)  # result dicts


@dataclasses.dataclass
class Group:
    key: str
    title: str
    question: str
    xlabel: str               # sweep axis, None for a single cell
    cells: list


def build_plan(quick, have_nginx):
    """The sweeps. Sizes and counts are chosen so that the full run takes
    under 15 minutes and --quick under 2 on a 2-core machine."""
    runs = 1 if quick else 3
    all_engines = list(ENGINES)
    peers = ["curl", "aria2c", "wget2"]
    groups = []

    # Goal 3: at full speed from nginx, is the loop cheaper than threads and
    # than curl --parallel for the same work? (1,000 books in quick mode
    # too: with fewer, a run lasts ~0.1 s and noise decides.)
    n = 1000
    fast = ServerSpec("nginx") if have_nginx else ServerSpec("testserver")
    cell = Cell("nginx", n, 400 * KiB, fast, 64, all_engines + peers, 3 if quick else 9,
                required=("loop", "threads") + tuple(peers))
    if not have_nginx:
        cell.notes.append("nginx is not installed: jg-testserver serves this cell instead")
    groups.append(Group("nginx", "Full speed from nginx (goal 3)",
                        "At full speed, where CPU is the cost, does the loop engine spend less "
                        "CPU than threads, and less wall and CPU than curl --parallel?",
                        None, [cell]))

    # Goal 1: a slow server, 1,000 transfers at once: does the loop keep all
    # of them moving, as fast as the bandwidth allows?
    cell = Cell("slow", 1000, 100 * KiB, ServerSpec("testserver", 0, 64 * KiB), 1000,
                all_engines + peers, 1 if quick else 5, required=("loop", "threads") + tuple(peers))
    groups.append(Group("slow", "Slow server, 1,000 at once (goal 1)",
                        "With 64 KiB/s per connection and 1,000 concurrent transfers, does the "
                        "loop finish near the ideal size/bandwidth + latency, and no later "
                        "than 1,000 threads?", None, [cell]))

    # Goals 2 and 6: what does one more concurrent transfer cost in memory,
    # and can one loop process hold 2,000?
    cells = [Cell(f"memory@{c}", c, 4 * KiB, ServerSpec("testserver", 500), c, all_engines, runs,
                  sample=True, x=c, required=("loop", "threads"))
             for c in (100, 500, 1000, 2000)]
    groups.append(Group("memory", "Memory per transfer (goals 2 and 6)",
                        "With every transfer waiting 500 ms for its first byte (books = "
                        "concurrency), how much peak RSS does each extra concurrent transfer "
                        "cost, and how many descriptors do 2,000 need?",
                        "concurrency", cells))

    # Goal 4: the whole job (download and count) against the lesson program
    # (1,000 books even in quick mode: the goal is stated for 1,000).
    n = 1000
    # juggle runs as shipped (-j 64, its default) and at lesson.py's 20;
    # lesson_async.py, the lesson's asyncio sequel, at 20 too.
    names = ["lesson.py", "lesson_async.py", "loop", f"loop -j {LESSON_THREADS}"]
    cell = Cell("lesson", n, 400 * KiB, ServerSpec("testserver", LESSON_LATENCY_MS), 64,
                names, runs, count=True, required=tuple(names))
    groups.append(Group("lesson", "Against the Python lesson (goal 4)",
                        f"Downloading and counting {n:,} books of 400 KiB from a mirror "
                        f"{LESSON_LATENCY_MS} ms away, how much sooner does juggle finish than "
                        "requests + ThreadPoolExecutor(20) + ProcessPoolExecutor(4), and than "
                        "the same job on an asyncio loop (aiohttp, 20 at once, the same "
                        "process pool)?", None, [cell]))

    # How does wall time fall with concurrency while latency dominates?
    n = 100 if quick else 300
    points = (1, 10, 100) if quick else (1, 3, 10, 30, 100, 300)
    cells = []
    for c in points:
        names = ["loop", "threads"] + (["serial"] if c == 1 else [])
        cells.append(Cell(f"concurrency@{c}", n, 16 * KiB, ServerSpec("testserver", 10), c, names,
                          runs, x=c))
    cells[0].notes.append("serial ignores the concurrency: measured once, at the first point")
    groups.append(Group("concurrency", "Wall time against concurrency",
                        f"{n} books of 16 KiB, 10 ms first-byte delay: how does wall time fall as "
                        "concurrency grows, and does each engine keep up?", "concurrency", cells))

    # How does throughput hold up as the server's latency grows?
    n = 64 if quick else 256
    points = (0, 50, 500) if quick else (0, 10, 50, 100, 500)
    cells = [Cell(f"latency@{ms}", n, 64 * KiB, ServerSpec("testserver", ms), 64, all_engines, runs,
                  x=ms) for ms in points]
    groups.append(Group("latency", "Throughput against latency",
                        f"{n} books of 64 KiB, 64 concurrent: what throughput does each engine "
                        "reach as the first-byte delay grows?", "latency ms", cells))

    # How does throughput hold up as per-connection bandwidth shrinks?
    # (jg-testserver sends a 20 ms burst first: above ~2 MiB/s a 64 KiB book
    # goes out in the burst, so the sweep starts lower.)
    points = (0, 256 * KiB, 64 * KiB) if quick else (0, 1 * MiB, 256 * KiB, 64 * KiB)
    cells = [Cell(f"bandwidth@{fmt_rate(r)}", n, 64 * KiB, ServerSpec("testserver", 0, r), 64,
                  all_engines, runs, x=fmt_rate(r)) for r in points]
    groups.append(Group("bandwidth", "Throughput against bandwidth",
                        f"{n} books of 64 KiB, 64 concurrent: what throughput does each engine "
                        "reach as the bandwidth per connection shrinks?", "bandwidth", cells))

    # What does each book cost, from 10 to 5,000 books?
    points = (10, 1000) if quick else (10, 100, 1000, 5000)
    cells = [Cell(f"books@{b}", b, 16 * KiB, ServerSpec("testserver"), 64, all_engines, runs, x=b)
             for b in points]
    groups.append(Group("books", "Cost against the number of books",
                        "Books of 16 KiB at full speed from jg-testserver, 64 concurrent: how do "
                        "time and memory grow with the number of books?", "books", cells))
    return groups


# --------------------------------------------------------------------------
# Participants: how each tool is run and what it is expected to cost.

class Participant:
    name = ""
    kind = "peer"             # "juggle" or "peer"
    engine = None
    python_module = None      # a Python program: the module it needs (else not run)
    words_on_stdout = False   # prints "words N" (the lesson programs)

    def concurrency(self, cell):
        return cell.concurrency

    def predict(self, cell):
        conc = max(1, min(self.concurrency(cell), cell.books))
        rounds = math.ceil(cell.books / conc)
        server = cell.server
        transfer = cell.size / server.rate if server.rate else cell.size / LINK_BPS
        per_request = server.delay_ms / 1000 + transfer + REQUEST_OVERHEAD_S
        total_bytes = cell.books * cell.size
        seconds = STARTUP_S + max(rounds * per_request, total_bytes / AGGREGATE_BPS)
        if cell.count:
            seconds += total_bytes / COUNT_BPS["juggle"]
        return seconds

    def argv(self, bench, cell, urls, out, report):
        raise NotImplementedError


class Juggle(Participant):
    kind = "juggle"

    def __init__(self, engine, jobs=None):
        self.engine = engine
        self.jobs = jobs
        self.name = engine if jobs is None else f"{engine} -j {jobs}"

    def concurrency(self, cell):
        return 1 if self.engine == "serial" else (self.jobs or cell.concurrency)

    def argv(self, bench, cell, urls, out, report):
        jobs = self.concurrency(cell)
        a = [bench.juggle, "-q", "-j", str(jobs), "--per-host", str(jobs),
             "-o", out, "--json", report, "-i", urls]
        if not cell.count:
            a.append("--no-count")
        if bench.engine_flag:
            a += ["--engine", self.engine]
            if self.engine == "threads" and bench.threads_flag:
                a += ["--threads", str(jobs)]
        return a


class Curl(Participant):
    name = "curl"

    def concurrency(self, cell):
        return min(cell.concurrency, CURL_PARALLEL_CAP)

    def predict(self, cell):
        return super().predict(cell) * 1.3

    def argv(self, bench, cell, urls, out, report):
        config = os.path.join(bench.work, "curl.cfg")
        with open(config, "w") as f:
            for url in bench.read_urls(urls):
                name = url.rsplit("/", 1)[1]
                f.write(f'url = "{url}"\noutput = "{os.path.join(out, name)}"\n')
        return ["curl", "-s", "-f", "--parallel", "--parallel-max", str(self.concurrency(cell)),
                "-K", config]


class Aria2(Participant):
    name = "aria2c"

    def predict(self, cell):
        return super().predict(cell) * 1.5 + cell.books * 0.0003

    def argv(self, bench, cell, urls, out, report):
        inp = os.path.join(bench.work, "aria2.txt")
        with open(inp, "w") as f:
            for url in bench.read_urls(urls):
                f.write(f"{url}\n  out={url.rsplit('/', 1)[1]}\n")
        return ["aria2c", "-q", "-i", inp, "-j", str(cell.concurrency), "-d", out,
                "--allow-overwrite=true", "--auto-file-renaming=false", "--file-allocation=none",
                "--console-log-level=error", "--summary-interval=0", "--download-result=hide",
                "--max-connection-per-server=1", "--split=1"]


class Wget2(Participant):
    name = "wget2"

    def predict(self, cell):
        return super().predict(cell) * 1.2

    def argv(self, bench, cell, urls, out, report):
        # Not recursive, so -P puts each file under its URL's basename.
        return ["wget2", "-q", "--max-threads", str(cell.concurrency), "-P", out, "-i", urls]


class Lesson(Participant):
    """bench/lesson.py: requests in 20 threads, then 4 counting processes."""
    name = "lesson.py"
    python_module = "requests"    # what it imports: not installed, not run
    words_on_stdout = True        # prints "words N" as its first line

    def concurrency(self, cell):
        return LESSON_THREADS

    def predict(self, cell):
        conc = min(LESSON_THREADS, cell.books)
        download = math.ceil(cell.books / conc) * (cell.server.delay_ms / 1000 + 0.002)
        return 0.3 + download + cell.books * cell.size / COUNT_BPS["lesson"]

    def argv(self, bench, cell, urls, out, report):
        return ["/usr/bin/python3", bench.lesson, urls, out]


class LessonAsync(Lesson):
    """bench/lesson_async.py: aiohttp on one asyncio loop, 20 books at once,
    each counted by the same 4 processes as soon as it is saved (so its
    counting overlaps the downloads; the prediction ignores that)."""
    name = "lesson_async.py"
    python_module = "aiohttp"

    def argv(self, bench, cell, urls, out, report):
        return ["/usr/bin/python3", bench.lesson_async, "-j", str(LESSON_THREADS), urls, out]


def make_participants():
    table = {e: Juggle(e) for e in ENGINES}
    table[f"loop -j {LESSON_THREADS}"] = Juggle("loop", LESSON_THREADS)
    for p in (Curl(), Aria2(), Wget2(), Lesson(), LessonAsync()):
        table[p.name] = p
    return table


PARTICIPANTS = make_participants()


# --------------------------------------------------------------------------
# Running the plan.

@dataclasses.dataclass
class Step:
    group: Group
    cell: Cell
    rep: int
    participant: Participant
    predicted: float


class Progress:
    """Elapsed time and an estimate of the rest, on stderr."""

    def __init__(self, steps):
        self.steps = steps
        self.done = 0
        self.actual = 0.0        # seconds spent in completed steps
        self.predicted = 0.0
        self.by_key = {}         # (cell, participant) -> [seconds]
        self.recorded = set()    # ids of finished steps
        self.start = time.monotonic()

    def record(self, step, seconds):
        self.done += 1
        self.recorded.add(id(step))
        self.actual += seconds
        self.predicted += step.predicted
        self.by_key.setdefault((step.cell.key, step.participant.name), []).append(seconds)

    def eta(self):
        factor = min(4.0, max(0.5, self.actual / self.predicted)) if self.predicted else 1.0
        left = 0.0
        for s in self.steps[self.done:]:
            known = self.by_key.get((s.cell.key, s.participant.name))
            left += statistics.median(known) if known else s.predicted * factor + 0.1
        return left

    def line(self, step, index_of_cell, n_cells, result):
        elapsed = time.monotonic() - self.start
        status = "ok" if result["ok"] else "FAILED"
        return (f"[{self.done}/{len(self.steps)}] cell {index_of_cell}/{n_cells} {step.cell.key} | "
                f"run {step.rep + 1}/{step.cell.runs} {step.participant.name}: "
                f"{result['wall']:.2f} s {status} | elapsed {fmt_duration(elapsed)}, "
                f"ETA {fmt_duration(self.eta())}")


def more_runs_for_short_cells(bench, groups):
    """Runs under half a second are noisy and cheap: 5 of them."""
    for g in groups:
        for c in g.cells:
            longest = max((PARTICIPANTS[n].predict(c) for n in c.participants
                           if bench.unavailable(PARTICIPANTS[n]) is None), default=1.0)
            if longest < 0.5:
                c.runs = max(c.runs, 5)


def skip_unrunnable(bench, groups, participants):
    """Marks each participant that cannot or should not run in a cell, with
    the reason, and prints it."""
    cap = 6.0 if bench.quick else 30.0
    for g in groups:
        for cell in g.cells:
            for name in cell.participants:
                p = participants[name]
                why = bench.unavailable(p)
                if why is None and name not in cell.required:
                    predicted = p.predict(cell)
                    if predicted * cell.runs > cap:
                        cell.predicted_skip[name] = predicted
                        cell.skip_cap = cap
                        why = (f"predicted {predicted:.0f} s per run x {cell.runs} runs, over the "
                               f"{cap:.0f} s allowed per participant and cell "
                               f"({cell.books} books, concurrency {min(p.concurrency(cell), cell.books)})")
                if why:
                    cell.skipped[name] = why
                    log(f"skip: {cell.key} {name}: {why}")


def plan_steps(bench, groups, participants):
    steps = []
    for g in groups:
        for cell in g.cells:
            names = [n for n in cell.participants if n not in cell.skipped]
            for rep in range(cell.runs):
                # Round-robin, starting one further each repetition.
                k = rep % len(names) if names else 0
                for name in names[k:] + names[:k]:
                    p = participants[name]
                    steps.append(Step(g, cell, rep, p, p.predict(cell)))
    return steps


def run_plan(bench, groups, participants):
    steps = plan_steps(bench, groups, participants)
    progress = Progress(steps)
    cells = [c for g in groups for c in g.cells]
    log(f"plan: {len(steps)} runs in {len(cells)} cells, predicted about "
        f"{fmt_duration(sum(s.predicted + 0.1 for s in steps))} of measuring")
    i = 0
    while i < len(steps):
        cell = steps[i].cell
        cell_steps = []
        while i < len(steps) and steps[i].cell is cell:
            cell_steps.append(steps[i])
            i += 1
        try:
            run_cell(bench, cell, cell_steps, progress, cells.index(cell) + 1, len(cells))
        except RuntimeError as e:      # a server or the runner broke: say so, go on
            msg = f"{cell.key}: cell abandoned: {e}"
            loud_failure(msg)
            bench.failures.append(msg)
            progress.done += sum(1 for s in cell_steps if id(s) not in progress.recorded)


def warm_up_steps(steps):
    """One round of every participant when a round is cheap, else one run
    of the quickest when that is cheap, else nothing."""
    first_round = [s for s in steps if s.rep == 0]
    if first_round and sum(s.predicted for s in first_round) < WARMUP_ROUND_MAX_S:
        return first_round
    quickest = min(steps, key=lambda s: s.predicted, default=None)
    return [quickest] if quickest and quickest.predicted < WARMUP_MAX_S else []


def run_cell(bench, cell, steps, progress, index, n_cells):
    corpus = bench.corpus(cell.size)
    expected = corpus.subset(cell.books)
    base, server = bench.servers.start(cell.server, corpus.root)
    bench.seq += 1
    urls = os.path.join(bench.work, f"urls-{bench.seq}.txt")
    with open(urls, "w") as f:
        for name, (rel, _, _) in expected.items():
            f.write(f"{base}/{rel}\n")

    def check(r, what):
        if not r["ok"]:
            msg = (f"{cell.key}, {what}: " + "; ".join(r["problems"])
                   + f"\n  command: {' '.join(r['argv'])}")
            loud_failure(msg)
            bench.failures.append(msg)
        if server.poll() is not None:
            raise RuntimeError(f"the server of cell {cell.key} died (status {server.returncode})")

    try:
        # The first runs after a server starts are often much slower (cold
        # server, never-touched tmpfs pages in this VM): unmeasured, but
        # checked, runs first.
        for warm in warm_up_steps(steps):
            r = bench.measure(warm.participant, cell, urls, expected, max(60.0, 5 * warm.predicted + 20))
            log(f"cell {index}/{n_cells} {cell.key} | warm-up {warm.participant.name}: {r['wall']:.2f} s")
            check(r, f"warm-up run of {warm.participant.name}")
        for step in steps:
            t = time.monotonic()
            timeout = max(60.0, 5 * step.predicted + 20)
            r = bench.measure(step.participant, cell, urls, expected, timeout)
            r["rep"] = step.rep
            cell.runs_done.append(r)
            progress.record(step, time.monotonic() - t)
            log(progress.line(step, index, n_cells, r))
            check(r, f"run {step.rep + 1}, {step.participant.name}")
    finally:
        bench.servers.stop(server)


# --------------------------------------------------------------------------
# Summaries and goals.

METRICS = ("wall", "cpu", "maxrss_kb", "nvcsw", "nivcsw", "stall_max", "stall_p99", "words",
           "retries")


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(cell):
    """participant -> medians over its successful runs (and counts)."""
    rows = {}
    for name in cell.participants:
        if name in cell.skipped:
            continue
        runs = [r for r in cell.runs_done if r["participant"] == name]
        good = [r for r in runs if r["ok"]]
        m = {k: median_or_none([r[k] for r in good]) for k in METRICS}
        m["fd_max"] = max((r["fd_max"] for r in good if r["fd_max"] is not None), default=None)
        m["threads_max"] = max((r["threads_max"] for r in good if r["threads_max"] is not None),
                               default=None)
        m["runs"] = len(runs)
        m["ok_runs"] = len(good)
        if m["wall"]:
            m["mb_per_s"] = cell.books * cell.size / m["wall"] / 1e6
        rows[name] = m
    base = rows.get("loop")
    for m in rows.values():
        ok = base and base["ok_runs"] and m["ok_runs"]
        m["wall_ratio"] = m["wall"] / base["wall"] if ok else None
        m["cpu_ratio"] = m["cpu"] / base["cpu"] if ok and base["cpu"] else None
    return rows



def goal(number, text, figures, status):
    return {"goal": number, "text": text, "figures": figures, "status": status}


def evaluate_goals(bench, groups):
    """The issue's goals, each with its measured figures and PASS/FAIL
    (N/A when what it compares could not be measured)."""
    by_key = {g.key: g for g in groups}
    summaries = {c.key: summarize(c) for g in groups for c in g.cells}
    goals = []

    def get(cell_key, name):
        m = summaries.get(cell_key, {}).get(name)
        return m if m and m["ok_runs"] else None

    # 1. Slow server.
    if "slow" in by_key:
        cell = by_key["slow"].cells[0]
        ideal = cell.size / cell.server.rate + cell.server.delay_ms / 1000
        loop, threads = get("slow", "loop"), get("slow", "threads")
        parts, status = [f"ideal = {cell.size} B / {cell.server.rate} B/s + "
                         f"{cell.server.delay_ms} ms = {ideal:.3f} s, bound {SLOW_IDEAL_FACTOR} x ideal = "
                         f"{SLOW_IDEAL_FACTOR * ideal:.3f} s"], "PASS"
        if loop:
            parts.append(f"loop {loop['wall']:.3f} s ({loop['wall'] / ideal:.2f} x ideal)")
            if loop["wall"] > SLOW_IDEAL_FACTOR * ideal:
                status = "FAIL"
        else:
            status = "FAIL"
        if threads and loop:
            parts.append(f"threads(1000) {threads['wall']:.3f} s")
            if loop["wall"] > threads["wall"]:
                status = "FAIL"
        else:
            parts.append("threads not measured: " + cell.skipped.get("threads", "no successful run"))
            status = "N/A" if status == "PASS" else status
        goals.append(goal(1, f"slow server ({cell.books} x {fmt_size(cell.size)} at "
                             f"{fmt_rate(cell.server.rate)}, concurrency {cell.concurrency}): loop wall "
                             f"<= threads wall and <= {SLOW_IDEAL_FACTOR} x ideal",
                          "; ".join(parts), status))

    # 2. Memory per transfer, and 6. 2,000 transfers in one process.
    if "memory" in by_key:
        slopes = {}
        for engine in ("loop", "threads"):
            pts = [(c.x, get(c.key, engine)["maxrss_kb"] * 1024) for c in by_key["memory"].cells
                   if get(c.key, engine)]
            slopes[engine] = least_squares_slope(pts)
        parts = []
        for engine, s in slopes.items():
            parts.append(f"{engine} {s / 1024:.1f} KB/transfer" if s is not None
                         else f"{engine} not measured")
        if slopes["loop"] is None:
            status = "FAIL"
        elif slopes["threads"] is None:
            status = "N/A"
        else:
            status = "PASS" if slopes["loop"] <= MEMORY_SLOPE_FACTOR * slopes["threads"] else "FAIL"
            parts.append(f"loop/threads = {slopes['loop'] / slopes['threads']:.2f}")
        points = ", ".join(str(c.x) for c in by_key["memory"].cells)
        goals.append(goal(2, f"memory per transfer (4 KiB books, 500 ms delay, concurrency {points}): "
                             f"slope(loop) <= {MEMORY_SLOPE_FACTOR} x slope(threads)",
                          "; ".join(parts), status))
        bench.memory_slopes = slopes

    # 3. nginx full speed.
    if "nginx" in by_key:
        cell = by_key["nginx"].cells[0]
        loop, threads, curl = get("nginx", "loop"), get("nginx", "threads"), get("nginx", "curl")
        parts, status = [], "PASS"
        if not loop:
            status = "FAIL"
            parts.append("loop: no successful run")
        else:
            parts.append(f"loop {loop['wall']:.3f} s wall, {loop['cpu']:.3f} s CPU")
            if threads:
                parts.append(f"threads {threads['wall']:.3f} s wall, {threads['cpu']:.3f} s CPU")
                if loop["cpu"] > threads["cpu"]:
                    status = "FAIL"
            else:
                parts.append("threads not measured: " + cell.skipped.get("threads", "no successful run"))
            if curl:
                parts.append(f"curl {curl['wall']:.3f} s wall, {curl['cpu']:.3f} s CPU")
                if loop["wall"] > curl["wall"] or loop["cpu"] > curl["cpu"]:
                    status = "FAIL"
            else:
                parts.append("curl not measured: " + cell.skipped.get("curl", "no successful run"))
            if status == "PASS" and not (threads and curl):
                status = "N/A"
        goals.append(goal(3, f"{cell.server.describe()} ({cell.books} x {fmt_size(cell.size)}, "
                             f"concurrency {cell.concurrency}, --no-count): loop CPU <= threads CPU; "
                             "loop wall and CPU <= curl --parallel", "; ".join(parts), status))

    # 4. Lesson (judged against lesson.py; its asyncio sequel is reported beside it).
    if "lesson" in by_key:
        cell = by_key["lesson"].cells[0]
        lesson, loop = get("lesson", "lesson.py"), get("lesson", "loop")
        if lesson and loop:
            speedup = lesson["wall"] / loop["wall"]
            figures = (f"lesson.py {lesson['wall']:.2f} s, juggle loop (-j {cell.concurrency}, its default; "
                       f"counting) {loop['wall']:.2f} s: {speedup:.2f}x shorter")
            same = get("lesson", f"loop -j {LESSON_THREADS}")
            if same:
                figures += (f"; at lesson.py's concurrency (-j {LESSON_THREADS}) {same['wall']:.2f} s, "
                            f"{lesson['wall'] / same['wall']:.2f}x")
            sequel = get("lesson", "lesson_async.py")
            if sequel:
                figures += (f"; lesson_async.py (asyncio, not judged) {sequel['wall']:.2f} s, "
                            f"{sequel['wall'] / loop['wall']:.2f}x juggle's")
            status = "PASS" if speedup >= LESSON_SPEEDUP else "FAIL"
        else:
            figures, status = "not measured: " + (cell.skipped.get("lesson.py") or "a run failed"), \
                "FAIL" if not loop else "N/A"
        goals.append(goal(4, f"lesson ({cell.books} x {fmt_size(cell.size)}, {cell.server.delay_ms} ms "
                             f"delay): juggle end-to-end >= {LESSON_SPEEDUP:.0f}x shorter than lesson.py",
                          figures, status))

    # 5. Loop stall, every cell.
    worst_max = worst_p99 = None
    worst_run = None
    for g in groups:
        for c in g.cells:
            for name, m in summaries[c.key].items():
                p = PARTICIPANTS[name]
                if p.kind != "juggle" or p.engine != "loop" or m["stall_max"] is None:
                    continue
                if worst_max is None or m["stall_max"] > worst_max[0]:
                    worst_max = (m["stall_max"], c.key, name)
                if worst_p99 is None or m["stall_p99"] > worst_p99[0]:
                    worst_p99 = (m["stall_p99"], c.key, name)
            for r in c.runs_done:
                if r["ok"] and r.get("stall_max") is not None and PARTICIPANTS[r["participant"]].engine == "loop":
                    if worst_run is None or r["stall_max"] > worst_run[0]:
                        worst_run = (r["stall_max"], c.key, r["rep"] + 1)
    if worst_max:
        status = "PASS" if worst_p99[0] < STALL_P99_LIMIT and worst_max[0] < STALL_MAX_LIMIT else "FAIL"
        figures = (f"worst cell medians: p99 {worst_p99[0] * 1e3:.2f} ms ({worst_p99[1]}), "
                   f"max {worst_max[0] * 1e3:.2f} ms ({worst_max[1]}); worst single run max "
                   f"{worst_run[0] * 1e3:.2f} ms ({worst_run[1]}, run {worst_run[2]})")
    else:
        figures, status = "no loop run reported its stall", "FAIL"
    goals.append(goal(5, f"loop stall p99 < {STALL_P99_LIMIT * 1e3:.0f} ms and max < "
                         f"{STALL_MAX_LIMIT * 1e3:.0f} ms in every cell (medians per cell)", figures, status))

    # 6. 2,000 concurrent transfers in one loop process.
    if "memory" in by_key:
        last = by_key["memory"].cells[-1]
        loop = get(last.key, "loop")
        soft_before, in_force = bench.nofile
        limit = f"ulimit -n in force {in_force}" + (
            f" (raised by the driver from {soft_before})" if in_force != soft_before else "")
        if loop:
            first = get(by_key["memory"].cells[0].key, "loop")
            per = ""
            if first and first["fd_max"] and last.concurrency > by_key["memory"].cells[0].concurrency:
                per = (f" (about {(loop['fd_max'] - first['fd_max']) / (last.concurrency - by_key['memory'].cells[0].concurrency):.1f}"
                       " per extra transfer)")
            figures = (f"{last.books} books, all ok; at most {loop['fd_max']} descriptors{per} open and "
                       f"{loop['threads_max']} thread(s) seen in the juggle process; "
                       f"peak RSS {loop['maxrss_kb'] / 1024:.1f} MB; {limit}")
            threads = get(last.key, "threads")
            if threads:
                figures += (f"; threads engine: {threads['fd_max']} descriptors, "
                            f"{threads['threads_max']} threads")
            status = "PASS" if loop["fd_max"] and loop["fd_max"] >= last.concurrency else "FAIL"
        else:
            figures, status = f"loop did not succeed at {last.concurrency}; {limit}", "FAIL"
        goals.append(goal(6, f"{last.concurrency} concurrent transfers in one loop process: "
                             "the descriptors it needed and the limit in force", figures, status))
    return goals, summaries
