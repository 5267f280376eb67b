"""What `meson install` puts on a machine: a static link of libjuggle.a
through pkg-config alone, the man page and the completions."""
import os
import shutil
import subprocess

import pytest

from conftest import BUILD

PROGRAM = r"""
#include <juggle.h>
#include <ev.h>
#include <stdio.h>
int main(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct jg_session *s;
	char why[JG_ERRBUF_SIZE];
	if (jg_global_init() != JG_OK || jg_session_new(&s, loop, NULL, why) != JG_OK) {
		fprintf(stderr, "session: %s\n", why);
		return 1;
	}
	printf("%s\n", jg_version());
	jg_session_free(s);
	ev_loop_destroy(loop);
	jg_global_cleanup();
	return 0;
}
"""


def test_static_link_through_pkg_config(tmp_path):
    if os.environ.get("JG_SANITIZE", "none") != "none":
        pytest.skip("a sanitizer build's libjuggle.a needs the sanitizer's runtime to link")
    if not shutil.which("pkg-config"):
        pytest.skip("pkg-config is not installed")
    dest = tmp_path / "dest"
    r = subprocess.run(["meson", "install", "-C", BUILD, "--destdir", str(dest), "--no-rebuild",
                        "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    pcs = list(dest.rglob("juggle.pc"))
    assert len(pcs) == 1
    libdir = pcs[0].parent.parent
    # Only the static library is left: -ljuggle must take it, and every
    # library it needs must come from the .pc's (private) fields.
    for so in libdir.glob("libjuggle.so*"):
        so.unlink()
    env = dict(os.environ, PKG_CONFIG_PATH=str(pcs[0].parent), PKG_CONFIG_SYSROOT_DIR=str(dest))
    flags = subprocess.run(["pkg-config", "--static", "--cflags", "--libs", "juggle"],
                           capture_output=True, text=True, env=env)
    assert flags.returncode == 0, flags.stderr
    assert "-lm" in flags.stdout and "-pthread" in flags.stdout, flags.stdout
    src = tmp_path / "x.c"
    src.write_text(PROGRAM)
    exe = tmp_path / "x"
    cc = subprocess.run(f"cc -o {exe} {src} {flags.stdout.strip()}", shell=True,
                        capture_output=True, text=True, cwd=tmp_path)
    assert cc.returncode == 0, cc.stderr
    ldd = subprocess.run(["ldd", str(exe)], capture_output=True, text=True).stdout
    assert "libjuggle" not in ldd, ldd  # linked in, not loaded
    run = subprocess.run([str(exe)], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().count(".") == 2
    # The rest of the install: the man page and both completions.
    assert list(dest.rglob("juggle.1"))
    assert list(dest.rglob("bash-completion/completions/juggle"))
    assert list(dest.rglob("zsh/site-functions/_juggle"))
