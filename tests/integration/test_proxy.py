"""Proxies: juggle through real forward proxies started here on 127.0.0.1:
tinyproxy (http, CONNECT for https URLs, and behind socat's TLS as an
https:// proxy) and microsocks (socks5, socks5h).

Who connected is read off the servers, not off juggle: the proxies make
their outgoing connections from 127.0.0.2 (tinyproxy's Bind, microsocks'
-b), juggle connects from 127.0.0.1, and the origin (nginx) logs the peer
address and the Via header. Who resolved what: the proxies run in a mount
namespace of their own whose /etc/hosts knows onlyproxy.test, a name only
they can resolve; juggle resolves with --dns-servers pointed at this
test's DNS server, which logs every query and knows no such name."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import JUGGLE, book_files, free_port, thread_samples

TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
MICROSOCKS = shutil.which("microsocks") or "/usr/bin/microsocks"
SOCAT = shutil.which("socat") or "/usr/bin/socat"
ONLY = "onlyproxy.test"       # known to the proxies' /etc/hosts alone
PROXY_FROM = "127.0.0.2"      # where the proxies connect from
BOOKS = 6


def need(path, package):
    if not os.path.exists(path):
        pytest.skip(f"{os.path.basename(path)} is not installed (Debian: {package}; "
                    "scripts/deps.sh installs it)")


_ns = {}


def hosts_namespace(tmp):
    """A command prefix that runs a program with /etc/hosts replaced (a
    mount namespace: root, as CI has, or else a user namespace), or a skip."""
    hosts = os.path.join(tmp, "hosts")
    with open(hosts, "w") as f:
        f.write(f"127.0.0.1 localhost {ONLY}\n")
    unshare = ["unshare", "-m" if os.geteuid() == 0 else "-rm"]
    if "ok" not in _ns:
        p = subprocess.run(unshare + ["sh", "-c",
                                      f'mount --bind "$0" /etc/hosts && getent hosts {ONLY}',
                                      hosts], capture_output=True, text=True)
        _ns["ok"] = p.returncode == 0
        _ns["why"] = p.stderr.strip()
    if not _ns["ok"]:
        pytest.skip("the proxies need a mount namespace (unshare -m as root, or -rm with "
                    f"user namespaces) for a name only they know: {_ns['why']}")
    return unshare + ["sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', hosts]


def owns_listener(pid, port):
    """Whether process `pid` holds the socket listening on 127.0.0.1:port:
    a free port handed out here may be taken meanwhile by anyone's server."""
    want = f"0100007F:{port:04X}"
    inodes = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[1] == want and cols[3] == "0A":  # LISTEN
                inodes.add(f"socket:[{cols[9]}]")
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def wait_listening(port, proc, what):
    for _ in range(200):
        if proc.poll() is not None:
            pytest.fail(f"{what} exited at once ({proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.025)
    pytest.fail(f"{what} did not listen on {port}")


class Daemon:
    """A server of the test's on a free port, started by `cmd(port)`; its
    log is `log(port)`, or what it prints."""

    def __init__(self, cmd, what, out, log=None):
        for _ in range(5):
            self.port = free_port()
            self.log_path = (log or out)(self.port)
            self.out = open(out(self.port), "w")
            self.proc = subprocess.Popen(cmd(self.port), stdout=self.out,
                                         stderr=subprocess.STDOUT)
            try:
                wait_listening(self.port, self.proc, what)
            except pytest.fail.Exception:
                if self.proc.poll() is None:
                    raise
            if self.proc.poll() is None and owns_listener(self.proc.pid, self.port):
                return
            self.stop()  # the port was taken: another one
        pytest.fail(f"{what} found no free port")

    def log(self):
        time.sleep(0.05)  # lines of the last connection
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


@pytest.fixture
def daemons(tmp_path):
    made = []

    def tinyproxy(extra=""):
        need(TINYPROXY, "tinyproxy")
        ns = hosts_namespace(str(tmp_path))
        name = tmp_path / f"tinyproxy{len(made)}"

        def cmd(port):
            (tmp_path / f"{name}-{port}.conf").write_text(
                f"Listen 127.0.0.1\nPort {port}\nBind {PROXY_FROM}\nTimeout 60\n"
                f'LogFile "{name}-{port}.log"\nLogLevel Info\nMaxClients 200\n'
                f"Allow 127.0.0.1\n{extra}\n")
            return ns + [TINYPROXY, "-d", "-c", f"{name}-{port}.conf"]
        d = Daemon(cmd, "tinyproxy", lambda port: f"{name}-{port}.out",
                   log=lambda port: f"{name}-{port}.log")
        made.append(d)
        return d

    def microsocks():
        need(MICROSOCKS, "microsocks")
        ns = hosts_namespace(str(tmp_path))
        name = tmp_path / f"microsocks{len(made)}"
        d = Daemon(lambda port: ns + [MICROSOCKS, "-i", "127.0.0.1", "-p", str(port), "-b",
                                      PROXY_FROM],
                   "microsocks", lambda port: f"{name}-{port}.log")
        made.append(d)
        return d

    def tls_front(to_port, cert, key):
        """TLS on the way to a proxy: what an https:// proxy is."""
        need(SOCAT, "socat")
        name = tmp_path / f"socat{len(made)}"
        d = Daemon(lambda port: [SOCAT, f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,"
                                 f"cert={cert},key={key},verify=0", f"TCP:127.0.0.1:{to_port}"],
                   "socat", lambda port: f"{name}-{port}.log")
        made.append(d)
        return d

    yield {"tinyproxy": tinyproxy, "microsocks": microsocks, "tls_front": tls_front}
    for d in made:
        d.stop()


def make_cert(d, name, sans):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={name}", "-addext", "subjectAltName=" + sans,
                    "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.pem")],
                   check=True, capture_output=True)
    return d / f"{name}.pem", d / f"{name}.key"


