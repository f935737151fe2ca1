"""A job's whole tree stops (setsid escapees too); a process that is not the job's is never signalled."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from mathbench.core import jobs
from mathbench.core.jobs import tree
from tests.standins import mathbench, wait_for, ws  # noqa: F401  (fixtures)

# A job whose child calls setsid (leaving the job's process group) and sleeps; both write their pids.
ESCAPEE = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import os, time\\nos.setsid()\\nopen('escapee.pid','w').write(str(os.getpid()))\\ntime.sleep(600)"])
open('main.pid', 'w').write(str(os.getpid()))
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    return jobs.pid_alive(pid)


@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroup", "descendants"])
def test_stop_reaches_a_child_that_called_setsid(ws, tmp_path, monkeypatch, cgroups):  # noqa: F811
    if not cgroups:
        monkeypatch.setenv("MATHBENCH_NO_CGROUP", "1")
    elif tree.cgroup2_root() is None or os.geteuid() != 0:
        pytest.skip("no cgroup v2 to make job cgroups in")
    job = jobs.start_job(ws, "train", [sys.executable, "-c", ESCAPEE], cwd=tmp_path)
    escapee = int(wait_for(lambda: (tmp_path / "escapee.pid").is_file() and (tmp_path / "escapee.pid").read_text(),
                           what="the escapee"))
    main = int((tmp_path / "main.pid").read_text())
    job = jobs.get_job(ws, job.id)
    assert (job.cgroup is not None) == cgroups
    assert os.getpgid(escapee) != job.pgid  # out of the job's process group
    assert {main, escapee} <= set(jobs.job_pids(job))
    stopped = jobs.stop_job(ws, job.id, grace=2, kill_wait=10)
    assert stopped.state == "stopped"
    wait_for(lambda: not _alive(escapee) and not _alive(main), what="the whole tree to end")
    if job.cgroup:
        assert not os.path.exists(job.cgroup)  # removed once empty


def test_stop_never_signals_a_process_that_reused_the_jobs_pid(ws, tmp_path):  # noqa: F811
    job = jobs.start_job(ws, "eval", [sys.executable, "-c", "pass"])
    job = jobs.wait_job(ws, job.id, timeout=30)
    # Another program now holds what was the job's pid and process group (as after pid reuse).
    innocent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        rec = json.loads((job.dir / "job.json").read_text())
        rec.update(state="running", pid=innocent.pid, pgid=innocent.pid, runner_pid=None, cgroup=None,
                   pid_start=(tree.proc_start_ticks(innocent.pid) or 0) - 1)  # started at another time
        (job.dir / "job.json").write_text(json.dumps(rec))
        job = jobs.get_job(ws, job.id)
        assert jobs.job_pids(job) == []
        assert jobs.control.check_is_job(job) and "another process" in jobs.control.check_is_job(job)
        jobs.stop_job(ws, job.id, grace=0.2, kill_wait=0.2)
        time.sleep(0.3)
        assert innocent.poll() is None, "an innocent process was signalled"
    finally:
        innocent.kill()
        innocent.wait()


def test_deleting_a_running_jobs_folder_keeps_the_way_to_stop_it(ws, tmp_path):  # noqa: F811
    job = jobs.start_job(ws, "synth", [sys.executable, "-c", "import time; time.sleep(600)"])
    job = jobs.get_job(ws, job.id)
    pid = job.pid
    shutil.rmtree(job.dir)
    listed = [j.id for j in jobs.list_jobs(ws)]
    assert listed == [job.id]  # still known, from the index of running jobs
    out = mathbench("-w", str(ws.root), "jobs", "stop", job.id, "--grace", "5")
    assert out.returncode == 0 and f"{job.id} stopped" in out.stdout, out.stderr
    wait_for(lambda: not _alive(pid), what="the job to end")
    assert jobs.get_job(ws, job.id).state == "stopped"
    assert not (ws.state_dir / "jobs" / f"{job.id}.json").exists()  # the index keeps running jobs only


def test_port_holders_are_named(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert tree.port_listening(port)
        holders = tree.port_holders(port)
        if os.geteuid() == 0 or holders:
            assert holders == [os.getpid()]
        assert "python" in tree.describe_pid(os.getpid())
    assert not tree.port_listening(port)


def test_the_job_inherits_default_sigint(ws, tmp_path):  # noqa: F811
    """The runner ignores SIGINT; the job must not inherit that (vLLM's engine would survive a Ctrl-C)."""
    code = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, flush=True)"
    job = jobs.wait_job(ws, jobs.start_job(ws, "eval", [sys.executable, "-c", code]).id, timeout=30)
    assert jobs.tail_log(job, 1) == ["True"]
