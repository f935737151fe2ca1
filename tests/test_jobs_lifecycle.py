"""Detached jobs for real: start, outlive the launcher (kill -9), re-attach, fail visibly, stop and escalate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from mathbench.core import jobs
from mathbench.core.jobs.progress import job_progress, job_summary
from mathbench.core.jobs.training import TrainerLog, start_training, training_status
from tests.standins import REPO_ROOT, mathbench, standins, wait_for, ws  # noqa: F401  (fixtures)

LONG = {"STANDIN_STEPS": "100000"}


def _train(ws, monkeypatch, **env):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return start_training(ws, "lora_sft", ["model_path=/models/Qwen2.5-0.5B", "logging_steps=1", "save_steps=5"])


def test_generic_job_records_output_and_exit_code(ws):
    code = "import sys\nfor i in range(3): print('line', i)\nprint('oops', file=sys.stderr)\nsys.exit(3)"
    job = jobs.start_job(ws, "eval", [sys.executable, "-c", code], meta={"title": "demo"})
    assert job.kind == "eval" and job.pid and job.pgid == job.pid and job.pid != os.getpid()
    lines = list(jobs.follow_log(job))
    assert lines == ["line 0", "line 1", "line 2", "oops"]
    done = jobs.get_job(ws, job.id)
    assert (done.state, done.exit_code) == ("failed", 3)
    assert done.end >= done.start
    rec = json.loads((done.dir / "job.json").read_text())
    assert rec["exit_code"] == 3 and rec["command"][1] == "-c"
    # The id's unique prefix works too.
    assert jobs.get_job(ws, job.id[:-1]).id == job.id


def test_missing_executable_fails_with_message(ws):
    job = jobs.start_job(ws, "serve", ["no-such-program-mathbench"])
    job = jobs.wait_job(ws, job.id, timeout=10)
    assert job.state == "failed" and job.exit_code == 127
    assert "no-such-program-mathbench" in "\n".join(jobs.tail_log(job, 5))


def test_failed_training_shows_exit_code_and_log_tail(ws, standins, monkeypatch):
    job = _train(ws, monkeypatch, STANDIN_FAIL_AT="4", STANDIN_EXIT="1")
    job = jobs.wait_job(ws, job.id, timeout=30)
    assert (job.state, job.exit_code) == ("failed", 1)
    summary = job_summary(job)
    assert any("CUDA out of memory" in line for line in summary["log_tail"])
    out = mathbench("-w", str(ws.root), "jobs")
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if line.startswith(job.id))
    assert "failed (1)" in row
    assert "CUDA out of memory at step 4" in out.stdout
    listed = json.loads(mathbench("-w", str(ws.root), "jobs", "--json").stdout)
    assert listed[0]["id"] == job.id and listed[0]["exit_code"] == 1


def test_job_outlives_killed_launcher_and_can_be_reattached(ws, standins, tmp_path):
    # A launcher that starts the job, reports its id, then hangs until SIGKILLed (a TUI dying hard).
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from pathlib import Path
        from mathbench.core.workspace import Workspace
        from mathbench.core.jobs.training import start_training
        job = start_training(Workspace(Path({str(ws.root)!r})), "lora_sft", ["model=/m/q", "logging_steps=1"])
        print(job.id, flush=True)
        time.sleep(600)
    """)
    env = dict(os.environ, STANDIN_STEPS="40")
    launcher = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        job_id = launcher.stdout.readline().strip()
        assert job_id.startswith("train-")
        os.kill(launcher.pid, signal.SIGKILL)
        launcher.wait(10)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    job = jobs.get_job(ws, job_id)
    assert job.state == "running"
    lines = list(jobs.follow_log(job, backlog=1000))
    assert any("***** train metrics *****" in line for line in lines)
    done = jobs.get_job(ws, job_id)
    assert (done.state, done.exit_code) == ("succeeded", 0)
    prog = TrainerLog(done.output_dir)
    prog.poll()
    assert (prog.progress.step, prog.progress.total) == (40, 40)


def test_cli_train_exits_at_once_and_job_finishes(ws, standins):
    out = mathbench("-w", str(ws.root), "train", "lora_sft", "model_path=/m/q", "epochs=2", "lr=2e-5",
                    "logging_steps=2", env={"STANDIN_STEPS": "10"})
    assert out.returncode == 0, out.stderr
    job_id = out.stdout.strip()
    job = jobs.wait_job(ws, job_id, timeout=30)
    assert job.state == "succeeded"
    cfg = (job.dir / "train.yaml").read_text()
    assert "learning_rate: 2.0e-05" in cfg and "num_train_epochs: 2" in cfg


def test_graceful_stop_uses_sigabrt_in_llamaboard_mode(ws, standins, monkeypatch):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard if hard != resource.RLIM_INFINITY else 1 << 30, hard))
    try:
        job = _train(ws, monkeypatch, **LONG)  # inherits a non-zero core limit from us...
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))
    log = TrainerLog(job.output_dir)
    wait_for(lambda: log.poll() or log.progress.step and log.progress.step >= 3, what="training progress")
    limits = f"/proc/{job.pid}/limits"
    if os.path.exists(limits):  # ...which the wrapper drops: SIGABRT is the clean stop here, not a crash
        core = next(line for line in open(limits) if line.startswith("Max core file size"))
        assert core.split()[4] == "0"
    stopped = jobs.stop_job(ws, job.id, grace=20)
    assert stopped.state == "stopped"
    assert stopped.exit_code == 0  # the stand-in caught SIGABRT, finished the step and saved
    assert stopped.stop_requested is not None
    out_dir = stopped.output_dir
    assert "abort" not in open(os.path.join(out_dir, "running_log.txt")).read()  # as the real one: not a word
    assert os.path.exists(os.path.join(out_dir, "all_results.json"))
    status = training_status(out_dir)
    assert status.progress.phase == f"stopped at step {status.progress.step}/{status.progress.total}"
    assert status.progress.remaining and status.progress.eta is None  # a stale remaining_time is no ETA
    shown = job_progress(jobs.get_job(ws, job.id)).text
    assert shown.startswith("stopped at step") and "ETA" not in shown


