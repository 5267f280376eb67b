"""The tables and plots of the engines benchmark: how results are shown.

From the medians and goals computed by engines_scenarios (passed in, never
imported), it writes DIR/engines.md (the markdown tables, also printed),
DIR/engines.json (everything, raw runs included) and, per sweep plotted,
DIR/NAME.dat, NAME.gp and, when gnuplot is installed, NAME.png and
NAME.svg. Imports only engines_common.
"""

import dataclasses
import json
import os
import subprocess

from engines_common import (CURL_PARALLEL_CAP, ENGINES, LESSON_THREADS, fmt_duration, fmt_size,
                            least_squares_slope, log)


# --------------------------------------------------------------------------
# Reports: markdown, JSON, plots.

def fmt(v, spec=".3f", none="–"):
    return none if v is None else format(v, spec)


def table(cell_rows, xlabel, extra):
    """cell_rows: [(x, cell, participant name, medians)]."""
    head = ([xlabel] if xlabel else []) + ["engine/tool", "runs", "wall s", "CPU s", "peak RSS MB",
                                            "vol/invol ctx sw", "stall max/p99 ms", "wall/loop",
                                            "CPU/loop"] + [e[0] for e in extra]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for x, cell, name, m in cell_rows:
        label = name
        if name == "curl" and cell.concurrency > CURL_PARALLEL_CAP:
            label = f"curl (--parallel-max {CURL_PARALLEL_CAP}: curl's cap)"
        if not m["ok_runs"]:
            cols = [label, str(m["runs"]), "FAILED"] + ["–"] * (6 + len(extra))
        else:
            stall = (f"{m['stall_max'] * 1e3:.2f} / {m['stall_p99'] * 1e3:.2f}"
                     if m["stall_max"] is not None else "–")
            cols = [label, str(m["runs"]), fmt(m["wall"]), fmt(m["cpu"]), fmt(m["maxrss_kb"] / 1024, ".1f"),
                    f"{m['nvcsw']:.0f} / {m['nivcsw']:.0f}", stall,
                    fmt(m["wall_ratio"], ".2f"), fmt(m["cpu_ratio"], ".2f")]
            cols += [e[1](m) for e in extra]
            if m["ok_runs"] < m["runs"]:
                cols[0] += f" ({m['runs'] - m['ok_runs']} of {m['runs']} runs FAILED)"
        lines.append("| " + " | ".join(([str(x)] if xlabel else []) + cols) + " |")
    return "\n".join(lines)


EXTRA_COLUMNS = {
    "memory": [("fds max", lambda m: fmt(m["fd_max"], "d")),
               ("threads max", lambda m: fmt(m["threads_max"], "d"))],
    "latency": [("MB/s", lambda m: fmt(m.get("mb_per_s"), ".1f"))],
    "bandwidth": [("MB/s", lambda m: fmt(m.get("mb_per_s"), ".1f"))],
    "books": [("ms/book", lambda m: fmt(m["wall"] * 1e3 / m["books"], ".3f"))],
    "lesson": [("words", lambda m: fmt(m["words"], ",.0f"))],
}


