"""The command line's contract: help, version, usage errors, progress."""
import os
import pty
import re
import subprocess

import pytest

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
    # Every library that shapes results, with the version running now
    # (checked against the system's own where Python can ask it).
    for lib in ("libcurl ", "libev ", "c-ares ", "utf8proc ", "Unicode ", "zlib ", "brotli ",
                "zstd ", "OpenSSL ", "glibc "):
        assert lib in v.stdout, lib
    import ssl
    import zlib
    assert f"zlib {zlib.ZLIB_RUNTIME_VERSION}" in v.stdout
    assert ssl.OPENSSL_VERSION.split()[1] in v.stdout
    assert f"glibc {os.confstr('CS_GNU_LIBC_VERSION').split()[1]}" in v.stdout
    # --help fits 80 columns.
    assert max(len(l) for l in h.stdout.splitlines()) <= 80


def test_usage_errors_exit_2():
    for args, msg in [([], "no URLs given"), (["-j", "0", "x"], "--jobs: invalid value '0'"),
                      (["--max-size", "ten", "x"], "--max-size: invalid size 'ten'"),
                      (["--resolve", "nocolon", "x"], "--resolve: expected HOST:PORT:ADDR"),
                      (["--bogus=3"], "juggle: unknown option '--bogus'"),
                      (["-Z"], "juggle: unknown option '-Z'"),
                      (["x", "--json"], "juggle: --json needs a value"),
                      (["x", "-o"], "juggle: -o needs a value"),
                      (["--cacert", "/no/such.pem", "x"],
                       "juggle: --cacert /no/such.pem: cannot read it: No such file"),
                      (["--mirror", "gopher://x/", "84"], "--mirror: expected an http"),
                      (["--engine", "threads", "--limit-rate", "1M", "x"],
                       "juggle: --limit-rate needs the loop engine")]:
        p = subprocess.run([JUGGLE, *args], capture_output=True, text=True)
        assert p.returncode == 2, args
        assert msg in p.stderr, (args, p.stderr)
        # One prefix for every message: never getopt's "argv[0]:" ones.
        assert p.stderr.startswith("juggle: "), p.stderr
        assert JUGGLE not in p.stderr


