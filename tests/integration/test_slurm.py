"""examples/slurm on a real Slurm cluster: a single node on this machine,
with munge, slurmctld and slurmd from Debian's packages run by the test
with a configuration of its own. submit.sh's array job of `--shard auto/4`
tasks and the merge job after it must give what one run over the whole
list gives: the same files, byte for byte, and the same word counts."""
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import JUGGLE

EXAMPLES = os.path.join(os.path.dirname(__file__), "../../examples/slurm")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "sinfo", "scontrol", "scancel")
SHARDS = 4


def find(tool):
    for path in (shutil.which(tool), f"/usr/sbin/{tool}"):
        if path and os.access(path, os.X_OK):
            return path
    return None


def free_ports(n):
    # Another process could take one before the daemon binds it; on a test
    # machine that is rare enough. Held together so that they differ.
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Cluster:
    """munged + slurmctld + slurmd on 127.0.0.1, everything under tmp."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []
        self.jobs = []
        # munged wants its socket's directory, and every parent, searchable
        # by all, which pytest's 0700 tmp_path is not.
        self.munge_dir = tempfile.mkdtemp(prefix="jg-munge-")
        os.chmod(self.munge_dir, 0o755)
        self.munge_sock = os.path.join(self.munge_dir, "socket")
        self.host = socket.gethostname().split(".")[0]
        self.conf = os.path.join(tmp, "slurm.conf")
        # Only the test's own cluster: no Slurm setting of the caller leaks in
        # (SLURM_ARRAY_TASK_ID of an enclosing job would choose the shard).
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("SLURM_", "SBATCH_", "SQUEUE_", "SINFO_"))}
        self.env["SLURM_CONF"] = self.conf

    def start(self):
        key = os.path.join(self.tmp, "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o600)
        self.spawn("munged", "-F", "--key-file", key, "--socket", self.munge_sock,
                   "--pid-file", os.path.join(self.tmp, "munged.pid"),
                   "--seed-file", os.path.join(self.tmp, "munged.seed"))
        self.wait(lambda: os.path.exists(self.munge_sock), 10, "munged's socket")

        for d in ("state", "spool"):
            os.mkdir(os.path.join(self.tmp, d))
        user = pwd.getpwuid(os.getuid()).pw_name
        cpus = os.cpu_count() or 1
        ctld_port, slurmd_port = free_ports(2)
        with open(self.conf, "w") as f:
            f.write(f"""\
