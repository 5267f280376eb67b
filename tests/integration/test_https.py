"""HTTPS against a production server: nginx with a certificate made now."""
import os
import subprocess

import pytest


@pytest.fixture
def nginx(tmp_path, make_nginx):
    d = tmp_path / "tls"
    root = d / "root"
    (root / "books").mkdir(parents=True)
    for i in range(30):
        (root / "books" / f"b{i}.txt").write_bytes((f"book {i} " * 5000).encode())
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=books.test", "-addext", "subjectAltName=DNS:books.test",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True)
    n = make_nginx(f"""
    gzip on;
    gzip_types text/plain;
    server {{
        listen 127.0.0.1:{{port}} ssl http2;
        server_name books.test;
        ssl_certificate {d}/cert.pem;
        ssl_certificate_key {d}/key.pem;
        root {root};
    }}
""")
    return {"port": n.port, "dir": n.dir, "cert": d / "cert.pem", "root": root}


def test_https_with_cacert_and_resolve_uses_http2(nginx, juggle):
    port = nginx["port"]
    urls = [f"https://books.test:{port}/books/b{i}.txt" for i in range(30)]
    r = juggle("--cacert", str(nginx["cert"]),
               "--resolve", f"books.test:{port}:127.0.0.1", "-j", "30", "--per-host", "30", *urls)
    assert r.rc == 0, r.stderr
    for i in range(30):
        with open(os.path.join(r.out, f"b{i}.txt"), "rb") as a, \
             open(nginx["root"] / "books" / f"b{i}.txt", "rb") as b:
            assert a.read() == b.read()
    lines = (nginx["dir"] / "access.log").read_text().splitlines()
    assert len(lines) == 30
    assert all(line.startswith("HTTP/2.0 ") for line in lines)
    connections = {line.split()[1] for line in lines}
    assert len(connections) <= 2, "streams were not multiplexed"


def test_tls_verification_is_always_on(nginx, juggle):
    port = nginx["port"]
    url = f"https://books.test:{port}/books/b1.txt"
    r = juggle("--resolve", f"books.test:{port}:127.0.0.1", "--retries", "0", url)
    assert r.rc == 1
    assert "certificate" in r.books()[url]["error"].lower()
    assert r.files() == []