def render_markdown(bench, groups, goals, summaries, elapsed, plots, participants):
    """participants: name -> participant (engines_scenarios.PARTICIPANTS)."""
    m = bench.machine
    runs_note = ("quick mode: 1 run per cell (3 in goal 3's cell), so most figures are single "
                 "runs, not medians" if bench.quick else
                 "medians of 3 runs per cell (5 in goal 1's cell and where a run is under 0.5 s, "
                 "9 in goal 3's)")
    out = ["# juggle download engines", "",
           f"Machine: {m['nproc']} cores (nproc), kernel {m['kernel']}, {m['cpu']}; {m['date']}. "
           f"{runs_note}; whole run {fmt_duration(elapsed)}.", ""]
    out.append("Versions: " + "; ".join(f"{k}: {v}" for k, v in bench.versions.items() if v) + ".")
    out.append("")
    missing = {e: why for e, why in bench.engines.items() if why}
    if missing:
        out.append("Engines not measured: " + "; ".join(f"{e} ({why})" for e, why in missing.items())
                   + ".")
        out.append("")
    out.append("Each cell starts its own server and begins with unmeasured (but checked) "
               "warm-up runs: a round of every participant when a round is short, else a run "
               "of the quickest. "
               "Every run starts with an empty output directory and must end with exactly the "
               "expected files (size and SHA-256 checked). juggle runs with `-q -j N --per-host N` "
               "and `--no-count` except in the lesson cell; `serial` runs with `-j 1`; `threads` "
               "with `--threads N`. A small C runner forks each command and waits for it with "
               "wait4: CPU is user+sys of the command and its children (juggle's workers, "
               "the lesson programs' pools), peak RSS is ru_maxrss (the largest single process of them), "
               "context switches likewise summed. Stall figures come from juggle's --json report "
               "(every engine has a loop thread for queues, names and saving; goal 5 judges "
               "the loop engine's).")
    if bench.runner.note:
        out.append("")
        out.append(f"Note: {bench.runner.note}.")
    out.append("")
    out.append("## Goals")
    out.append("")
    out.append("| # | goal | measured | result |")
    out.append("|---|---|---|---|")
    for g in goals:
        out.append(f"| {g['goal']} | {g['text']} | {g['figures']} | **{g['status']}** |")
    out.append("")
    for g in groups:
        out.append(f"## {g.title}")
        out.append("")
        out.append(g.question)
        out.append("")
        c0 = g.cells[0]
        out.append(f"Setup: {describe_setup(g)}.")
        out.append("")
        rows = []
        for c in g.cells:
            for name, med in summaries[c.key].items():
                med = dict(med, books=c.books)
                rows.append((c.x, c, name, med))
        out.append(table(rows, g.xlabel, EXTRA_COLUMNS.get(g.key, [])))
        out.append("")
        notes = []
        for c in g.cells:
            notes += c.notes
        notes += skip_notes(bench, g, participants)
        if g.key == "lesson":
            notes += lesson_word_notes(c0, summaries[c0.key])
        for n in dedupe(notes):
            out.append(f"- {n}")
        if notes:
            out.append("")
    if plots:
        out.append("## Plots")
        out.append("")
        for name, title in plots:
            out.append(f"- {title}: `{name}.png`, `{name}.svg` (data `{name}.dat`, script `{name}.gp`)")
        out.append("")
    out.append("## Failures")
    out.append("")
    if bench.failures:
        for f in bench.failures:
            out.append(f"- FAILURE: {f}")
    else:
        out.append("None: every run saved every book, with the right size and SHA-256, and nothing else.")
    out.append("")
    return "\n".join(out)


def describe_setup(group):
    """What the cells of a sweep share (the swept axis is left out)."""
    c0 = group.cells[0]
    sweeps_server = group.key in ("latency", "bandwidth")
    sweeps_books = group.key in ("books", "memory")
    sweeps_concurrency = group.key in ("concurrency", "memory")
    parts = ["jg-testserver" if sweeps_server else c0.server.describe(),
             f"books of {fmt_size(c0.size)}" if sweeps_books
             else f"{c0.books:,} books of {fmt_size(c0.size)}"]
    if not sweeps_concurrency:
        parts.append(f"concurrency {c0.concurrency}")
    parts.append("counting words" if c0.count else "--no-count")
    return "; ".join(parts)


def skip_notes(bench, group, participants):
    """One line per participant and reason, listing the sweep points; an
    engine juggle does not offer is said once at the top instead."""
    where = {}
    for c in group.cells:
        for name, why in c.skipped.items():
            p = participants[name]
            if p.kind == "juggle" and bench.engines.get(p.engine):
                continue
            key = (name, "predicted" if name in c.predicted_skip else why)
            where.setdefault(key, []).append(c)
    notes = []
    for (name, why), cells in where.items():
        at = f" at {group.xlabel} " + ", ".join(str(c.x) for c in cells) if group.xlabel else ""
        if why == "predicted":
            secs = ", ".join(f"{c.predicted_skip[name]:.0f} s" for c in cells)
            n = cells[0].runs
            why = (f"predicted {secs} per run, times {n} run{'s' if n != 1 else ''}, is over the "
                   f"{cells[0].skip_cap:.0f} s allowed per participant and cell")
        notes.append(f"skipped {name}{at}: {why}")
    return notes


