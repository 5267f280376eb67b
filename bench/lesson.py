#!/usr/bin/python3
"""The well-known lesson program, done the original way: the reference that
bench/engines.py holds juggle against.

    lesson.py URL_LIST OUTPUT_DIR

Downloads every URL of URL_LIST (one per line) with `requests` in a
ThreadPoolExecutor of 20 threads and saves each body as
OUTPUT_DIR/<basename of the URL path>; then counts the words of every saved
file in a ProcessPoolExecutor of 4 processes (regular-expression words,
lower-cased, collections.Counter), merges the counts and prints

    words N
    distinct N
    top WORD N ... (ten most common)

Exit status 1 when any download failed (the others are still counted).
"""
import collections
import concurrent.futures
import os
import re
import sys
import urllib.parse

import requests

DOWNLOAD_THREADS = 20
COUNT_PROCESSES = 4
WORD = re.compile(r"\w+(?:'\w+)*")


def download(url, out_dir):
    """Fetches one URL and saves it under its basename; returns the path."""
    name = os.path.basename(urllib.parse.urlsplit(url).path) or "index.html"
    response = requests.get(url, timeout=60)
    response.raise_for_status()
    path = os.path.join(out_dir, name)
    with open(path, "wb") as f:
        f.write(response.content)
    return path


def count_words(path):
    """Counts the lower-cased words of one saved file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read().lower()
    return collections.Counter(WORD.findall(text))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: lesson.py URL_LIST OUTPUT_DIR")
    url_list, out_dir = sys.argv[1:]
    with open(url_list) as f:
        urls = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    os.makedirs(out_dir, exist_ok=True)

    paths, failed = [], 0
    with concurrent.futures.ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
        futures = {pool.submit(download, url, out_dir): url for url in urls}
        for future in concurrent.futures.as_completed(futures):
            try:
                paths.append(future.result())
            except Exception as e:  # report and go on, like the lesson
                failed += 1
                print(f"lesson.py: {futures[future]}: {e}", file=sys.stderr)

    total = collections.Counter()
    with concurrent.futures.ProcessPoolExecutor(COUNT_PROCESSES) as pool:
        for counts in pool.map(count_words, paths):
            total.update(counts)

    print(f"words {sum(total.values())}")
    print(f"distinct {len(total)}")
    print("top " + " ".join(f"{w} {n}" for w, n in total.most_common(10)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
