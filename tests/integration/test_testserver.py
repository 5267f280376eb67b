"""The test server's hostile behaviours, checked from outside with Python's
stdlib (and curl where Python has no decoder: br, zstd), so that tests
attacking juggle with them can trust what they send."""
import http.client
import os
import re
import socket
import subprocess
import time
import zlib

import pytest

GIB = 1 << 30
MIB = 1 << 20
JUNK_LINE = re.compile(rb"X-Junk-\d+: [a-z]{100}\r\n")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sanitized(pid):
    """AddressSanitizer builds keep a large, growing heap of their own."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


class Raw:
    """One HTTP/1.1 exchange over a plain socket, bytes exactly as sent."""

    def __init__(self, srv, target, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        self.buf = b""
        self.eof = False

    def more(self):
        data = self.sock.recv(1 << 20)
        if not data:
            self.eof = True
        self.buf += data
        return bool(data)

    def until(self, sep):
        while sep not in self.buf:
            assert self.more(), f"closed before {sep!r}: {self.buf[-200:]!r}"
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def take(self, n):
        while len(self.buf) < n:
            assert self.more(), "closed early"
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self):
        """Status line and fields; values are raw bytes."""
        lines = self.until(b"\r\n\r\n")[:-4].split(b"\r\n")
        status = int(lines[0].split()[1])
        fields = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            fields[k.decode().lower()] = v.strip(b" ")
        return status, fields

    def chunks(self, limit):
        """Chunked payload up to the last-chunk or limit bytes."""
        out = bytearray()
        while len(out) < limit:
            size = int(self.until(b"\r\n")[:-2], 16)
            if size == 0:
                return bytes(out), True
            out += self.take(size)
            assert self.take(2) == b"\r\n"
        return bytes(out), False

    def drain(self, limit):
        """Everything until EOF or limit bytes; the count."""
        n = len(self.buf)
        self.buf = b""
        while n < limit and self.more():
            n += len(self.buf)
            self.buf = b""
        return n

    def close(self):
        self.sock.close()


def payload(srv, target):
    """The body exactly as sent (still content-coded), and the head."""
    r = Raw(srv, target)
    status, fields = r.head()
    if fields.get("transfer-encoding") == b"chunked":
        body, ended = r.chunks(1 << 62)
        assert ended
        assert r.until(b"\r\n") == b"\r\n"  # no trailers
    else:
        body = r.take(int(fields["content-length"]))
    r.close()
    return status, fields, body


def curl_decoded(url, limit=None):
    cmd = ["curl", "-sS", "--compressed", "--fail-with-body", url]
    if limit:
        cmd[1:1] = ["--max-filesize", str(limit)]
    return subprocess.run(cmd, capture_output=True, timeout=60)


def decode(enc, data):
    if enc == "gzip":
        return zlib.decompress(data, 16 + 15)
    if enc == "deflate":
        return zlib.decompress(data)  # the zlib format, as HTTP's "deflate"
    raise ValueError(enc)


BODIES = ["size=300000", "size=1", "fill=x&size=0", "fill=x&size=1", "fill=x&size=2",
          "fill=x&size=259", "fill=x&size=260", "fill=%00&size=70000",
          "fill=%ff&size=17000000", "status=404"]


@pytest.mark.parametrize("enc", ["gzip", "deflate", "br", "zstd"])
def test_each_encoding_decodes_to_the_promised_bytes(server, enc):
    for q in BODIES:
        want = payload(server, f"/gen/e.txt?{q}")[2]
        status, fields, body = payload(server, f"/gen/e.txt?{q}&enc={enc}")
        assert fields["content-encoding"] == enc.encode()
        if enc in ("gzip", "deflate"):
            assert decode(enc, body) == want, q
        got = curl_decoded(server.url(f"/gen/e.txt?{q}&enc={enc}"))
        assert got.stdout == want, (q, got.stderr)
    # gzip=1 is an alias.
    assert payload(server, "/gen/e.txt?gzip=1&size=5000")[2] == \
        payload(server, "/gen/e.txt?enc=gzip&size=5000")[2]


def test_declared_windows(server):
    text = payload(server, "/gen/w.txt?size=300000")[2]
    for q, want in [("size=300000", text), ("fill=q&size=3000000", b"q" * 3000000)]:
        for n in (10, 17, 27):
            _, fields, body = payload(server, f"/gen/w.txt?{q}&zwindow={n}")
            assert fields["content-encoding"] == b"zstd"
            # Magic, a descriptor without content size or single segment,
            # then the Window_Descriptor: exponent n - 10, no mantissa.
            assert body[:6] == bytes([0x28, 0xB5, 0x2F, 0xFD, 0, (n - 10) << 3])
            assert curl_decoded(server.url(f"/gen/w.txt?{q}&zwindow={n}")).stdout == want
        for n in (10, 16, 17, 22, 24):
            _, fields, body = payload(server, f"/gen/w.txt?{q}&bwindow={n}")
            assert fields["content-encoding"] == b"br"
            first = body[0]
            if n == 16:
                assert first & 1 == 0
            elif n > 17:
                assert first & 0xF == 1 | (n - 17) << 1
            else:
                assert first & 0x7F == 1 | (0 if n == 17 else n - 8) << 4
            assert curl_decoded(server.url(f"/gen/w.txt?{q}&bwindow={n}")).stdout == want
    # libzstd refuses windows over 128 MiB unless told otherwise: curl
    # believes the frame's declaration.
    assert curl_decoded(server.url("/gen/w.txt?size=100&zwindow=28")).returncode != 0
    for bad in ("zwindow=9", "zwindow=42", "bwindow=25", "zwindow=20&enc=br",
                "bwindow=20&enc=gzip", "enc=compress", "zwindow=20&bwindow=20"):
        assert payload(server, f"/gen/w.txt?{bad}")[0] == 400, bad


def decode_zeros(enc, url, body):
    """Decodes a bomb's body (curl for br and zstd), checking that every
    byte is a zero; returns the decoded length."""
    zeros = bytes(MIB)
    n = 0
    if enc in ("gzip", "deflate"):
        d = zlib.decompressobj(16 + 15 if enc == "gzip" else 15)
        chunk = body
        while chunk:
            out = d.decompress(chunk, MIB)
            assert out == zeros[:len(out)]
            n += len(out)
            chunk = d.unconsumed_tail
        n += len(d.flush())
        assert d.eof and not d.unused_data  # the trailer checked by zlib
        return n
    p = subprocess.Popen(["curl", "-sS", "--compressed", url], stdout=subprocess.PIPE)
    while True:
        out = p.stdout.read(MIB)
        if not out:
            break
        assert out == zeros[:len(out)]
        n += len(out)
    assert p.wait(timeout=60) == 0
    return n


@pytest.mark.parametrize("enc", ["gzip", "deflate", "br", "zstd"])
def test_gigabyte_zero_bomb_is_tiny_and_cheap(server, enc, capsys):
    target = f"/gen/bomb.txt?fill=%00&size={GIB}&enc={enc}"
    pid = server.proc.pid
    cpu0 = cpu_seconds(pid)
    t0 = time.monotonic()
    _, fields, body = payload(server, target)
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(pid) - cpu0
    with capsys.disabled():
        print(f"\n{enc} bomb: 1 GiB of zeros in {len(body)} bytes "
              f"(ratio {GIB / len(body):.0f}:1), served in {elapsed * 1000:.1f} ms, "
              f"server CPU {cpu * 1000:.0f} ms")
    assert fields["content-encoding"] == enc.encode()
    assert len(body) < {"gzip": 1100000, "deflate": 1100000, "br": 4096, "zstd": 65536}[enc]
    assert elapsed < 0.5 and cpu < 0.3
    # The trailers of the gigabyte (decoding it all would cost the test
    # seconds of CPU; test_bombs_decode_exactly decodes smaller ones).
    zeros, check = bytes(MIB), 0 if enc == "gzip" else 1
    if enc in ("gzip", "deflate"):
        for _ in range(GIB // MIB):
            check = zlib.crc32(zeros, check) if enc == "gzip" else zlib.adler32(zeros, check)
    if enc == "gzip":
        assert body[-8:] == check.to_bytes(4, "little") + (GIB % (1 << 32)).to_bytes(4, "little")
    elif enc == "deflate":
        assert body[-4:] == check.to_bytes(4, "big")
    elif enc == "zstd":  # cheap to decode whole
        assert decode_zeros(enc, server.url(target), body) == GIB


@pytest.mark.parametrize("enc", ["gzip", "deflate", "br", "zstd"])
def test_bombs_decode_exactly(server, enc):
    # Odd sizes: a literal tail in deflate, a short last meta-block (br,
    # 16 MiB each) and block (zstd, 128 KiB each).
    for size in (100 * MIB + 7, 3 * (1 << 24) + 1):
        target = f"/gen/bomb.txt?fill=%00&size={size}&enc={enc}"
        body = payload(server, target)[2]
        assert decode_zeros(enc, server.url(target), body) == size


def test_trailers_keep_coming(server):
    r = Raw(server, "/gen/t.txt?size=10&trailers=endless")
    status, fields = r.head()
    assert status == 200 and fields["transfer-encoding"] == b"chunked"
    body, ended = r.chunks(100)
    assert ended and body == payload(server, "/gen/t.txt?size=10")[2]
    seen = 0
    while seen < 2 * MIB:
        line = r.until(b"\r\n")
        assert JUNK_LINE.fullmatch(line), line  # never the blank line
        seen += len(line)
    r.close()
    # trailers=N: exactly N bytes of them (the last line cut), then a close.
    r = Raw(server, "/gen/t.txt?size=10&trailers=1000")
    r.head()
    assert r.chunks(100)[1]
    while r.more():
        pass
    assert len(r.buf) == 1000 and r.buf.startswith(b"X-Junk-1: ")
    r.close()


def test_headers_keep_coming(server):
    r = Raw(server, "/gen/h.txt?headers=endless")
    assert r.until(b"\r\n") == b"HTTP/1.1 200 OK\r\n"
    fields = []
    seen = 0
    while seen < 2 * MIB:
        line = r.until(b"\r\n")
        if not seen and not line.startswith(b"X-Junk-"):
            fields.append(line)  # the usual fields come first
            continue
        assert JUNK_LINE.fullmatch(line), line  # never the blank line
        seen += len(line)
    assert b"Content-Length: 100000\r\n" in fields
    r.close()
    r = Raw(server, "/gen/h.txt?headers=500")
    while r.more():
        pass
    assert b"\r\n\r\n" not in r.buf
    assert len(r.buf[r.buf.index(b"X-Junk-1:"):]) == 500


def test_endless_error_and_redirect_bodies(server):
    for q, status in [("status=404", 404), ("status=500", 500),
                      ("location=/gen/elsewhere.txt", 302)]:
        r = Raw(server, f"/gen/x.txt?{q}&endless=1")
        got, fields = r.head()
        assert got == status and fields["transfer-encoding"] == b"chunked"
        if status == 302:
            assert fields["location"] == b"/gen/elsewhere.txt"
        body, ended = r.chunks(2 * MIB)
        assert not ended and len(body) >= 2 * MIB
        r.close()
    r = Raw(server, "/gen/x.txt?status=404&endless=1&fill=Z")
    assert r.head()[0] == 404
    body, _ = r.chunks(MIB)
    assert body[:MIB] == b"Z" * MIB
    r.close()
    # Throttled like any body: ~100 KB in one second at rate=100000.
    r = Raw(server, "/gen/x.txt?endless=1&rate=100000")
    r.head()
    t0 = time.monotonic()
    n = 0
    r.sock.settimeout(0.2)
    while time.monotonic() - t0 < 1.0:
        try:
            n += len(r.sock.recv(65536))
        except socket.timeout:
            pass
    r.close()
    assert 50000 < n < 200000


def test_raw_bytes_arrive_exactly(server):
    r = Raw(server, "/gen/r.txt?rawloc=%1b[31mred%ff%fe%7f%09x&status=307")
    status, fields = r.head()
    assert status == 307 and fields["location"] == b"\x1b[31mred\xff\xfe\x7f\tx"
    r.close()
    r = Raw(server, "/gen/r.txt?rawloc=%1b]8;;http://evil/%07")
    status, fields = r.head()
    assert status == 302 and fields["location"] == b"\x1b]8;;http://evil/\x07"
    r.close()
    r = Raw(server, "/gen/r.txt?rawhdr=%1b]0;pwned%07%c3%28%ff&size=10")
    status, fields = r.head()
    assert status == 200 and fields["x-raw"] == b"\x1b]0;pwned\x07\xc3\x28\xff"
    r.close()
    r = Raw(server, "/gen/r.txt?rawctype=text/plain;%20charset=%ff%1b[0m&size=10")
    assert r.head()[1]["content-type"] == b"text/plain; charset=\xff\x1b[0m"
    r.close()
    # http.client agrees (it reads header bytes as Latin-1).
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    c.request("GET", "/gen/r.txt?rawhdr=%e9%1b&size=3")
    resp = c.getresponse()
    assert resp.getheader("X-Raw") == "\xe9\x1b" and resp.read() == b"The"
    c.close()


def test_only_cr_lf_and_nul_are_refused(server):
    for q in ("location=%1b[31m", "location=a%0d%0aSet-Cookie:%20x=1", "location=%7f",
              "location=a%00b", "ctype=text/%1b", "rawloc=a%0d%0aSet-Cookie:%20x=1",
              "rawloc=a%0ab", "rawloc=a%00b", "rawhdr=a%0db", "rawhdr=%00",
              "rawctype=a%0a"):
        status, _, body = payload(server, f"/gen/b.txt?{q}")
        name = q.split("=")[0]
        assert status == 400 and body == f"bad value for {name}\n".encode(), q
    assert payload(server, "/gen/b.txt?location=/ok%20fine")[1]["location"] == b"/ok fine"


def test_clen_announces_any_length(server):
    # A huge promise, then silence: the connection stays open.
    r = Raw(server, "/gen/c.txt?size=0&clen=999999999999&stall=0")
    status, fields = r.head()
    assert fields["content-length"] == b"999999999999"
    r.sock.settimeout(0.5)
    with pytest.raises(socket.timeout):
        r.more()
    r.close()
    # short=: the same promise and a clean close; nothing short of the
    # promise makes the server reuse the connection either.
    for q in ("size=0&clen=999999999999&short=0", "size=0&clen=999999999999",
              "size=10&clen=1000"):
        r = Raw(server, f"/gen/c.txt?{q}")
        _, fields = r.head()
        assert fields["connection"] == b"close"
        while r.more():
            pass
        assert len(r.buf) == (10 if "size=10" in q else 0)
        r.close()
    # A body longer than the promise is sent whole.
    r = Raw(server, "/gen/c.txt?size=100&clen=10")
    _, fields = r.head()
    assert fields["content-length"] == b"10"
    while r.more():
        pass
    assert len(r.buf) == 100
    r.close()
    # Next to chunked framing, Content-Length is a lie that chunked wins.
    _, fields, body = payload(server, "/gen/c.txt?size=100&clen=5&chunked=1")
    assert fields["content-length"] == b"5" and len(body) == 100
    time.sleep(0.2)
    hows = {e["target"]: e["how"] for e in server.log() if e["ev"] == "end"}
    assert hows["/gen/c.txt?size=0&clen=999999999999&stall=0"] == "stalled"
    assert hows["/gen/c.txt?size=0&clen=999999999999&short=0"] == "short"
    assert hows["/gen/c.txt?size=0&clen=999999999999"] == "short"
    assert hows["/gen/c.txt?size=100&clen=10"] == "ok"


# Compressing text costs the server ~10 ns a byte: 32 MiB of gzip is
# ~100 MB of book.
@pytest.mark.parametrize("q,amount", [("endless=1&enc=gzip", 32 * MIB),
                                      ("endless=1&fill=%00&enc=zstd&zwindow=27", 200 * MIB),
                                      ("trailers=endless", 200 * MIB),
                                      ("headers=endless", 200 * MIB)])
def test_rss_stays_small_while_streaming_without_end(make_server, q, amount):
    srv = make_server()
    pid = srv.proc.pid
    asan = sanitized(pid)
    r = Raw(srv, f"/gen/m.txt?{q}")
    r.drain(8 * MIB)  # warm up: buffers and encoder allocated
    before = rss_kb(pid)
    n = r.drain(amount)
    after = rss_kb(pid)
    r.close()
    assert n >= amount
    # A few hundred KB per response; nothing grows with what was sent.
    assert after - before < (16384 if asan else 2048), (before, after)
    if not asan:
        assert after < 20000, after


def test_route_gives_a_fixed_path_its_query(make_server, tmp_path):
    """--route PATH?QUERY: a client that asks for PATH alone (a robots.txt)
    gets what the query says; with a query of its own it gets that."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /\n")
    srv = make_server("--root", str(root), "--route", "/robots.txt?status=503&delay=300",
                      "--route", "/moved.txt?location=/robots.txt&status=301")
    t0 = time.monotonic()
    status, _, body = payload(srv, "/robots.txt")
    assert status == 503 and body == b"status 503\n"
    assert time.monotonic() - t0 >= 0.3
    status, _, body = payload(srv, "/robots.txt?x=1")
    assert status == 200 and body == b"User-agent: *\nDisallow: /\n"
    status, fields, _ = payload(srv, "/moved.txt")
    assert status == 301 and fields["location"] == b"/robots.txt"
    bad = subprocess.run([srv.proc.args[0], "--route", "robots.txt"], capture_output=True)
    assert bad.returncode == 2