def dedupe(items):
    seen, outl = set(), []
    for i in items:
        if i not in seen:
            seen.add(i)
            outl.append(i)
    return outl


def lesson_word_notes(cell, rows):
    lesson, loop = rows.get("lesson.py"), rows.get("loop")
    sequel = rows.get("lesson_async.py")
    notes = []
    if lesson and loop and lesson["words"] and loop["words"]:
        notes.append(f"word totals (they tokenize differently, not compared strictly): juggle "
                     f"{loop['words']:,.0f} (Unicode words, Project Gutenberg header and licence left "
                     f"out), lesson.py {lesson['words']:,.0f} (regex \\w+ over whole files): ratio "
                     f"{loop['words'] / lesson['words']:.3f}")
    if lesson and sequel and lesson["words"] and sequel["words"]:
        same = "the same total" if lesson["words"] == sequel["words"] else "a DIFFERENT total"
        notes.append(f"lesson_async.py counts as lesson.py does (same regex, same process pool): "
                     f"{sequel['words']:,.0f} words, {same}; it downloads with aiohttp on one "
                     f"asyncio loop, {LESSON_THREADS} books at once, and counts each book as soon "
                     "as it is saved")
    if loop:
        notes.append(f"`loop` is juggle as shipped (-j {cell.concurrency}, its default, with "
                     f"--per-host {cell.concurrency}); `loop -j {LESSON_THREADS}` matches lesson.py's "
                     f"{LESSON_THREADS} download threads; goal 4 is judged on `loop`")
    return notes


@dataclasses.dataclass
class PlotSpec:
    group: str
    name: str
    title: str
    xlabel: str
    ylabel: str
    value: object             # (medians, cell) -> y
    x_axis: str = "log"       # "log", "linear" or "labels" (one tick per point)
    logy: bool = True
    fit_lines: bool = False   # least-squares lines per engine


PLOTS = [
    PlotSpec("concurrency", "wall_vs_concurrency", "Wall time against concurrency",
             "concurrent transfers (-j); serial measured once (it ignores -j), drawn flat",
             "wall time, s", lambda m, c: m["wall"]),
    PlotSpec("memory", "rss_vs_concurrency", "Peak RSS against concurrency (4 KiB books, 500 ms delay)",
             "concurrent transfers (-j = books)", "peak RSS, MB", lambda m, c: m["maxrss_kb"] / 1024,
             x_axis="linear", logy=False, fit_lines=True),
    PlotSpec("latency", "throughput_vs_latency", "Throughput against first-byte latency",
             "first-byte delay, ms", "MB/s", lambda m, c: m["mb_per_s"], x_axis="labels"),
    PlotSpec("bandwidth", "throughput_vs_bandwidth", "Throughput against bandwidth per connection",
             "bandwidth per connection", "MB/s", lambda m, c: m["mb_per_s"], x_axis="labels"),
]


def plot_series(group, summaries, value):
    """Engine names and rows [x, y per engine] (None where not measured).
    An engine that the sweep runs at one point only, by design (serial in
    the concurrency sweep, which it ignores), is drawn flat across it."""
    names = [n for n in ENGINES if any(n in summaries[c.key] for c in group.cells)]
    rows = []
    for c in group.cells:
        row = [c.x]
        for n in names:
            m = summaries[c.key].get(n)
            row.append(value(m, c) if m and m["ok_runs"] else None)
        rows.append(row)
    for i, n in enumerate(names, start=1):
        listed_in = [c for c in group.cells if n in c.participants]
        ys = [r[i] for r in rows if r[i] is not None]
        if len(listed_in) == 1 and len(ys) == 1:
            for r in rows:
                r[i] = ys[0]
    return names, rows


def gnuplot_terminal(bench):
    if not bench.tools["gnuplot"]:
        return "png"
    terms = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    return "pngcairo" if "pngcairo" in terms.stdout + terms.stderr else "png"


