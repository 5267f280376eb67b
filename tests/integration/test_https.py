"""HTTPS against a production server: nginx with a certificate made now."""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def nginx(tmp_path):
    if not os.path.exists(NGINX):
        pytest.skip("nginx is not installed")
    d = tmp_path / "nginx"
    root = d / "root"
    (root / "books").mkdir(parents=True)
    for i in range(30):
        (root / "books" / f"b{i}.txt").write_bytes((f"book {i} " * 5000).encode())
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=books.test", "-addext", "subjectAltName=DNS:books.test",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True)
    port = free_port()
    (d / "nginx.conf").write_text(f"""
daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 1024; }}
http {{
    log_format combined_proto '$server_protocol $connection $connection_requests $request_uri';
    access_log {d}/access.log combined_proto;
    client_body_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;
    gzip on;
    gzip_types text/plain;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        server_name books.test;
        ssl_certificate {d}/cert.pem;
        ssl_certificate_key {d}/key.pem;
        root {root};
    }}
}}
""")
    (d / "tmp").mkdir()
    proc = subprocess.Popen([NGINX, "-p", str(d), "-e", str(d / "error.log"), "-c", str(d / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("nginx did not start: " + proc.stderr.read().decode())
    yield {"port": port, "dir": d, "root": root}
    proc.send_signal(signal.SIGQUIT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_https_with_cacert_and_resolve_uses_http2(nginx, juggle):
    port = nginx["port"]
    urls = [f"https://books.test:{port}/books/b{i}.txt" for i in range(30)]
    r = juggle("--cacert", str(nginx["dir"] / "cert.pem"),
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