class Origin:
    def __init__(self, nginx, root, tls_port, cert, d):
        self.port = nginx.port
        self.tls_port = tls_port
        self.root = root
        self.cert = cert
        self.dir = d

    def url(self, host, i, tls=False):
        if tls:
            return f"https://{host}:{self.tls_port}/books/b{i}.txt"
        return f"http://{host}:{self.port}/books/b{i}.txt"

    def body(self, i):
        return (self.root / "books" / f"b{i}.txt").read_bytes()

    def peers(self):
        """(peer address, Via header, URI) of every request served."""
        path = self.dir / "peer.log"
        if not path.exists():
            return []
        return [tuple(line.split("|")) for line in path.read_text().splitlines()]


@pytest.fixture
def origin(tmp_path, make_nginx):
    d = tmp_path / "origin"
    root = d / "root"
    (root / "books").mkdir(parents=True)
    for i in range(BOOKS):
        (root / "books" / f"b{i}.txt").write_bytes((f"proxied book {i} " * 3000).encode())
    cert, key = make_cert(d, "origin", f"DNS:{ONLY},DNS:served.test,DNS:localhost,IP:127.0.0.1")
    tls_port = free_port()
    n = make_nginx(f"""
    log_format peer '$remote_addr|$http_via|$request_uri';
    access_log {d}/peer.log peer;
    server {{
        listen 127.0.0.1:{{port}};
        root {root};
    }}
    server {{
        listen 127.0.0.1:{tls_port} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {root};
    }}
""")
    wait_listening(tls_port, n.proc, "nginx (TLS)")
    return Origin(n, root, tls_port, cert, d)


@pytest.fixture
def names(dns):
    """juggle's DNS server: it knows the proxy and served.test, not ONLY."""
    return dns({"proxy.test": {"A": ["127.0.0.1"]}, "served.test": {"A": ["127.0.0.1"]},
                "a.direct.test": {"A": ["127.0.0.1"]}})


def asked(d):
    return {q[0] for q in d.queries}


