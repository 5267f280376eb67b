"""Name resolution on the loop: c-ares against a DNS server of the test's own,
and proof that the process never runs a second thread."""
import os
import subprocess
import time

from conftest import JUGGLE, book_files, thread_samples


def test_one_thread_while_several_names_resolve_and_download(server, dns, tmp_path):
    names = ["a.test", "b.test", "c.test", "d.test"]
    d = dns({n: {"A": ["127.0.0.1"]} for n in names})
    urls = [f"http://{n}:{server.port}/gen/{n}-{i}.txt?delay=300&rate=200000&size=100000"
            for n in names for i in range(3)]
    proc = subprocess.Popen([JUGGLE, "-o", str(tmp_path / "t"), "--dns-servers",
                             f"127.0.0.1:{d.port}", *urls],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = thread_samples(proc)
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    assert len(samples) > 50, "the run was too short to sample"
    assert max(samples) == 1, f"saw {max(samples)} threads"
    asked = {q[0] for q in d.queries}
    assert set(names) <= asked
    # The cache answers repeated names: one A lookup per name, not per URL.
    assert sum(1 for q in d.queries if q[1] == 1) == len(names)
    hosts = {e["host"].split(":")[0] for e in server.starts("/gen/")}
    assert hosts == set(names)
    assert len(book_files(tmp_path / "t")) == 12


def test_unknown_name_is_a_clear_dns_error(server, dns, juggle):
    d = dns({"known.test": {"A": ["127.0.0.1"]}})
    good = f"http://known.test:{server.port}/gen/ok.txt"
    bad = f"http://nosuch.test:{server.port}/gen/x.txt"
    r = juggle("--dns-servers", f"127.0.0.1:{d.port}", good, bad)
    assert r.rc == 1
    b = r.books()[bad]
    assert b["error"].startswith("DNS: nosuch.test: ")
    assert "not found" in b["error"].lower()
    assert b["attempts"] == 1  # a name that does not exist is not retried
    assert r.files() == ["ok.txt"]


def test_ipv6_answers_are_used(make_server, dns, juggle):
    v6 = make_server("--bind", "::1")
    d = dns({"six.test": {"AAAA": ["::1"]}})
    url = f"http://six.test:{v6.port}/gen/v6.txt"
    r = juggle("--dns-servers", f"127.0.0.1:{d.port}", url)
    assert r.rc == 0, r.stderr
    assert r.files() == ["v6.txt"]


def test_resolve_pins_skip_dns(server, dns, juggle):
    d = dns({})
    url = f"http://pinned.test:{server.port}/gen/pin.txt"
    r = juggle("--dns-servers", f"127.0.0.1:{d.port}",
               "--resolve", f"pinned.test:{server.port}:127.0.0.1", url)
    assert r.rc == 0, r.stderr
    assert d.queries == []


def test_dead_dns_server_fails_cleanly(server, juggle):
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))  # bound, never answers
    port = s.getsockname()[1]
    t0 = time.monotonic()
    r = juggle("--retries", "0", "--dns-servers", f"127.0.0.1:{port}",
               f"http://quiet.test:{server.port}/x.txt")
    s.close()
    assert r.rc == 1
    assert "DNS: quiet.test:" in r.stderr
    assert time.monotonic() - t0 < 30