def test_output_directory_that_cannot_be_made(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    p = subprocess.run([JUGGLE, "-o", str(blocker / "sub"), "http://127.0.0.1:9/x"],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert f"juggle: {blocker}/sub: cannot create directory: Not a directory" in p.stderr


def test_an_output_directory_that_is_not_writable_is_named_as_given(tmp_path):
    """The message names the user's directory, not juggle's DIR/.juggle;
    run as an unprivileged user (root may write anywhere)."""
    import pwd
    import tempfile
    if os.getuid() != 0:
        pytest.skip("needs root, to run juggle as nobody")
    nobody = pwd.getpwnam("nobody")
    ro = tempfile.mkdtemp(prefix="jg-ro-")
    os.chmod(ro, 0o555)
    if not os.access(JUGGLE, os.X_OK) or any(
            not (os.stat(d).st_mode & 0o001) for d in parents(JUGGLE)):
        pytest.skip("the build tree is not reachable for nobody")
    p = subprocess.run([JUGGLE, "-o", ro, "http://127.0.0.1:9/x"], capture_output=True,
                       text=True, user=nobody.pw_uid, group=nobody.pw_gid,
                       env={"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": ro})
    os.rmdir(ro)
    assert p.returncode == 2, p.stderr
    assert f"juggle: output directory {ro} is not writable: Permission denied" in p.stderr


def parents(path):
    path = os.path.dirname(os.path.abspath(path))
    while path != "/":
        yield path
        path = os.path.dirname(path)


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


def test_json_and_counts_to_stdout_with_the_summary_on_stderr(server, tmp_path):
    import json
    urls = [server.url(f"/gen/so{i}.txt") for i in range(3)]
    r = subprocess.run([JUGGLE, "-o", str(tmp_path / "a"), "--json", "-", *urls],
                       capture_output=True, text=True, cwd=tmp_path, timeout=30)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert [b["url"] for b in sorted(rep["books"], key=lambda b: b["url"])] == sorted(urls)
    assert "3 ok, 0 failed" in r.stderr and "3 ok" not in r.stdout
    assert not os.path.exists(tmp_path / "-")
    c = subprocess.run([JUGGLE, "-q", "-o", str(tmp_path / "b"), "--counts", "-", *urls],
                       capture_output=True, text=True, cwd=tmp_path, timeout=30)
    assert c.returncode == 0, c.stderr
    lines = c.stdout.splitlines()
    assert lines and all(len(l.split("\t")) == 2 for l in lines)
    counts = [int(l.split("\t")[1]) for l in lines]
    assert counts == sorted(counts, reverse=True)
    # The same table as a file gets.
    f = subprocess.run([JUGGLE, "-q", "-o", str(tmp_path / "c"), "--counts",
                        str(tmp_path / "c.tsv"), *urls], capture_output=True, text=True,
                       timeout=30)
    assert f.returncode == 0 and (tmp_path / "c.tsv").read_text() == c.stdout
    assert not os.path.exists(tmp_path / "-")
    both = subprocess.run([JUGGLE, "--json", "-", "--counts", "-", *urls],
                          capture_output=True, text=True, cwd=tmp_path)
    assert both.returncode == 2
    assert "only one of --json, --counts and --failed may be '-'" in both.stderr


def test_failed_file_lists_every_failed_url_ready_for_i(server, tmp_path):
    bad = [server.url(f"/gen/f{i}.txt?status=404") for i in range(30)]
    good = [server.url("/gen/fine.txt")]
    lst = tmp_path / "failed.txt"
    r = subprocess.run([JUGGLE, "-q", "-o", str(tmp_path / "t"), "--failed", str(lst), *good,
                        *bad], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert sorted(lst.read_text().splitlines()) == sorted(bad)  # all 30, not the first 20
    assert r.stderr.count("FAILED ") == 20 and "and 10 more failures" in r.stderr
    # The list is an input list: a rerun on it asks for those URLs again.
    again = subprocess.run([JUGGLE, "-q", "-o", str(tmp_path / "t"), "-i", str(lst)],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and again.stderr.count("FAILED ") == 20


def test_a_result_path_that_cannot_be_written_stops_before_anything(server, tmp_path):
    """A --json/--counts/--failed path in a missing directory: exit 2 before
    a request or the output directory, naming the user's path."""
    for opt in ("--json", "--counts", "--failed"):
        out = tmp_path / f"out{opt}"
        path = str(tmp_path / "no-such-dir" / "x")
        r = subprocess.run([JUGGLE, "-o", str(out), opt, path, server.url(f"/gen/e{opt}.txt")],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (opt, r.returncode, r.stderr)
        assert f"juggle: {opt} {path}: cannot write it: No such file or directory" in r.stderr
        assert not out.exists(), opt
    assert not server.starts("/gen/e")


def test_credentials_in_urls_never_show(server, tmp_path):
    """user:secret@ in a URL: sent to the server (curl's basic auth), but
    shown as user:***@ in messages, the JSON report and the journal; a
    rerun still finds the book in the journal and keeps it."""
    import json
    host = server.base.replace("http://", "")
    ok = f"http://alice:s3cret@{host}/gen/cred-ok.txt"
    bad = f"http://alice:s3cret@{host}/gen/cred-bad.txt?status=404"
    out = tmp_path / "t"
    cmd = [JUGGLE, "-o", str(out), "--json", str(tmp_path / "r.json"), ok, bad]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stderr
    assert "s3cret" not in r.stderr and "alice:***@" in r.stderr, r.stderr
    rep = (tmp_path / "r.json").read_text()
    assert "s3cret" not in rep and "alice:***@" in rep
    journal = b"".join(p.read_bytes() for p in (out / ".juggle").iterdir() if p.is_file())
    assert b"s3cret" not in journal and b"alice:***@" in journal
    # The server got the credentials: they were used, only never shown.
    auth = [e for e in server.log() if e["ev"] == "start" and "cred-ok" in e["target"]]
    assert auth
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    books = {b["url"]: b for b in json.loads((tmp_path / "r.json").read_text())["books"]}
    kept = books[f"http://alice:***@{host}/gen/cred-ok.txt"]
    assert kept["status"] == "ok" and kept.get("reused"), kept
    assert len([e for e in server.log() if e["ev"] == "start" and "cred-ok" in e["target"]]) \
        == len(auth), "the rerun fetched the kept book again"
    assert "s3cret" not in again.stderr


def test_json_books_in_input_order_with_where_they_came_from(server, tmp_path):
    """Books finish in any order (the first is slow) but are listed in
    input order, with index, list and line; each failure has a stable
    error_kind; totals add up."""
    import json
    slow = server.url("/gen/order-slow.txt?delay=600")
    lst = tmp_path / "list.txt"
    lst.write_text("# a comment\n" + server.url("/gen/order-b.txt") + "\n\n" +
                   server.url("/gen/order-c.txt?status=404") + "\nftp://nope/x\n" +
                   "http://no-such-host.invalid/d.txt\n")
    r = subprocess.run([JUGGLE, "-q", "-o", str(tmp_path / "t"), "--retries", "0", "--json", "-",
                        slow, "-i", str(lst)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    rep = json.loads(r.stdout)
    books = rep["books"]
    # index: the position among the input's URL lines, the bad one (ftp) included.
    assert [b.get("index") for b in books] == [0, 1, 2, 4, None]
    assert books[0]["url"] == slow and "list" not in books[0] and "line" not in books[0]
    assert [(b.get("list"), b.get("line")) for b in books[1:]] == \
        [(str(lst), 2), (str(lst), 4), (str(lst), 6), (str(lst), 5)]
    assert [b["status"] for b in books] == ["ok", "ok", "failed", "failed", "failed"]
    assert [b.get("error_kind") for b in books] == [None, None, "http", "dns", "input"]
    t = rep["totals"]
    assert t["urls"] == t["ok"] + t["failed"] + t["cancelled"] == 4
    assert t["input_errors"] == 1


def test_summary_speaks_plainly(server, tmp_path):
    """Singular and plural right, thousands separated, no counts line when
    nothing was counted, the loop's figures only with -v."""
    ok = [server.url("/gen/plain-a.txt?size=300000")]
    r = subprocess.run([JUGGLE, "-o", str(tmp_path / "a"), *ok, server.url("/gen/p.txt?fail=1")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "; 1 retry" in r.stderr and "1 retries" not in r.stderr
    assert "loop stall" not in r.stderr
    words = re.search(r"juggle: ([0-9,]+) words, ([0-9,]+) distinct", r.stderr)
    assert words and "," in words.group(1), r.stderr  # some 60,000 words
    assert re.fullmatch(r"\d{1,3}(,\d{3})*", words.group(1))
    v = subprocess.run([JUGGLE, "-v", "-o", str(tmp_path / "b"), *ok], capture_output=True,
                       text=True, timeout=30)
    assert "; 0 retries; loop stall max" in v.stderr, v.stderr
    none = subprocess.run([JUGGLE, "-o", str(tmp_path / "c"), server.url("/gen/x.txt?status=404")],
                          capture_output=True, text=True, timeout=30)
    assert none.returncode == 1 and " words, " not in none.stderr, none.stderr


def test_verbose_tells_each_event_as_it_happens(server, tmp_path):
    urls = [server.url("/gen/v-ok.txt"), server.url("/gen/v-503.txt?fail=1&retry_after=1"),
            server.url("/gen/v-r.txt?redirect=1"), server.url("/gen/v-404.txt?status=404")]
    r = subprocess.run([JUGGLE, "-v", "-o", str(tmp_path / "t"), *urls], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    for u in urls:
        assert f"juggle: GET {u}" in lines, u
    assert f"juggle: GET {urls[1]} (attempt 2)" in lines
    assert any(l.startswith(f"juggle: {urls[1]}: HTTP 503 (Retry-After 1 s); again in ")
               for l in lines), r.stderr
    assert f"juggle: {urls[2]} redirects to {server.url('/gen/v-r.txt?redirect=0')}" in lines
    assert f"juggle: FAILED {urls[3]}: HTTP 404" in lines
    assert any(l.startswith(f"juggle: saved {urls[0]}: ") for l in lines)
    # Each line in the order it happened: the retry's second GET after its wait.
    assert lines.index(f"juggle: GET {urls[1]} (attempt 2)") > \
        lines.index(f"juggle: GET {urls[1]}")


def test_a_long_run_names_failures_as_they_happen(server, tmp_path):
    """Over 50 books there is no line per book: a failure is said when it
    happens (and again in the summary's first 20)."""
    urls = [server.url(f"/gen/long{i}.txt?size=2000") for i in range(60)]
    urls.append(server.url("/gen/long-bad.txt?status=404"))
    r = subprocess.run([JUGGLE, "-o", str(tmp_path / "t"), *urls], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1
    assert f"juggle: FAILED {urls[-1]}: HTTP 404\n" in r.stderr
    assert f"  FAILED {urls[-1]}: HTTP 404\n" in r.stderr
    q = subprocess.run([JUGGLE, "-q", "-o", str(tmp_path / "q"), *urls], capture_output=True,
                       text=True, timeout=60)
    assert "juggle: FAILED" not in q.stderr and "  FAILED" in q.stderr


def test_config_file_is_read_first_and_the_command_line_wins(server, tmp_path):
    import json
    xdg = tmp_path / "xdg"
    (xdg / "juggle").mkdir(parents=True)
    (xdg / "juggle" / "config").write_text(
        "# juggle's defaults here\n"
        f"mirror = {server.base}\n"
        "--quiet\n"
        f"json {tmp_path / 'from-config.json'}\n"
        "\n"
        "retries=0\n")
    env = dict(os.environ, XDG_CONFIG_HOME=str(xdg))
    r = subprocess.run([JUGGLE, "-o", str(tmp_path / "a"), "1342"], capture_output=True,
                       text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # quiet, from the file
    rep = json.loads((tmp_path / "from-config.json").read_text())
    assert rep["books"][0]["url"] == server.url("/cache/epub/1342/pg1342.txt")  # its mirror
    # The command line overrides the file.
    r2 = subprocess.run([JUGGLE, "-o", str(tmp_path / "b"), "--json", str(tmp_path / "cli.json"),
                         "1342"], capture_output=True, text=True, env=env, timeout=30)
    assert r2.returncode == 0 and (tmp_path / "cli.json").exists()
    # --no-config: the default mirror again (asked of a DNS server on
    # loopback that is not there: it fails, and nothing leaves the machine).
    r3 = subprocess.run([JUGGLE, "--no-config", "-q", "-o", str(tmp_path / "c"), "--json", "-",
                         "--retries", "0", "--dns-servers", "127.0.0.1:9", "1342"],
                        capture_output=True, text=True, env=env, timeout=30)
    assert json.loads(r3.stdout)["books"][0]["url"].startswith("https://www.gutenberg.org/")
    # --config FILE: another file, which must exist; errors name file and line.
    bad = tmp_path / "bad.conf"
    bad.write_text("jobs = 4\n\nper-host = many\n")
    e = subprocess.run([JUGGLE, "--config", str(bad), "x"], capture_output=True, text=True,
                       env=env)
    assert e.returncode == 2
    assert f"juggle: {bad}:3: --per-host: invalid value 'many'" in e.stderr, e.stderr
    for text, msg in (("frobnicate = 1\n", "unknown option 'frobnicate'"),
                      ("quiet = yes\n", "quiet takes no value, got 'yes'"),
                      ("json\n", "json needs a value"),
                      ("help\n", "'help' has no place in a config file")):
        bad.write_text(text)
        e = subprocess.run([JUGGLE, "--config", str(bad), "x"], capture_output=True, text=True)
        assert e.returncode == 2 and f"juggle: {bad}:1: {msg}" in e.stderr, (text, e.stderr)
    m = subprocess.run([JUGGLE, "--config", str(tmp_path / "none.conf"), "x"],
                       capture_output=True, text=True)
    assert m.returncode == 2
    assert f"config file {tmp_path / 'none.conf'}: No such file or directory" in m.stderr


def complete(script, *words):
    """What bash completion offers after `words` (the last one being typed)."""
    line = " ".join(f"'{w}'" for w in words)
    prog = f"""source '{script}'
COMP_WORDS=(juggle {line}); COMP_CWORD={len(words)}
_juggle; printf '%s\\n' "${{COMPREPLY[@]}}" """
    r = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, cwd=os.path.dirname(script))
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_completions_are_the_option_table_and_agree_with_help():
    from conftest import BUILD
    bash = os.path.join(BUILD, "completions", "juggle")
    zsh = os.path.join(BUILD, "completions", "_juggle")
    # The installed files are what juggle writes from its option table.
    for path, shell in ((bash, "bash"), (zsh, "zsh")):
        gen = subprocess.run([JUGGLE, "--completion", shell], capture_output=True, text=True)
        with open(path) as f:
            assert f.read() == gen.stdout, shell
    offered = set(complete(bash, "--"))
    helped = set(re.findall(r"(--[a-z][a-z-]*)", subprocess.run(
        [JUGGLE, "--help"], capture_output=True, text=True).stdout))
    # Every option --help names can be completed, and every completed one
    # is in --help (but --completion itself, which only the build uses).
    assert helped - offered == set(), helped - offered
    assert offered - helped == {"--completion"}, offered - helped
    assert complete(bash, "--eng") == ["--engine"]
    assert complete(bash, "--engine", "") == ["loop", "serial", "threads"] or \
        sorted(complete(bash, "--engine", "")) == ["loop", "serial", "threads"]
    assert sorted(complete(bash, "--split", "w")) == ["whitespace", "words"]
    assert "-q" in complete(bash, "-")
    with open(zsh) as f:
        z = f.read()
    assert z.startswith("#compdef juggle\n")
    for opt in offered:
        assert f"{opt}" in z, opt
    r = subprocess.run([JUGGLE, "--completion", "fish"], capture_output=True, text=True)
    assert r.returncode == 2 and "--completion: expected 'bash' or 'zsh'" in r.stderr


def test_a_list_line_may_name_its_file(server, tmp_path):
    """URL<TAB>NAME saves the body as DIR/NAME, made safe like any name; a
    name another book has is an input error on that line, the rest goes on."""
    lst = tmp_path / "list.txt"
    lst.write_text(f"{server.url('/gen/n1.txt')}\tmoby dick.txt\n"
                   f"{server.url('/gen/n2.txt')}\t../../etc/evil\n"
                   f"{server.url('/gen/n3.txt')}\tmoby dick.txt\n"
                   f"{server.url('/gen/n4.txt')}\n")
    out = tmp_path / "t"
    r = subprocess.run([JUGGLE, "-q", "-o", str(out), "-i", str(lst)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1, r.stderr
    files = sorted(f for f in os.listdir(out) if f != ".juggle")
    assert "moby dick.txt" in files and "n4.txt" in files, files
    assert not any("/" in f or f.startswith("..") for f in files)
    assert len(files) == 3, files  # n3 was refused
    with open(out / "moby dick.txt", "rb") as f:
        assert f.read() == server.fetch("/gen/n1.txt")
    assert f"list.txt:3: {server.url('/gen/n3.txt')}: file name 'moby dick.txt' is another " \
           "book's" in r.stderr, r.stderr
    assert not server.starts("/gen/n3.txt")
    # A rerun keeps the named books by their names.
    again = subprocess.run([JUGGLE, "-o", str(out), "-i", str(lst)], capture_output=True,
                           text=True, timeout=30)
    assert "3 books kept" in again.stderr, again.stderr


def test_json_options_record_the_settings_that_shaped_the_run(server, tmp_path):
    import json
    r = subprocess.run([JUGGLE, "-q", "-o", str(tmp_path / "t"), "--json", "-", "-j", "7",
                        "--per-host", "3", "--wait", "0.01", "--limit-rate", "10M", "--split",
                        "whitespace", "--top", "5", "--mirror", server.base, "--mirror",
                        server.url("/m2"), "84"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)["options"]
    assert (o["jobs"], o["per_host"], o["wait"], o["limit_rate"]) == (7, 3, 0.01, 10 << 20)
    assert (o["split"], o["top"], o["count"], o["engine"]) == ("whitespace", 5, True, "loop")
    assert o["mirrors"] == [server.base, server.url("/m2")]
    assert o["retries"] == 3 and o["max_size"] == 256 << 20  # defaults, named too