def run(tmp_path, *args, env=None, out="texts"):
    """juggle with a report; env replaces the environment's proxy variables."""
    base = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    out_dir = tmp_path / out
    json_path = tmp_path / f"{out}.json"
    p = subprocess.run([JUGGLE, "-o", str(out_dir), "--json", str(json_path), *args],
                       env={**base, **(env or {})}, capture_output=True, text=True, timeout=120)
    p.books = {}
    if json_path.exists():
        with open(json_path) as f:
            p.books = {b["url"]: b for b in json.load(f)["books"]}
    p.out = out_dir
    return p


def assert_saved(p, origin, indexes):
    assert p.returncode == 0, p.stderr
    for i in indexes:
        assert (p.out / f"b{i}.txt").read_bytes() == origin.body(i), i


def proxied(origin):
    return [x for x in origin.peers() if x[0] == PROXY_FROM]


def direct(origin):
    return [x for x in origin.peers() if x[0] == "127.0.0.1"]


# ---- the proxy types -------------------------------------------------------


def test_http_url_through_http_proxy(origin, daemons, names, tmp_path):
    tp = daemons["tinyproxy"]()
    urls = [origin.url(ONLY, i) for i in range(BOOKS)]
    dns_opt = ["--dns-servers", f"127.0.0.1:{names.port}"]
    # Without the proxy the name is unknown here: the proxy alone resolves it.
    p = run(tmp_path, *dns_opt, "--retries", "0", urls[0], out="alone")
    assert p.returncode == 1 and p.books[urls[0]]["error"].startswith(f"DNS: {ONLY}: ")
    names.queries.clear()
    p = run(tmp_path, *dns_opt, "-x", f"http://127.0.0.1:{tp.port}", *urls)
    assert_saved(p, origin, range(BOOKS))
    log = tp.log()
    for i in range(BOOKS):
        assert f"GET http://{ONLY}:{origin.port}/books/b{i}.txt HTTP/1.1" in log
    assert len(proxied(origin)) == BOOKS and direct(origin) == []
    assert all("tinyproxy" in via for _, via, _ in proxied(origin))
    assert asked(names) == set(), "juggle resolved a name through an http proxy"
    assert "warning" not in p.stderr


def test_robots_txt_goes_through_the_proxy_as_the_books_do(origin, daemons, names, tmp_path):
    """--robots with -x: robots.txt is asked of the proxy too (the name is
    the proxy's to resolve), and what it disallows is not fetched."""
    (origin.root / "robots.txt").write_text("User-agent: *\nDisallow: /books/b1.txt\n")
    tp = daemons["tinyproxy"]()
    urls = [origin.url(ONLY, i) for i in range(3)]
    p = run(tmp_path, "--dns-servers", f"127.0.0.1:{names.port}", "--robots", "-x",
            f"http://127.0.0.1:{tp.port}", *urls)
    assert p.returncode == 1, p.stderr
    assert "disallowed by" in p.books[urls[1]]["error"]
    assert f"GET http://{ONLY}:{origin.port}/robots.txt HTTP/1.1" in tp.log()
    uris = [u for _, _, u in proxied(origin)]
    assert "/robots.txt" in uris and "/books/b1.txt" not in uris
    assert direct(origin) == [] and asked(names) == set()


def test_https_url_through_http_proxy_uses_connect(origin, daemons, names, tmp_path):
    tp = daemons["tinyproxy"]()
    urls = [origin.url(ONLY, i, tls=True) for i in range(BOOKS)]
    p = run(tmp_path, "--dns-servers", f"127.0.0.1:{names.port}", "--cacert", str(origin.cert),
            "-x", f"127.0.0.1:{tp.port}", *urls)  # no scheme: http, as curl
    assert_saved(p, origin, range(BOOKS))
    assert f"CONNECT {ONLY}:{origin.tls_port} HTTP/1.1" in tp.log()
    # A tunnel: the proxy adds no Via to what it cannot read.
    assert len(proxied(origin)) == BOOKS and direct(origin) == []
    assert asked(names) == set()


