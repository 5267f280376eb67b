"""juggle embedded in a host's own libev loop (tests/embed/embed_host.c,
linked against the shared library), and a program outside the tree built
only with pkg-config against an installed copy."""
import os
import shutil
import subprocess
import textwrap

import pytest

from conftest import BUILD, VERSION

HOST = os.path.join(BUILD, "tests", "embed_host")
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_host(mode, server, tmp_path, env=None):
    out = tmp_path / "out"
    proc = subprocess.run([HOST, mode, server.base, str(out)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "all good" in proc.stderr
    return proc.stderr


def test_host_timer_and_io_keep_their_times(server, tmp_path):
    err = run_host("timer", server, tmp_path)
    assert "200 ok, 200 counted" in err


def test_host_with_threads_gets_workers_by_exec(server, tmp_path):
    err = run_host("threads", server, tmp_path,
                   {"JUGGLE_WORKER": os.path.join(BUILD, "juggle-worker")})
    assert "40 ok, 40 counted" in err


def test_host_with_threads_and_no_helper_fails_clearly(server, tmp_path):
    proc = subprocess.run([HOST, "threads", server.base, str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "JUGGLE_WORKER": str(tmp_path / "missing")})
    assert proc.returncode == 1
    assert f"cannot start the worker helper {tmp_path}/missing: No such file" in proc.stderr


def test_saving_only_the_session_tells_each_files_mtime(server, tmp_path):
    err = run_host("nocount", server, tmp_path)
    assert "nocount: 20 ok, 20 stamped" in err


def test_two_sessions_share_a_loop_and_add_from_callbacks(server, tmp_path):
    run_host("two", server, tmp_path)


def test_free_with_transfers_in_flight(server, tmp_path):
    err = run_host("free", server, tmp_path)
    assert "cancelled" in err


def test_forgetting_session_takes_a_finished_url_again(server, tmp_path):
    err = run_host("forget", server, tmp_path)
    assert "forget: 3 failed, 2 saved, 5 added, 2 files" in err


def test_robots_through_the_public_api(server, tmp_path):
    err = run_host("robots", server, tmp_path)
    assert "robots: 3 ok of 3" in err
    assert [e["target"] for e in server.starts()][0] == "/robots.txt"


def test_installed_library_builds_a_program_with_pkg_config(tmp_path):
    if not shutil.which("pkg-config"):
        pytest.skip("pkg-config is not installed")
    prefix = tmp_path / "prefix"
    build = tmp_path / "build"
    subprocess.run(["meson", "setup", str(build), SOURCE, f"--prefix={prefix}",
                    "--buildtype=release"], check=True, capture_output=True, timeout=300)
    subprocess.run(["meson", "install", "-C", str(build)], check=True, capture_output=True,
                    timeout=600)
    libdir = next(p.parent for p in prefix.rglob("juggle.pc"))
    env = {**os.environ, "PKG_CONFIG_PATH": str(libdir)}
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "juggle"], env=env,
                           capture_output=True, text=True, check=True).stdout.split()
    assert any(f.startswith("-I") for f in flags) and "-ljuggle" in flags
    prog = tmp_path / "user.c"
    prog.write_text(textwrap.dedent("""\
        #include <juggle.h>
        #include <ev.h>
        #include <stdio.h>
        int main(void)
        {
            struct jg_options *o = jg_options_new();
            jg_options_set_output_dir(o, "out");
            if (jg_global_init() != JG_OK)
                return 1;
            struct jg_session *s;
            char why[JG_ERRBUF_SIZE];
            struct ev_loop *loop = ev_loop_new(0);
            if (jg_session_new(&s, loop, o, why) != JG_OK)
                return 1;
            printf("%s %d %s\\n", jg_version(), jg_session_add_url(s, "ftp://x/y", NULL),
                   jg_engine_name(JG_ENGINE_LOOP));
            jg_session_free(s);
            jg_options_free(o);
            ev_loop_destroy(loop);
            jg_global_cleanup();
            return 0;
        }
        """))
    exe = tmp_path / "user"
    subprocess.run(["cc", "-Wall", "-Werror", "-o", str(exe), str(prog), *flags], check=True,
                   env=env, timeout=120)
    run = subprocess.run([str(exe)], capture_output=True, text=True, cwd=tmp_path, timeout=30,
                         env={**os.environ, "LD_LIBRARY_PATH": str(libdir.parent)})
    assert run.returncode == 0, run.stderr
    version, err, engine = run.stdout.split()
    assert version == VERSION and int(err) < 0 and engine == "loop"
    # Only the API is exported, under a versioned SONAME.
    so = next(libdir.parent.glob("libjuggle.so.0.*"))
    dyn = subprocess.run(["readelf", "-d", str(so)], capture_output=True, text=True).stdout
    assert "Library soname: [libjuggle.so.0]" in dyn
    syms = subprocess.run(["nm", "-D", "--defined-only", str(so)], capture_output=True,
                          text=True).stdout.split("\n")
    names = [line.split()[-1] for line in syms if line.strip()]
    assert names and all(n.startswith("jg_") for n in names), names
    assert (prefix / "include" / "juggle.h").exists()
    assert list(prefix.rglob("juggle-worker"))
