#!/usr/bin/python3
"""Compare juggle's download engines with each other and with public tools.

Run through bench/engines.sh, which installs the tools and builds juggle:

    engines.py --juggle J --server S --bookgen B --lesson L --lesson-async A --results DIR [--quick]

Engines: `loop` (one libev thread, curl multi socket), `threads` (one
blocking curl_easy_perform per pthread, --threads = concurrency) and
`serial` (one transfer at a time). References: curl --parallel, aria2c,
wget2, bench/lesson.py (requests + thread pool + process pool) and its
asyncio sequel bench/lesson_async.py (aiohttp on one loop + the same pool).

Every cell downloads a generated corpus (bookgen_dump, mirror layout) from
jg-testserver (first-byte delay, per-connection bandwidth) or from nginx
(full speed), several times, the participants taking turns within each
repetition. Each run gets a fresh output directory that must end up with
exactly the expected files, with the right sizes and SHA-256; anything else
is a FAILURE, printed loudly, and the exit status is 1 at the end.

Reported per participant and cell, medians over the runs: wall time,
user+sys CPU of the process and its children (wait4), peak RSS (ru_maxrss),
voluntary/involuntary context switches, juggle's loop stall (max and p99,
from its --json report), and ratios to the loop engine of the same cell.
The results go to DIR/engines.md, DIR/engines.json and DIR/*.{dat,gp,png,svg}.

This file is only the entry point (options and main). It puts together
three parts, each importing nothing but engines_common.py (units, shared
constants, logging, formatting):

    engines_runner.py     work dir, corpora, servers, one measured command
    engines_scenarios.py  the plan, the participants, running the plan through
                          the runner's Bench, the goals
    engines_tables.py     markdown, JSON and plots of the results
"""

import argparse
import atexit
import os
import signal
import sys
import time

from engines_common import finish, log
from engines_runner import Bench
from engines_scenarios import (PARTICIPANTS, build_plan, evaluate_goals, more_runs_for_short_cells,
                               run_plan, skip_unrunnable)
from engines_tables import render_markdown, write_json, write_plots


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--juggle", default="build-bench/juggle")
    ap.add_argument("--server", default="build-bench/tests/server/jg-testserver")
    ap.add_argument("--bookgen", default="build-bench/bench/bookgen_dump")
    ap.add_argument("--lesson", default="bench/lesson.py")
    ap.add_argument("--lesson-async", default="bench/lesson_async.py")
    ap.add_argument("--results", default="bench/results")
    ap.add_argument("--quick", action="store_true", help="fewer books, points and runs (< 2 min)")
    ap.add_argument("--only", help="comma-separated sweeps to run (nginx, slow, memory, lesson, "
                                   "concurrency, latency, bandwidth, books)")
    ap.add_argument("--participants", help="comma-separated engines/tools to run (default: all)")
    ap.add_argument("--runs", type=int, help="runs per cell instead of the default")
    ap.add_argument("--keep-work", action="store_true", help="keep the temporary directory")
    return ap.parse_args()


def main():
    args = parse_args()
    bench = Bench(args)
    atexit.register(bench.cleanup)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))
    os.makedirs(bench.results, exist_ok=True)
    bench.detect()
    for e, why in bench.engines.items():
        if why:
            log(f"engine {e} not measured: {why}")

    groups = build_plan(bench.quick, bool(bench.tools["nginx"]))
    if args.only:
        wanted = set(args.only.split(","))
        groups = [g for g in groups if g.key in wanted]
    if args.participants:
        wanted = set(args.participants.split(","))
        for g in groups:
            for c in g.cells:
                c.participants = [n for n in c.participants if n in wanted]
                c.required = tuple(n for n in c.required if n in wanted)
    if args.runs:
        for g in groups:
            for c in g.cells:
                c.runs = args.runs
    elif not bench.quick:
        more_runs_for_short_cells(bench, groups)
    skip_unrunnable(bench, groups, PARTICIPANTS)
    bench.make_corpora(groups)
    run_plan(bench, groups, PARTICIPANTS)

    elapsed = time.monotonic() - bench.started
    goals, summaries = evaluate_goals(bench, groups)
    plots = write_plots(bench, groups, summaries)
    elapsed = time.monotonic() - bench.started
    markdown = render_markdown(bench, groups, goals, summaries, elapsed, plots, PARTICIPANTS)
    with open(os.path.join(bench.results, "engines.md"), "w") as f:
        f.write(markdown)
    write_json(bench, groups, goals, summaries, elapsed)
    return finish(markdown, f"{bench.results} (engines.md, engines.json, plots)", elapsed,
                  bench.failures, "run(s) lost or corrupted books or failed")


if __name__ == "__main__":
    sys.exit(main())