def test_https_proxy_is_reached_over_tls(origin, daemons, names, tmp_path):
    tp = daemons["tinyproxy"]()
    pcert, pkey = make_cert(tmp_path, "proxy", "DNS:proxy.test")
    front = daemons["tls_front"](tp.port, pcert, pkey)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(origin.cert.read_bytes() + pcert.read_bytes())
    urls = [origin.url(ONLY, 0), origin.url(ONLY, 1, tls=True)]
    p = run(tmp_path, "--dns-servers", f"127.0.0.1:{names.port}", "--cacert", str(bundle),
            "-x", f"https://proxy.test:{front.port}", *urls)
    assert_saved(p, origin, [0, 1])
    log = tp.log()
    assert f"GET http://{ONLY}:{origin.port}/books/b0.txt" in log
    assert f"CONNECT {ONLY}:{origin.tls_port}" in log
    assert "proxy.test" in asked(names) and ONLY not in asked(names)
    # The proxy's certificate is checked too: without its CA, no transfer.
    p = run(tmp_path, "--dns-servers", f"127.0.0.1:{names.port}", "--cacert", str(origin.cert),
            "--retries", "0", "-x", f"https://proxy.test:{front.port}", urls[0], out="untrusted")
    assert p.returncode == 1
    assert "certificate" in p.books[urls[0]]["error"].lower(), p.books[urls[0]]["error"]


def test_socks5h_leaves_the_name_to_the_proxy(origin, daemons, names, tmp_path):
    ms = daemons["microsocks"]()
    urls = [origin.url(ONLY, 0), origin.url(ONLY, 1, tls=True)]
    p = run(tmp_path, "--dns-servers", f"127.0.0.1:{names.port}", "--cacert", str(origin.cert),
            "-x", f"socks5h://127.0.0.1:{ms.port}", *urls)
    assert_saved(p, origin, [0, 1])
    log = ms.log()
    assert f"connected to {ONLY}:{origin.port}" in log
    assert f"connected to {ONLY}:{origin.tls_port}" in log
    assert len(proxied(origin)) == 2 and direct(origin) == []
    assert asked(names) == set()


def test_socks5_gets_the_address_juggle_resolved(origin, daemons, names, tmp_path):
    ms = daemons["microsocks"]()
    urls = [origin.url("served.test", 0), origin.url("served.test", 1, tls=True)]
    p = run(tmp_path, "--dns-servers", f"127.0.0.1:{names.port}", "--cacert", str(origin.cert),
            "-x", f"socks5://127.0.0.1:{ms.port}", *urls)
    assert_saved(p, origin, [0, 1])
    log = ms.log()
    assert f"connected to 127.0.0.1:{origin.port}" in log
    assert f"connected to 127.0.0.1:{origin.tls_port}" in log
    assert "served.test" not in log
    assert len(proxied(origin)) == 2 and direct(origin) == []
    # c-ares resolved it, once (the cache), as for a direct request.
    assert sum(1 for q in names.queries if q == ("served.test", 1)) == 1


# ---- direct after all ------------------------------------------------------


def test_noproxy_sends_listed_hosts_direct(origin, daemons, names, tmp_path):
    tp = daemons["tinyproxy"]()
    dns_opt = ["--dns-servers", f"127.0.0.1:{names.port}"]
    far, near = origin.url(ONLY, 0), origin.url("a.direct.test", 1)
    ip = origin.url("127.0.0.1", 2)
    p = run(tmp_path, *dns_opt, "-x", f"http://127.0.0.1:{tp.port}",
            "--noproxy", "localhost, .direct.test,127.0.0.0/8", far, near, ip)
    assert_saved(p, origin, [0, 1, 2])
    assert sorted(uri for _, _, uri in proxied(origin)) == ["/books/b0.txt"]
    assert sorted(uri for _, _, uri in direct(origin)) == ["/books/b1.txt", "/books/b2.txt"]
    log = tp.log()
    assert "b0.txt" in log and "b1.txt" not in log and "b2.txt" not in log
    assert "a.direct.test" in asked(names) and ONLY not in asked(names)


