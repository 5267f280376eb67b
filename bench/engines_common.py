"""Shared vocabulary of the engines benchmark: units, the few facts about
the participants that every layer states (juggle's engines, curl's
--parallel cap, lesson.py's thread count), logging on stderr, the
formatting of durations, rates and sizes, and a least-squares slope.

The bottom layer: it imports nothing from the other engines_* modules.
"""

import sys

KiB = 1024
MiB = 1024 * KiB

CURL_PARALLEL_CAP = 300      # curl silently caps --parallel-max at 300
LESSON_THREADS = 20          # bench/lesson.py's ThreadPoolExecutor
ENGINES = ("loop", "threads", "serial")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def loud_failure(msg):
    bar = "!" * 78
    log(f"\n{bar}\nFAILURE: {msg}\n{bar}")


def finish(markdown, results, elapsed, failures, what):
    """A bench's last words: its tables, where they went, and its exit
    status (1 when any of `failures`, each a `what`)."""
    print(markdown)
    log(f"results in {results}; took {fmt_duration(elapsed)}")
    if failures:
        loud_failure(f"{len(failures)} {what}; see above")
        return 1
    return 0


def fmt_duration(seconds):
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}m{seconds % 60:02d}s"


def fmt_rate(bps):
    if not bps:
        return "unlimited"
    if bps >= MiB and bps % MiB == 0:
        return f"{bps // MiB} MiB/s"
    if bps % KiB == 0:
        return f"{bps // KiB} KiB/s"
    return f"{bps} B/s"


def fmt_size(n):
    if n >= MiB and n % MiB == 0:
        return f"{n // MiB} MiB"
    if n % KiB == 0:
        return f"{n // KiB} KiB"
    return f"{n} B"


def least_squares_slope(points):
    n = len(points)
    if n < 2:
        return None
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else None
