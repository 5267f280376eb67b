"""The command line's contract: help, version, usage errors, progress."""
import os
import pty
import re
import subprocess

from conftest import JUGGLE


def test_help_and_version():
    h = subprocess.run([JUGGLE, "--help"], capture_output=True, text=True)
    assert h.returncode == 0
    for word in ("Input:", "Output:", "Network:", "Examples:", "--per-host", "--stall-timeout"):
        assert word in h.stdout
    v = subprocess.run([JUGGLE, "--version"], capture_output=True, text=True)
    assert v.returncode == 0
    # One source of truth: meson.build's project version, which the man
    # page must name as well.
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    with open(os.path.join(root, "meson.build")) as f:
        version = re.search(r"version: '([0-9.]+)'", f.read()).group(1)
    assert v.stdout.startswith(f"juggle {version}\n"), v.stdout
    with open(os.path.join(root, "doc", "juggle.1")) as f:
        assert f'"juggle {version}"' in f.readline()
    for lib in ("libcurl", "libev", "c-ares"):
        assert lib in v.stdout


def test_usage_errors_exit_2():
    for args, msg in [([], "no URLs given"), (["-j", "0", "x"], "--jobs: invalid value '0'"),
                      (["--max-size", "ten", "x"], "--max-size: invalid size 'ten'"),
                      (["--resolve", "nocolon", "x"], "--resolve: expected HOST:PORT:ADDR"),
                      (["--bogus"], "unrecognized option")]:
        p = subprocess.run([JUGGLE, *args], capture_output=True, text=True)
        assert p.returncode == 2, args
        assert msg in p.stderr, (args, p.stderr)
        assert p.stderr.startswith("juggle: ") or "unrecognized" in p.stderr


def test_output_directory_that_cannot_be_made(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    p = subprocess.run([JUGGLE, "-o", str(blocker / "sub"), "http://127.0.0.1:9/x"],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert f"juggle: {blocker}/sub: cannot create directory: Not a directory" in p.stderr


def test_no_progress_without_a_terminal(server, juggle):
    r = juggle(server.url("/gen/p.txt?delay=500"))
    assert "\r" not in r.stderr and "ETA" not in r.stderr
    assert "1 ok, 0 failed" in r.stderr
    q = juggle("-q", server.url("/gen/p2.txt"))
    assert q.stderr == ""


def test_progress_line_on_a_terminal(server, tmp_path):
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(JUGGLE, [JUGGLE, "-o", str(tmp_path / "t"), server.url("/gen/a.txt?delay=700"),
                           server.url("/gen/b.txt")], {**os.environ, "TERM": "xterm"})
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    text = out.decode()
    # One book in, the other not yet answered: no size known for it, so
    # no ETA (test_terminal.py has the line in detail).
    assert "\r\x1b[K[1/2] " in text and " active" in text
    assert "2 ok, 0 failed" in text
