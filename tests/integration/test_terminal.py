"""The progress line as a user sees it: the real binary in a real terminal
(tmux, Debian's package), its pane captured again and again while books
come slowly from the test server. One line at a time, never wider than the
pane, a byte total that grows, a rate that follows the server's, no escape
with TERM=dumb, the summary on rows of its own, and a line that re-fits
when the pane is resized."""
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import JUGGLE

TMUX = shutil.which("tmux")
if TMUX is None:
    pytest.skip("tmux is not installed (Debian: tmux, scripts/deps.sh): no terminal to test "
                "the progress line in", allow_module_level=True)

FRAME = re.compile(r"^\[(\d+)/(\d+)\] ([0-9.]+)/([0-9.?]+)(\+?) (B|KiB|MiB|GiB)"
                   r"(?:\s+([0-9.]+) (B|KiB|MiB|GiB)/s)?(?:\s+ETA ([0-9:]+))?"
                   r"(?:\s+(\d+) active)?")
UNIT = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}
# Under the sanitizers everything is slower; the figures checked are rates
# the server sets, which do not change with that.
SLOW = 2 if os.environ.get("JG_SANITIZE", "none") not in ("", "none") else 1


FILLER = re.compile(r"^earlier output \d+$")


class Pane:
    """One tmux server of the test's own (its own socket: nothing of the
    user's), one window, one pane running `cmd` through a shell script.
    Lines of earlier output fill the pane first, so that juggle starts at
    its bottom, as in a terminal in use."""

    def __init__(self, tmp, cmd, width, height=20, env=None, wait_for_go=False):
        self.dir = tempfile.mkdtemp(prefix="jgtmux")  # a socket path must stay short
        self.sock = os.path.join(self.dir, "s")
        self.status = os.path.join(self.dir, "status")
        self.go = os.path.join(self.dir, "go")
        script = os.path.join(self.dir, "run.sh")
        exports = "".join(f"export {k}={shq(v)}\n" for k, v in (env or {}).items())
        wait = f"while [ ! -e {shq(self.go)} ]; do sleep 0.02; done\n" if wait_for_go else ""
        filler = f"i=0; while [ $i -lt {height + 5} ]; do i=$((i+1)); echo earlier output $i; done\n"
        with open(script, "w") as f:
            # `trap : INT`: a Ctrl-C typed in the pane ends juggle, not the
            # shell that reports its status (a caught signal is reset for
            # the child; an ignored one would be inherited).
            f.write(f"trap : INT\ncd {shq(tmp)}\n{exports}{filler}{wait}"
                    f"{' '.join(shq(a) for a in cmd)}\n"
                    f"echo $? > {shq(self.status)}.tmp && mv {shq(self.status)}.tmp "
                    f"{shq(self.status)}\nexec sleep 600\n")
        self.tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                  f"sh {shq(script)}")

    def tmux(self, *args):
        return subprocess.run([TMUX, "-S", self.sock, "-f", "/dev/null", *args],
                              capture_output=True, text=True, check=True, timeout=10).stdout

    def rows(self):
        """The pane's rows, its scrollback first (trailing blanks trimmed by
        tmux): a terminal that rewraps a frame when it narrows keeps the
        cursor's row and pushes the rows above it into the scrollback."""
        return self.tmux("capture-pane", "-p", "-S", "-", "-t", "t").rstrip("\n").split("\n")

    def lines(self):
        """The rows juggle wrote: not blank, not the earlier output."""
        return [r for r in self.rows() if r.strip() and not FILLER.match(r)]

    def done(self):
        return os.path.exists(self.status)

    def exit_status(self):
        with open(self.status) as f:
            return int(f.read())

    def start(self):
        open(self.go, "w").close()

    def close(self):
        subprocess.run([TMUX, "-S", self.sock, "kill-server"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def shq(s):
    return "'" + str(s).replace("'", "'\\''") + "'"


@pytest.fixture
def pane(tmp_path):
    made = []

    def make(cmd, width, **kw):
        p = Pane(str(tmp_path), cmd, width, **kw)
        made.append(p)
        return p
    yield make
    for p in made:
        p.close()


def watch(p, timeout=90, on_sample=None):
    """Captures the pane every 50 ms until the run ends: [(t, rows)]."""
    samples = []
    t0 = time.monotonic()
    while not p.done():
        assert time.monotonic() - t0 < timeout, "juggle did not finish"
        samples.append((time.monotonic(), p.rows()))
        if on_sample:
            on_sample(samples)
        time.sleep(0.05)
    return samples


def frames_in(rows):
    return [r for r in rows if FRAME.match(r)]


def parse(frame):
    m = FRAME.match(frame)
    done_bytes = float(m.group(3)) * UNIT[m.group(6)]
    rate = float(m.group(7)) * UNIT[m.group(8)] if m.group(7) else None
    return {"done": int(m.group(1)), "total": int(m.group(2)), "bytes": done_bytes,
            "known": m.group(4), "more": m.group(5) == "+", "unit": m.group(6),
            "rate": rate, "eta": m.group(9)}


def check_one_line(samples, width, other_lines=()):
    """While it runs: at most one frame, on the last row written, and no
    row but it and lines of other kinds (`other_lines` patterns): a frame
    that wrapped or a row left behind would show. Once the end's lines
    (`juggle: ...`) print, no frame is left anywhere. Returns the frames."""
    shown = []
    for _, rows in samples:
        lines = [r for r in rows if r.strip() and not FILLER.match(r)]
        frames = frames_in(lines)
        if any(r.startswith("juggle: ") for r in lines):
            assert not frames, f"a frame left among the last lines: {lines}"
            continue
        for r in lines:
            assert len(r) <= width - 1, f"row wider than {width - 1} columns: {r!r}"
        assert len(frames) <= 1, f"more than one progress row: {lines}"
        rest = [r for r in lines if r not in frames]
        for r in rest:
            assert any(re.search(o, r) for o in other_lines), f"a stray row: {r!r} in {lines}"
        if frames:
            assert lines[-1] == frames[0], f"the frame is not the last row: {lines}"
            shown.append(frames[0])
    return shown


def slow_books(server, n, size, rate, name="b"):
    return [server.url(f"/gen/{name}{i}.txt?size={size}&rate={rate}") for i in range(n)]


def list_file(tmp_path, urls):
    path = tmp_path / "urls.txt"
    path.write_text("\n".join(urls) + "\n")
    return str(path)


@pytest.mark.parametrize("width", [50, 120])
def test_one_line_fitted_to_the_pane_and_summary_apart(server, pane, tmp_path, width):
    """60 books (more than 50: the merged counts line prints, not one line
    per book), all at once, ~5 s each: one progress row at a time, never
    wider than the pane, bytes that grow to the known total (all 60 gave a
    Content-Length: 60 x 40000 B = 2.3 MiB, no `+` then, and an ETA), and
    once it ends no frame left: the counts and summary lines start rows of
    their own."""
    urls = slow_books(server, 60, 40000, 8000 // SLOW)
    # --top 0: the counts line is shorter than a frame, so a frame not
    # erased before it would show its tail after it.
    p = pane([JUGGLE, "-o", "out", "-j", "60", "--per-host", "60", "--top", "0", "-i",
              list_file(tmp_path, urls)], width)
    samples = watch(p)
    assert p.exit_status() == 0
    shown = check_one_line(samples, width)
    assert len(shown) >= 10, shown
    figures = [parse(f) for f in shown]
    got = [f["bytes"] for f in figures]
    assert got == sorted(got) and got[-1] > got[0] and len(set(got)) >= 3, got
    full = [f for f in figures if f["known"] == "2.3" and f["unit"] == "MiB" and not f["more"]]
    assert full, "the known total never reached 60 x 40000 B: " + repr(shown[-5:])
    assert any(f["eta"] for f in full), shown
    if width == 120:
        assert any(re.search(r" \d+ active$", f) for f in shown), shown
    print(f"\nwidth {width}: {shown[len(shown) // 2]!r}")
    with open(tmp_path / f"frame-{width}.txt", "w") as f:
        f.write(shown[len(shown) // 2] + "\n")
    final = p.lines()
    assert not frames_in(final), final
    counts = [i for i, r in enumerate(final) if r.startswith("juggle: ") and " words, " in r]
    summary = [i for i, r in enumerate(final) if r.startswith("juggle: 60 ok, 0 failed")]
    assert counts and summary, final
    assert re.match(r"^juggle: [\d,]+ words, [\d,]+ distinct; top 0:$", final[counts[0]]), final
    # Nothing glued before them: the row above each is a line of its own
    # (the summary's previous line, or none), never a leftover frame.
    for i in counts + summary:
        assert i == 0 or not FRAME.match(final[i - 1]), final


def test_current_rate_follows_a_throttle_change(server, pane):
    """One transfer at a time: a book at 300,000 B/s for 4 s, then one at
    30,000 B/s for 8 s. Six seconds into the slow one the shown rate is the
    slow one (within the window of 5 s), where a mean since the start
    would still be over four times higher."""
    fast, slow = 300000 // SLOW, 30000 // SLOW
    urls = [server.url(f"/gen/fast.txt?size={4 * fast}&rate={fast}"),
            server.url(f"/gen/slow.txt?size={8 * slow}&rate={slow}")]
    p = pane([JUGGLE, "-o", "out", "-j", "1", "--top", "1", *urls], 120)
    samples = watch(p)
    assert p.exit_status() == 0
    # The book's own line is shorter than a frame: had the frame not been
    # cleared before it, the frame's tail would follow it on its row.
    check_one_line(samples, 120, other_lines=[r"^(fast|slow)\.txt: [\d,]+ words, [\d,]+ distinct; \S+ \d+$"])
    t0 = samples[0][0]
    timed = [(t - t0, parse(f)) for t, rows in samples for f in frames_in(rows)]
    fast_part = [(t, f) for t, f in timed if f["done"] == 0 and t > 1.5]
    slow_part = [(t, f) for t, f in timed if f["done"] == 1]
    assert fast_part and slow_part, timed
    for _, f in fast_part:
        assert 0.7 * fast < f["rate"] < 1.3 * fast, (f, fast)
    switched = slow_part[0][0]
    late = [(t, f) for t, f in slow_part if t - switched >= 6.0]
    assert late, f"the slow book ended {slow_part[-1][0] - switched:.1f} s after the switch"
    for t, f in late:
        assert 0.7 * slow < f["rate"] < 1.3 * slow, (t - switched, f, slow)
        mean = f["bytes"] / t
        assert mean > 3 * f["rate"], (mean, f)


def test_dumb_terminal_gets_no_escape(server, pane, tmp_path):
    """TERM=dumb: the raw bytes the pane received (tmux pipe-pane) hold no
    escape at all, only carriage-return redraws cut to the pane; the pane
    still shows one line at a time."""
    raw = tmp_path / "raw"
    urls = slow_books(server, 60, 20000, 8000 // SLOW, name="d")
    p = pane([JUGGLE, "-o", "out", "-j", "60", "--per-host", "60", "-i",
              list_file(tmp_path, urls)], 50, env={"TERM": "dumb"}, wait_for_go=True)
    p.tmux("pipe-pane", "-t", "t", "-o", f"cat >> {shq(raw)}")
    p.start()
    samples = watch(p)
    assert p.exit_status() == 0
    shown = check_one_line(samples, 50)
    assert shown
    time.sleep(0.3)  # what pipe-pane has not written yet
    data = raw.read_bytes()
    assert b"\x1b" not in data, data[:300]
    redraws = [f for f in data.split(b"\r") if FRAME.match(f.decode(errors="replace"))]
    assert len(redraws) >= 5
    for f in redraws:
        assert len(f.rstrip(b" ")) <= 49, f
    assert b"juggle: 60 ok, 0 failed" in data


def test_escapes_on_a_terminal_are_erase_only(server, pane, tmp_path):
    """On a terminal with a name, the only escape juggle writes itself is
    ESC [ K (erase the line) when the pane keeps its size."""
    raw = tmp_path / "raw"
    urls = slow_books(server, 4, 20000, 10000 // SLOW, name="e")
    p = pane([JUGGLE, "-o", "out", *urls], 80, env={"TERM": "xterm"}, wait_for_go=True)
    p.tmux("pipe-pane", "-t", "t", "-o", f"cat >> {shq(raw)}")
    p.start()
    watch(p)
    assert p.exit_status() == 0
    time.sleep(0.3)
    data = raw.read_bytes()
    escapes = set(re.findall(rb"\x1b(?:\[[0-9;?]*[@-~]|.)", data, re.S))
    assert escapes == {b"\x1b[K"}, escapes
    assert data.count(b"\r\x1b[K[") >= 5


def test_refits_after_the_pane_is_resized(server, pane, tmp_path):
    """At 120 columns, then 50: the next frames fit 49 columns, and the
    wide frame the terminal rewrapped into two rows leaves none behind
    (SIGWINCH re-reads the width; each frame erases to the end of the
    screen)."""
    urls = slow_books(server, 60, 48000, 6000 // SLOW, name="r")
    p = pane([JUGGLE, "-o", "out", "-j", "60", "--per-host", "60", "-i",
              list_file(tmp_path, urls)], 120)
    resized = []

    def resize_once(samples):
        if resized:
            return
        frames = frames_in(samples[-1][1])
        if frames and len(frames[0]) > 50:  # two rows at 50 columns
            p.tmux("resize-window", "-t", "t", "-x", "50")
            resized.append((time.monotonic(), frames[0]))
    samples = watch(p, on_sample=resize_once)
    assert p.exit_status() == 0
    assert resized, "no wide frame to resize from"
    t_resize, wide = resized[0]
    after = [(t, rows) for t, rows in samples if t > t_resize + 0.5]
    assert len(after) >= 5, "the run ended too soon after the resize"
    shown = check_one_line(after, 50)
    assert shown and all(len(f) <= 49 for f in shown), shown
    assert p.tmux("display", "-p", "-t", "t", "#{window_width}").strip() == "50"


def test_never_drawn_with_quiet_or_stderr_elsewhere(server, pane, tmp_path):
    """-q: no frame on the terminal. stderr to a file (stdout still the
    terminal): no frame in the file."""
    urls = slow_books(server, 3, 10000, 10000 // SLOW, name="q")
    p = pane([JUGGLE, "-q", "-o", "out", *urls], 80)
    samples = watch(p)
    assert p.exit_status() == 0
    assert not any(frames_in(rows) for _, rows in samples)
    assert not p.lines()
    err = tmp_path / "err.txt"
    q = pane(["sh", "-c", f"{shq(JUGGLE)} -o out2 \"$@\" 2> {shq(err)}", "sh", *urls], 80)
    samples = watch(q)
    assert q.exit_status() == 0
    assert not any(frames_in(rows) for _, rows in samples)
    text = err.read_text()
    assert "\r" not in text and "\x1b" not in text and "3 ok, 0 failed" in text


def test_ctrl_c_in_the_terminal_says_what_is_safe_and_exits_130(server, tmp_path, pane):
    """Ctrl-C typed in the pane (tmux send-keys: the terminal's own SIGINT
    to the foreground job): the progress line goes, the interrupted line
    says what was saved, and the shell sees 130; SIGTERM gives 143."""
    urls = [server.url(f"/gen/cc{i}.txt?size=400000&rate=20000") for i in range(4)]
    urls.append(server.url("/gen/cc-quick.txt?size=1000"))
    p = pane([JUGGLE, "-o", str(tmp_path / "t"), *urls], 80, env={"TERM": "xterm"})
    t0 = time.monotonic()
    while not any(FRAME.match(r) for r in p.lines()):
        assert time.monotonic() - t0 < 20, p.lines()
        time.sleep(0.05)
    time.sleep(0.5)
    p.tmux("send-keys", "-t", "t", "C-c")
    t0 = time.monotonic()
    while not p.done():
        assert time.monotonic() - t0 < 20, p.lines()
        time.sleep(0.05)
    assert p.exit_status() == 130
    lines = p.lines()
    assert "juggle: interrupted: 1 saved, 4 not fetched; run again to resume" in lines, lines
    assert not any(FRAME.match(r) for r in lines), lines  # the line was erased
    assert not any("FAILED" in r for r in lines), lines
    # SIGTERM to the same kind of run, from outside the terminal.
    q = pane([JUGGLE, "-o", str(tmp_path / "u"), *[u + "&again=1" for u in urls]], 80,
             env={"TERM": "xterm"})
    t0 = time.monotonic()
    while not any(FRAME.match(r) for r in q.lines()):
        assert time.monotonic() - t0 < 20, q.lines()
        time.sleep(0.05)
    # The oldest match: juggle itself, not one of its forked workers.
    pid = subprocess.run(["pgrep", "-f", "-o", "again=1"], capture_output=True,
                         text=True).stdout.split()
    assert pid
    os.kill(int(pid[0]), 15)
    t0 = time.monotonic()
    while not q.done():
        assert time.monotonic() - t0 < 20, q.lines()
        time.sleep(0.05)
    assert q.exit_status() == 143
    assert any(r.startswith("juggle: interrupted: ") for r in q.lines()), q.lines()