def test_noproxy_star_and_the_variables(origin, daemons, names, tmp_path):
    tp = daemons["tinyproxy"]()
    proxy = f"http://127.0.0.1:{tp.port}"
    url = origin.url("127.0.0.1", 0)
    p = run(tmp_path, "--noproxy", "*", url, env={"http_proxy": proxy}, out="star")
    assert_saved(p, origin, [0])
    p = run(tmp_path, url, env={"http_proxy": proxy, "NO_PROXY": "127.0.0.1"}, out="env")
    assert_saved(p, origin, [0])
    assert len(direct(origin)) == 2 and proxied(origin) == []
    assert "Request" not in tp.log()
    # --noproxy '' overrides no_proxy, as curl's.
    p = run(tmp_path, "--noproxy", "", url, env={"http_proxy": proxy, "no_proxy": "127.0.0.1"},
            out="over")
    assert_saved(p, origin, [0])
    assert len(proxied(origin)) == 1


# ---- the environment -------------------------------------------------------


def test_the_variables_are_honoured_and_x_beats_them(origin, daemons, tmp_path):
    tp = daemons["tinyproxy"]()
    live, dead = f"http://127.0.0.1:{tp.port}", f"http://127.0.0.1:{free_port()}"
    http_url, https_url = origin.url("127.0.0.1", 0), origin.url("127.0.0.1", 1, tls=True)
    ca = ["--cacert", str(origin.cert)]
    cases = [
        ({"http_proxy": live}, [http_url], 1),
        ({"HTTPS_PROXY": live}, ca + [https_url], 1),
        ({"https_proxy": live, "HTTPS_PROXY": dead}, ca + [https_url], 1),
        ({"all_proxy": live}, ca + [http_url, https_url], 2),
        ({"ALL_PROXY": live, "https_proxy": dead}, ca + ["-x", live, https_url], 1),
        ({"http_proxy": dead}, ["-x", live, http_url], 1),
        ({"http_proxy": dead}, ["-x", "", http_url], 0),  # -x '': none at all
    ]
    for n, (env, args, through) in enumerate(cases):
        before = len(proxied(origin))
        p = run(tmp_path, *args, env=env, out=f"c{n}")
        assert p.returncode == 0, (env, args, p.stderr)
        assert len(proxied(origin)) - before == through, (env, args)
        assert "warning" not in p.stderr, p.stderr


def test_http_proxy_upper_case_is_ignored_and_said_so(origin, daemons, tmp_path):
    tp = daemons["tinyproxy"]()
    url = origin.url("127.0.0.1", 0)
    p = run(tmp_path, url, env={"HTTP_PROXY": f"http://127.0.0.1:{tp.port}"})
    assert_saved(p, origin, [0])
    assert "juggle: warning: HTTP_PROXY is set but not used" in p.stderr
    assert len(direct(origin)) == 1 and proxied(origin) == []
    p = run(tmp_path, url, env={"HTTP_PROXY": "http://127.0.0.1:9",
                                "http_proxy": f"http://127.0.0.1:{tp.port}"}, out="lower")
    assert_saved(p, origin, [0])
    assert "warning" not in p.stderr and len(proxied(origin)) == 1


# ---- names and threads -----------------------------------------------------


@pytest.mark.parametrize("scheme,host", [("http", ONLY), ("socks5h", ONLY),
                                         ("socks5", "served.test")])