def test_stop_escalates_to_sigkill_when_ignored(ws, standins, monkeypatch):
    job = _train(ws, monkeypatch, STANDIN_IGNORE_SIGNALS="1", **LONG)
    wait_for(lambda: os.path.exists(os.path.join(job.output_dir, "trainer_log.jsonl")), what="first log line")
    stopped = jobs.stop_job(ws, job.id, grace=0.5)
    assert (stopped.state, stopped.exit_code) == ("stopped", -signal.SIGKILL)
    assert not jobs.pid_alive(job.pid, job.pid_start)


def test_cli_stop_and_sigterm_for_plain_jobs(ws):
    job = jobs.start_job(ws, "synth", [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(600)"])
    assert jobs.default_stop_signal(job) == signal.SIGTERM
    bad = mathbench("-w", str(ws.root), "jobs", "stop", job.id, "--signal", "SIGNOPE")
    assert bad.returncode == 2 and "unknown signal 'SIGNOPE'" in bad.stderr
    assert jobs.get_job(ws, job.id).state == "running" and jobs.get_job(ws, job.id).stop_requested is None
    out = mathbench("-w", str(ws.root), "jobs", "stop", job.id, "--grace", "10")
    assert out.returncode == 0, out.stderr
    assert f"{job.id} stopped (exit code -15)" in out.stdout
    again = mathbench("-w", str(ws.root), "jobs", "stop", job.id)
    assert "not running (stopped)" in again.stdout


def test_unwatched_death_of_wrapper_and_job_reads_as_failed(ws):
    job = jobs.start_job(ws, "eval", [sys.executable, "-c", "import time; time.sleep(600)"])
    os.kill(job.runner_pid, signal.SIGKILL)
    os.killpg(job.pgid, signal.SIGKILL)
    wait_for(lambda: not jobs.pid_alive(job.pid, job.pid_start), what="job death")
    dead = wait_for(lambda: (j := jobs.get_job(ws, job.id)).finished and j, what="reconciled state")
    assert dead.state == "failed" and dead.exit_code is None
    assert "not recorded" in dead.error
    # The reconciled state is written back, so it reads the same next time.
    assert json.loads((dead.dir / "job.json").read_text())["state"] == "failed"


def test_attach_cli_follows_and_ctrl_c_only_detaches(ws):
    code = "import time\nfor i in range(100000):\n    print('tick', i, flush=True)\n    time.sleep(0.02)"
    job = jobs.start_job(ws, "eval", [sys.executable, "-u", "-c", code])
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "mathbench.tui", "-w", str(ws.root), "jobs", "attach", job.id],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(REPO_ROOT))
    try:
        seen = [proc.stdout.readline() for _ in range(5)]
        assert all(line.startswith("tick") for line in seen)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "detached" in err
    assert jobs.get_job(ws, job.id).state == "running"


def test_follow_log_never_repeats_or_splits_a_torn_line(ws, tmp_path):
    # The job writes half a line, pauses, then finishes it: a follower must see it once, whole.
    code = ("import sys, time\nsys.stdout.write('first\\nhal'); sys.stdout.flush(); time.sleep(0.5)\n"
            "sys.stdout.write('f line\\nlast\\n'); sys.stdout.flush()")
    job = jobs.start_job(ws, "eval", [sys.executable, "-c", code])
    wait_for(lambda: job.log_path.exists() and b"hal" in job.log_path.read_bytes(), what="half line")
    assert list(jobs.follow_log(job, backlog=10)) == ["first", "half line", "last"]


def test_progress_from_job_process_and_meta(ws, tmp_path):
    code = "from mathbench.core.jobs.progress import report_progress\nreport_progress(7, 10, 'items 7/10')"
    env = {"PYTHONPATH": str(REPO_ROOT)}
    job = jobs.wait_job(ws, jobs.start_job(ws, "eval", [sys.executable, "-c", code], env=env).id, timeout=20)
    assert job.state == "succeeded", jobs.tail_log(job)
    prog = job_progress(job)
    assert (prog.done, prog.total, prog.fraction, prog.text) == (7, 10, 0.7, "items 7/10")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.jsonl").write_text('{"id": 1}\n{"id": 2}\n')
    job2 = jobs.start_job(ws, "eval", [sys.executable, "-c", "pass"], meta={"run_dir": str(run_dir), "total": 8})
    assert job_progress(job2).text == "2/8"


def test_unknown_kind_and_id_are_clear_errors(ws):
    with pytest.raises(jobs.JobError, match="unknown job kind"):
        jobs.start_job(ws, "bake", ["true"])
    with pytest.raises(jobs.JobError, match="no job"):
        jobs.get_job(ws, "nope")
    out = mathbench("-w", str(ws.root), "jobs", "attach", "nope")
    assert out.returncode == 2 and "no job 'nope'" in out.stderr
