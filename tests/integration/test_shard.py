"""--shard K/N: array tasks of a scheduler split one list between them."""
import os
import subprocess

from conftest import JUGGLE


def test_four_shards_in_parallel_partition_the_list(server, tmp_path):
    urls = [server.url(f"/gen/s{i}.txt?size=3000") for i in range(60)] + ["7", "8", "9"]
    lst = tmp_path / "urls.txt"
    lst.write_text("\n".join(reversed(urls)) + "\n")  # order must not matter
    procs = []
    for k in range(4):
        env = dict(os.environ, SLURM_ARRAY_TASK_ID=str(k))
        procs.append(subprocess.Popen(
            [JUGGLE, "--shard", "auto/4", "--mirror", server.base, "-o",
             str(tmp_path / f"shard{k}"), "-i", str(lst)],
            stderr=subprocess.PIPE, text=True, env=env))
    seen = []
    for k, p in enumerate(procs):
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert f"juggle: shard {k}/4: " in err
        files = os.listdir(tmp_path / f"shard{k}")
        assert files, f"shard {k} got nothing of 63 URLs"
        seen += files
    whole = subprocess.run([JUGGLE, "-q", "--mirror", server.base, "-o", str(tmp_path / "all"),
                            "-i", str(lst)], capture_output=True, text=True, timeout=60)
    assert whole.returncode == 0, whole.stderr
    assert sorted(seen) == sorted(os.listdir(tmp_path / "all"))
    assert len(seen) == 63


def test_shard_usage_errors(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX")}
    for arg, why in (("4/4", "0 <= K < N"), ("auto/4", "neither SLURM_ARRAY_TASK_ID"),
                     ("2", "K/N or auto/N")):
        p = subprocess.run([JUGGLE, "--shard", arg, "http://x.test/a"], capture_output=True,
                           text=True, env=env)
        assert p.returncode == 2 and why in p.stderr, (arg, p.stderr)