def test_one_thread_and_the_proxy_name_from_c_ares(server, daemons, names, tmp_path, scheme,
                                                    host):
    px = daemons["microsocks" if scheme.startswith("socks") else "tinyproxy"]()
    urls = [f"http://{host}:{server.port}/gen/t{i}.txt?delay=200&rate=300000&size=60000"
            for i in range(8)]
    proc = subprocess.Popen([JUGGLE, "-o", str(tmp_path / "t"), "--dns-servers",
                             f"127.0.0.1:{names.port}", "-x", f"{scheme}://proxy.test:{px.port}",
                             *urls], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = thread_samples(proc)
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    assert len(samples) > 20, "the run was too short to sample"
    assert max(samples) == 1, f"saw {max(samples)} threads"
    # The proxy's name went to c-ares once; the server's only for socks5.
    assert [q for q in names.queries if q[1] == 1 and q[0] == "proxy.test"] == [("proxy.test", 1)]
    assert (host in asked(names)) == (scheme == "socks5")
    assert len(book_files(tmp_path / "t")) == 8
    assert len(server.starts("/gen/t")) == 8
    # Sampling misses a resolver thread that lives for a /etc/hosts lookup
    # (well under the 5 ms between samples): strace sees every one made.
    if not shutil.which("strace"):
        pytest.skip("strace is not installed: threads were only sampled")
    trace = tmp_path / "clone.trace"
    # LeakSanitizer cannot run under ptrace: the run above checked leaks.
    asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    p = subprocess.run(["strace", "-f", "-qq", "-e", "trace=clone,clone3", "-o", str(trace),
                        JUGGLE, "-o", str(tmp_path / "s"), "--dns-servers",
                        f"127.0.0.1:{names.port}", "-x", f"{scheme}://proxy.test:{px.port}",
                        *[u.replace("/t", "/s") for u in urls]], capture_output=True, text=True,
                       env={**os.environ, "ASAN_OPTIONS": asan})
    assert p.returncode == 0, p.stderr
    assert len(book_files(tmp_path / "s")) == 8
    threads = [line for line in trace.read_text().splitlines() if "CLONE_THREAD" in line]
    assert threads == [], threads


def test_resolve_pins_the_proxys_name_too(origin, daemons, names, tmp_path):
    tp = daemons["tinyproxy"]()
    p = run(tmp_path, "--dns-servers", f"127.0.0.1:{names.port}", "--resolve",
            f"pinned.test:{tp.port}:127.0.0.1", "-x", f"http://pinned.test:{tp.port}",
            origin.url(ONLY, 0))
    assert_saved(p, origin, [0])
    assert names.queries == [] and len(proxied(origin)) == 1


def test_threads_engine_goes_through_the_proxy_too(origin, daemons, tmp_path):
    tp = daemons["tinyproxy"]()
    urls = [origin.url(ONLY, i) for i in range(BOOKS)]
    p = run(tmp_path, "--engine", "threads", "-x", f"http://127.0.0.1:{tp.port}", *urls)
    assert_saved(p, origin, range(BOOKS))
    assert len(proxied(origin)) == BOOKS


# ---- failures --------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["http", "socks5h"])
def test_a_dead_proxy_is_a_clear_error(server, tmp_path, scheme):
    port = free_port()
    urls = [server.url(f"/gen/d{i}.txt") for i in range(7)]
    t0 = time.monotonic()
    p = run(tmp_path, "--retries", "1", "--retry-delay", "0", "-x",
            f"{scheme}://127.0.0.1:{port}", *urls)
    assert p.returncode == 1
    for u in urls:
        b = p.books[u]
        # Named, not blamed on the server's host (no "consecutive failures").
        assert b["error"].startswith(f"proxy {scheme}://127.0.0.1:{port}: unreachable: "), b
        assert b["attempts"] == 2, b
    assert f"proxy {scheme}://127.0.0.1:{port}: unreachable" in p.stderr
    assert server.starts() == []
    assert time.monotonic() - t0 < 30


def test_an_unknown_proxy_name_is_the_proxys_error(server, names, tmp_path):
    url = server.url("/gen/x.txt")
    p = run(tmp_path, "--dns-servers", f"127.0.0.1:{names.port}", "-x",
            "http://nosuch.test:3128", url)
    assert p.returncode == 1
    err = p.books[url]["error"]
    assert err.startswith("proxy http://nosuch.test:3128: DNS: nosuch.test: "), err
    assert p.books[url]["attempts"] == 1  # a name that does not exist is not retried


def test_connect_refused_403_and_407_are_not_retried(origin, daemons, tmp_path):
    deny = daemons["tinyproxy"]("ConnectPort 1")
    auth = daemons["tinyproxy"]("BasicAuth juggle s3cret")
    https_url, http_url = origin.url("127.0.0.1", 0, tls=True), origin.url("127.0.0.1", 1)
    ca = ["--cacert", str(origin.cert)]
    p = run(tmp_path, *ca, "--retries", "3", "-x", f"http://127.0.0.1:{deny.port}", https_url,
            out="deny")
    assert p.returncode == 1
    b = p.books[https_url]
    assert b["error"] == f"proxy http://127.0.0.1:{deny.port}: CONNECT refused (403)", b
    assert b["attempts"] == 1
    p = run(tmp_path, *ca, "--retries", "3", "-x", f"http://127.0.0.1:{auth.port}", https_url,
            http_url, out="noauth")
    assert p.returncode == 1
    assert p.books[https_url]["error"] == (f"proxy http://127.0.0.1:{auth.port}: CONNECT "
                                          "refused: proxy authentication required (407)")
    assert p.books[http_url]["error"] == (f"proxy http://127.0.0.1:{auth.port}: proxy "
                                         "authentication required (HTTP 407)")
    assert p.books[https_url]["attempts"] == 1 and p.books[http_url]["attempts"] == 1
    assert origin.peers() == []
    # The right credentials go through; they are never shown.
    p = run(tmp_path, *ca, "-x", f"http://juggle:s3cret@127.0.0.1:{auth.port}", https_url,
            http_url, out="auth")
    assert_saved(p, origin, [0, 1])
    assert "s3cret" not in p.stderr + p.stdout + (tmp_path / "auth.json").read_text()


def test_malformed_proxy_settings_are_usage_errors(tmp_path):
    url = "http://127.0.0.1:9/x.txt"
    for bad in ["ftp://proxy:21", "socks4://proxy:1080", "http://proxy:99999", "http://",
                "http://proxy:3128/path", "http://user:hunter2@proxy:3128/path"]:
        p = run(tmp_path, "-x", bad, url)
        assert p.returncode == 2, (bad, p.stderr)
        assert "juggle: --proxy: expected" in p.stderr, p.stderr
        assert "hunter2" not in p.stderr
    for bad in ["10.0.0.0/33", "host/8", "host:80", "::1/129"]:
        p = run(tmp_path, "-x", "http://127.0.0.1:3128", "--noproxy", bad, url)
        assert p.returncode == 2, (bad, p.stderr)
        assert "juggle: --noproxy: expected" in p.stderr, p.stderr
    p = run(tmp_path, url, env={"https_proxy": "socks4://proxy:1080"})
    assert p.returncode == 2
    assert "https_proxy='socks4://proxy:1080': scheme 'socks4' not supported" in p.stderr
    p = run(tmp_path, url, env={"no_proxy": "a.test,10.1.0.0/99"})
    assert p.returncode == 2 and "no_proxy=" in p.stderr and "prefix length" in p.stderr
    # -x '' means no proxy: the variables are not even read.
    p = run(tmp_path, "-x", "", "--retries", "0", url, env={"https_proxy": "socks4://p:1"})
    assert p.returncode == 1 and "socks4" not in p.stderr


def test_help_and_man_page_tell_of_proxies():
    h = subprocess.run([JUGGLE, "--help"], capture_output=True, text=True)
    assert h.returncode == 0
    for word in ("-x, --proxy URL", "socks5h", "--noproxy LIST", "no_proxy"):
        assert word in h.stdout, word
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    with open(os.path.join(root, "doc", "juggle.1")) as f:
        man = f.read()
    for word in (r"\-\-proxy", r"\-\-noproxy", ".SH ENVIRONMENT", "https_proxy", "HTTP_PROXY"):
        assert word in man, word