ClusterName=jgtest
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
AuthInfo=socket={self.munge_sock}
CredType=cred/munge
StateSaveLocation={self.tmp}/state
SlurmdSpoolDir={self.tmp}/spool
SlurmctldPidFile={self.tmp}/slurmctld.pid
SlurmdPidFile={self.tmp}/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=600
# Start a batch job as soon as it can run, not up to 3 s later (the default).
SchedulerParameters=batch_sched_delay=0
NodeName={self.host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=100 State=UNKNOWN
PartitionName=debug Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
""")
        # -D: in the foreground, logging to stderr (no LogFile set).
        self.spawn("slurmctld", "-D", "-f", self.conf)
        self.spawn("slurmd", "-D", "-f", self.conf, "-N", self.host)
        self.wait(lambda: self.run("sinfo", "-h", "-n", self.host, "-o", "%T",
                                   check=False).stdout.strip() == "idle",
                  30, f"node {self.host} to be idle")

    def spawn(self, name, *args):
        err = open(os.path.join(self.tmp, f"{name}.log"), "w")
        self.procs.append((name, subprocess.Popen([find(name), *args], env=self.env,
                                                  stdin=subprocess.DEVNULL, stdout=err,
                                                  stderr=err)))
        err.close()

    def logs(self):
        out = []
        for name, _ in self.procs:
            with open(os.path.join(self.tmp, f"{name}.log")) as f:
                out.append(f"--- {name}\n" + "".join(f.readlines()[-15:]))
        return "\n".join(out)

    def wait(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while not cond():
            dead = [n for n, p in self.procs if p.poll() is not None]
            assert not dead, f"{dead} exited while waiting for {what}\n{self.logs()}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}\n{self.logs()}"
            time.sleep(0.2)

    def run(self, tool, *args, check=True, **kw):
        p = subprocess.run([find(tool), *args], env=self.env, capture_output=True, text=True,
                           timeout=30, **kw)
        assert not check or p.returncode == 0, f"{tool} {args}: {p.stderr}"
        return p

    def queued(self, jobs):
        """Jobs among `jobs` still pending, running or completing."""
        p = self.run("squeue", "-h", "-o", "%i %T", "-j", ",".join(jobs), check=False)
        if p.returncode != 0 and "Invalid job id" not in p.stderr:
            return [p.stderr]  # the controller did not answer: ask again
        # An id the controller has already forgotten is an error: not queued.
        return p.stdout.split()[::2]

    def states(self, job):
        """(array task id or -1, JobState, ExitCode) of the job or of each task."""
        out = self.run("scontrol", "-o", "show", "job", job).stdout
        return sorted((int(m[1]) if m[1] else -1, m[2], m[3]) for m in re.finditer(
            r"(?:ArrayTaskId=(\d+) .*?)?JobState=(\w+) .*?ExitCode=(\d+:\d+)", out))

    def submit(self, lst, out, shards, juggle_args):
        """examples/slurm/submit.sh; waits for both jobs to end and returns
        their ids and the seconds from submission to the end."""
        env = dict(self.env, JUGGLE=JUGGLE, LIST=str(lst), OUT=str(out), SHARDS=str(shards),
                   JUGGLE_ARGS=" ".join(juggle_args))
        t0 = time.monotonic()
        p = subprocess.run([os.path.join(EXAMPLES, "submit.sh")], env=env, capture_output=True,
                           text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        array = re.search(r"^array job (\d+)", p.stdout, re.M)[1]
        merge = re.search(r"^merge job (\d+)", p.stdout, re.M)[1]
        self.jobs += [array, merge]
        # Without accounting there is no sacct: a job has ended when squeue
        # no longer lists it, and scontrol still knows how (MinJobAge=600).
        self.wait(lambda: not self.queued([array, merge]), 90, f"jobs {array} and {merge}")
        return array, merge, time.monotonic() - t0

    def stop(self):
        alive = self.procs and all(p.poll() is None for _, p in self.procs)
        if alive and self.jobs and self.queued(self.jobs):
            # A test that failed early may leave jobs running, and they would
            # outlive slurmd (slurmstepd is detached from it).
            self.run("scancel", *self.jobs, check=False)
            try:
                self.wait(lambda: not self.queued(self.jobs), 20, "cancelled jobs to end")
            except AssertionError as e:
                print(e)
        for _, p in reversed(self.procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.munge_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    missing = [t for t in DAEMONS + CLIENTS if not find(t)]
    if missing:
        pytest.skip(f"Slurm/munge not installed (no {', '.join(missing)}): "
                    "apt-get install slurmctld slurmd slurm-client munge")
    # One cluster for the module: starting one takes a few seconds.
    c = Cluster(str(tmp_path_factory.mktemp("slurm")))
    try:
        c.start()
        yield c
    finally:
        c.stop()


def books(d):
    """{name: bytes} of a directory's books; .juggle holds a shard's own state."""
    out = {}
    for name in os.listdir(d):
        if name != ".juggle":
            with open(os.path.join(d, name), "rb") as f:
                out[name] = f.read()
    return out


def log(out, name):
    """A job's output, as submit.sh names it."""
    p = out / "logs" / name
    return p.read_text() if p.exists() else f"(no {p})"


def totals(report):
    return {"ok": report["totals"]["ok"], "failed": report["totals"]["failed"],
            "words": report["counts"]["words"], "distinct": report["counts"]["distinct"]}


def test_array_job_and_merge_equal_one_run(slurm, make_server, tmp_path):
    server = make_server("--book-size", "40000")
    # 50 ebook numbers on --mirror (passed through JUGGLE_ARGS) and 10 URLs.
    lines = [str(n) for n in range(1, 51)] + \
        [server.url(f"/gen/extra{i}.txt?size={5000 + 997 * i}") for i in range(10)]
    lst = tmp_path / "urls.txt"
    lst.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    mirror = ["--mirror", server.base]

    array, merge, elapsed = slurm.submit(lst, out, SHARDS, mirror)

    tasks = slurm.states(array)
    assert [t for t, _, _ in tasks] == list(range(SHARDS)), tasks
    for k, state, code in tasks:
        assert (state, code) == ("COMPLETED", "0:0"), \
            f"shard {k}: {state} {code}\n{log(out, f'shard-{k}.out')}"

    # What one process makes of the whole list.
    whole = subprocess.run([JUGGLE, "-q", *mirror, "-i", str(lst), "-o", str(tmp_path / "all"),
                            "--counts", str(tmp_path / "all.tsv"),
                            "--json", str(tmp_path / "all.json")],
                           capture_output=True, text=True, timeout=60)
    assert whole.returncode == 0, whole.stderr
    expect = books(tmp_path / "all")
    assert len(expect) == 60
    one = json.loads((tmp_path / "all.json").read_text())
    assert one["totals"]["ok"] == 60 and one["counts"]["words"] > 0

    # Each task took its own part, announced it, and the parts make the whole.
    got = {}
    for k in range(SHARDS):
        part = books(out / f"shard-{k}")
        assert part, f"shard {k} got none of 60 books"
        assert not part.keys() & got.keys(), f"shard {k} repeats {part.keys() & got.keys()}"
        got.update(part)
        assert f"juggle: shard {k}/{SHARDS}: " in log(out, f"shard-{k}.out")
        report = json.loads((out / "logs" / f"shard-{k}.json").read_text())
        assert report["totals"]["ok"] == len(part) and report["totals"]["failed"] == 0
    assert sorted(got) == sorted(expect)
    for name in expect:
        assert got[name] == expect[name], f"{name} differs from the single run's"

    # The merge job: juggle merge over the shard directories.
    [(_, state, code)] = slurm.states(merge)
    assert (state, code) == ("COMPLETED", "0:0"), f"merge: {state} {code}\n{log(out, 'merge.out')}"
    assert (out / "counts.tsv").read_bytes() == (tmp_path / "all.tsv").read_bytes()
    merged = json.loads((out / "report.json").read_text())
    assert totals(merged) == totals(one)
    print(f"submit to merged: {elapsed:.1f} s")


def test_a_failed_task_cancels_the_merge(slurm, server, tmp_path):
    # One URL answers 404: its task exits 1, so afterok can never be met and
    # submit.sh's --kill-on-invalid-dep cancels the merge instead of leaving
    # it pending for ever.
    bad = server.url("/gen/missing.txt?status=404")
    lst = tmp_path / "urls.txt"
    lst.write_text("\n".join([bad] + [str(n) for n in range(1, 9)]) + "\n")
    out = tmp_path / "out"
    array, merge, _ = slurm.submit(lst, out, 2, ["--mirror", server.base])

    tasks = slurm.states(array)
    failed = [k for k, state, code in tasks if (state, code) == ("FAILED", "1:0")]
    assert len(failed) == 1 and len(tasks) == 2, tasks
    assert bad in log(out, f"shard-{failed[0]}.out")
    [(_, state, _)] = slurm.states(merge)
    assert state == "CANCELLED", state
    assert not (out / "counts.tsv").exists()