def write_plots(bench, groups, summaries):
    """The .dat and .gp files, and PNG + SVG when gnuplot is installed."""
    by_key = {g.key: g for g in groups}
    terminal = gnuplot_terminal(bench)
    plots = []
    for spec in PLOTS:
        g = by_key.get(spec.group)
        if not g:
            continue
        names, rows = plot_series(g, summaries, spec.value)
        if not names:
            continue
        name = spec.name
        with open(os.path.join(bench.results, f"{name}.dat"), "w") as f:
            f.write("x " + " ".join(names) + "\n")
            for row in rows:
                x = f'"{row[0]}"' if spec.x_axis == "labels" else row[0]
                f.write(f"{x} " + " ".join("NaN" if v is None else f"{v:.6g}" for v in row[1:]) + "\n")
        axis = {"log": "set logscale x\nset autoscale xfix\nset offsets graph 0.03, graph 0.03, 0, 0",
                "linear": "set xrange [0:*]",
                "labels": "set offsets 0.3, 0.3, 0, 0"}[spec.x_axis]
        using = "0:i:xtic(1)" if spec.x_axis == "labels" else "1:i"
        plot = (f'plot for [i=2:{len(names) + 1}] "{name}.dat" using {using} '
                f'with linespoints lw 2 pt 7 title columnheader(i)')
        if spec.fit_lines:
            for i, engine in enumerate(names, start=1):
                pts = [(r[0], r[i]) for r in rows if r[i] is not None]
                slope = least_squares_slope(pts)
                if slope is None:
                    continue
                mx = sum(x for x, _ in pts) / len(pts)
                my = sum(y for _, y in pts) / len(pts)
                plot += (f', {my - slope * mx:.6g} + {slope:.6g} * x with lines dt 2 lc {i} '
                         f'title "{engine} fit: {slope * 1024:.1f} KB per transfer"')
        with open(os.path.join(bench.results, f"{name}.gp"), "w") as f:
            f.write(f"""# {spec.title}: run as `gnuplot {name}.gp` in this directory.
set datafile missing "NaN"
set title "{spec.title} ({bench.machine['nproc']} cores, {bench.machine['date'][:10]}, medians)" noenhanced
set xlabel "{spec.xlabel}" noenhanced
set ylabel "{spec.ylabel}" noenhanced
set key top left
set grid
{axis}
{"set logscale y" if spec.logy else "set yrange [0:*]"}
set terminal {terminal} size 900,560 noenhanced
set output "{name}.png"
{plot}
set terminal svg size 900,560 dynamic noenhanced
set output "{name}.svg"
replot
""")
        plots.append((name, spec.title))
        if bench.tools["gnuplot"]:
            r = subprocess.run(["gnuplot", f"{name}.gp"], cwd=bench.results, capture_output=True,
                               text=True)
            if r.returncode != 0:
                log(f"gnuplot {name}.gp failed: {r.stderr.strip()}")
    if not bench.tools["gnuplot"]:
        log("gnuplot is not installed: .dat and .gp written, no images")
    return plots


def write_json(bench, groups, goals, summaries, elapsed):
    doc = {
        "machine": bench.machine, "versions": bench.versions, "quick": bench.quick,
        "elapsed_seconds": elapsed, "engines_unavailable": {e: w for e, w in bench.engines.items() if w},
        "nofile": {"before": bench.nofile[0], "in_force": bench.nofile[1]},
        "goals": goals, "failures": bench.failures,
        "groups": [],
    }
    for g in groups:
        doc["groups"].append({
            "key": g.key, "title": g.title, "question": g.question, "axis": g.xlabel,
            "cells": [{
                "key": c.key, "x": c.x, "books": c.books, "size": c.size,
                "server": dataclasses.asdict(c.server), "concurrency": c.concurrency,
                "count": c.count, "runs": c.runs, "skipped": c.skipped, "notes": c.notes,
                "medians": summaries[c.key], "raw": c.runs_done,
            } for c in g.cells],
        })
    with open(os.path.join(bench.results, "engines.json"), "w") as f:
        json.dump(doc, f, indent=1)
