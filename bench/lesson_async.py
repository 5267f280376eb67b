#!/usr/bin/python3
"""The lesson program's sequel, "when to use async-await": the same job as
bench/lesson.py with asyncio and aiohttp downloading on one thread.

    lesson_async.py [-j N] [--per-host N] [-p N] [--timeout S] [--no-count]
                    URL_LIST OUTPUT_DIR

Downloads every URL of URL_LIST (one per line, '#' lines skipped) on one
event loop: one aiohttp session, at most N books in flight (an
asyncio.Semaphore, default 20 like lesson.py's threads) and at most
--per-host connections to one host (default N). Each body is streamed to
disk in 64 KiB chunks under a temporary name and renamed to
OUTPUT_DIR/<basename of the URL path> once complete, so a final name never
holds a partial file. Each saved book then goes to a ProcessPoolExecutor
of 4 processes that counts it exactly as lesson.py does (regular-expression
words, lower-cased, collections.Counter) while the loop goes on
downloading; the merged counts are printed as lesson.py prints them:

    words N
    distinct N
    top WORD N ... (ten most common; ties in arrival order, as in lesson.py)

--timeout S bounds connecting and each wait for data, as lesson.py's
requests.get(timeout=60) does (60 s by default), not a whole transfer.
Each failed URL is reported on stderr with its reason; the exit status is
1 when any failed (the others are still counted), 2 on a usage error.
"""
import argparse
import asyncio
import collections
import concurrent.futures
import os
import re
import signal
import sys
import tempfile
import urllib.parse

import aiohttp

PROG = "lesson_async.py"
CONCURRENCY = 20            # lesson.py's DOWNLOAD_THREADS
COUNT_PROCESSES = 4         # lesson.py's COUNT_PROCESSES
TIMEOUT_S = 60.0            # lesson.py's requests timeout
CHUNK = 64 * 1024
WORD = re.compile(r"\w+(?:'\w+)*")   # lesson.py's word


def count_words(path):
    """Counts the lower-cased words of one saved file (lesson.py's, as is)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read().lower()
    return collections.Counter(WORD.findall(text))


def output_name(url):
    """lesson.py's file name: the basename of the URL's path."""
    name = os.path.basename(urllib.parse.urlsplit(url).path) or "index.html"
    if name in (".", ".."):
        raise ValueError(f"its path ends in {name!r}, not a file name")
    return name


async def download(session, url, out_dir):
    """Streams one URL to OUTPUT_DIR/<name> through a temporary file;
    returns the final path. Raises on any failure, leaving no file."""
    name = output_name(url)
    async with session.get(url) as response:
        response.raise_for_status()
        fd, part = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".part")
        try:
            # Plain blocking writes on the loop thread: asyncio has no
            # asynchronous file I/O (aiofiles hands each write to a
            # thread), and a 64 KiB write into the page cache is shorter
            # than that hand-off.
            with os.fdopen(fd, "wb") as f:
                async for chunk in response.content.iter_chunked(CHUNK):
                    f.write(chunk)
            path = os.path.join(out_dir, name)
            os.replace(part, path)
        except BaseException:      # cancelled (Ctrl-C) too: no .part left behind
            os.unlink(part)
            raise
    return path


def describe(error):
    """The reason a URL failed, in words (some aiohttp errors have none)."""
    if isinstance(error, aiohttp.ClientResponseError):
        return f"HTTP {error.status} {error.message}".rstrip()
    if isinstance(error, asyncio.TimeoutError):
        return f"timed out: {error}" if str(error) else "timed out"
    if isinstance(error, aiohttp.ClientPayloadError):
        return f"body cut short: {error}"
    return str(error) or type(error).__name__


class Job:
    """The run's shared state, touched only from the loop's thread."""

    def __init__(self, options, pool):
        self.options = options
        self.pool = pool
        self.total = collections.Counter()
        self.failed = 0

    def fail(self, url, error):
        self.failed += 1
        print(f"{PROG}: {url}: {describe(error)}", file=sys.stderr, flush=True)

    async def book(self, session, slots, url):
        """One URL: download it holding a slot, then count it without one."""
        try:
            async with slots:
                path = await download(session, url, self.options.out_dir)
        except Exception as e:     # report and go on, like the lesson
            self.fail(url, e)
            return
        if self.pool is None:
            return
        try:
            counts = await asyncio.get_running_loop().run_in_executor(self.pool, count_words, path)
        except Exception as e:
            self.fail(url, e)
            return
        self.total.update(counts)

    async def run(self, urls):
        o = self.options
        # The semaphore bounds books in flight (tasks past it hold a socket
        # and an open file); the connector's limits bound connections, in
        # all and per host; idle ones are kept alive and reused, which
        # lesson.py's requests.get (a new session per call) never does.
        slots = asyncio.Semaphore(o.jobs)
        connector = aiohttp.TCPConnector(limit=o.jobs, limit_per_host=o.per_host)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=o.timeout, sock_read=o.timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            async with asyncio.TaskGroup() as tasks:
                for url in urls:
                    tasks.create_task(self.book(session, slots, url))


def start_workers(pool):
    """Starts the counting processes before the loop opens any socket.
    With the fork start method (Linux's default before Python 3.14) the
    pool forks all its workers at the first submit; forked later, each
    would hold a copy of every connection open at that moment, and a
    socket the loop closes would stay open, unfinished, in them."""
    pool.submit(int).result()


def ignore_interrupt():
    """In each counting process: Ctrl-C reaches the whole process group,
    and it is the parent's to handle (it cancels the downloads and shuts
    the pool down); a worker would only print a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def positive(kind):
    def parse(text):
        value = kind(text)
        if not value > 0:         # NaN too
            raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
        return value
    return parse


def parse_args():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("url_list", metavar="URL_LIST", help="one URL per line; '#' lines skipped")
    ap.add_argument("out_dir", metavar="OUTPUT_DIR")
    ap.add_argument("-j", "--jobs", type=positive(int), default=CONCURRENCY,
                    help=f"books in flight at once (default {CONCURRENCY}, lesson.py's threads)")
    ap.add_argument("--per-host", type=positive(int),
                    help="connections to one host at once (default: --jobs)")
    ap.add_argument("-p", "--processes", type=positive(int), default=COUNT_PROCESSES,
                    help=f"counting processes (default {COUNT_PROCESSES})")
    ap.add_argument("--timeout", type=positive(float), default=TIMEOUT_S, metavar="S",
                    help=f"seconds to connect and for each wait for data (default {TIMEOUT_S:g})")
    ap.add_argument("--no-count", action="store_true",
                    help="download only: no counting processes, nothing on stdout")
    o = ap.parse_args()
    o.per_host = o.per_host or o.jobs
    return o


def read_url_list(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def main():
    options = parse_args()
    try:
        urls = read_url_list(options.url_list)
        os.makedirs(options.out_dir, exist_ok=True)
    except OSError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    if options.no_count:
        job = Job(options, None)
        asyncio.run(job.run(urls))
        return 1 if job.failed else 0
    with concurrent.futures.ProcessPoolExecutor(options.processes,
                                                initializer=ignore_interrupt) as pool:
        start_workers(pool)
        job = Job(options, pool)
        asyncio.run(job.run(urls))
    total = job.total
    print(f"words {sum(total.values())}")
    print(f"distinct {len(total)}")
    print("top " + " ".join(f"{w} {n}" for w, n in total.most_common(10)))
    return 1 if job.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
