"""Stopping jobs: the graceful signal to the right process, then the whole tree, never a process that is not the job's.

A process is the job's when its pid *and* start time match the record (a pid reused by another
program has another start time), or when it is in the job's cgroup, or a descendant of the job's
live runner (which, as child subreaper, adopts processes that call setsid).
"""

from __future__ import annotations

import os
import signal
import time

from mathbench.core.jobs.procs import pid_alive, proc_start_ticks
from mathbench.core.jobs.registry import STOP_FILE, Job, JobError, _signal, get_job, write_json_atomic
from mathbench.core.jobs.tree import descendants, group_members, kill_cgroup, signal_pids, tree_pids
from mathbench.core.workspace import Workspace


def default_stop_signal(job: Job) -> int:
    """The graceful signal for *job*: the one its launcher chose (SIGABRT for LlamaBoard mode), else SIGTERM."""
    sig = _signal(job.meta.get("stop_signal"))
    return sig if sig is not None else int(signal.SIGTERM)


def job_pids(job: Job) -> list[int]:
    """Every live process of *job* that can be proven to be its own."""
    pids = set(tree_pids(cgroup=job.cgroup, runner_pid=job.runner_pid, runner_start=job.runner_start))
    if pid_alive(job.pid, job.pid_start):
        pids.add(job.pid)  # type: ignore[arg-type]
        pids.update(descendants(job.pid))  # type: ignore[arg-type]
    pids.update(_group_members(job))
    pids.discard(os.getpid())
    if job.runner_pid:
        pids.discard(job.runner_pid)  # the runner records the end; it is never signalled
    return sorted(pids)


def _group_members(job: Job) -> list[int]:
    """Processes still in the job's process group, when that group is provably the job's.

    The group id is the job's first pid. While a process holds that pid with another start time,
    the id belongs to someone else; while the id is free, no one can have made a new group of it,
    so its members are the job's leftovers.
    """
    if not job.pgid:
        return []
    ticks = proc_start_ticks(job.pgid)
    if ticks is not None and ticks != job.pid_start:
        return []
    return group_members(job.pgid)


def signal_job(job: Job, signum: int, *, target: str = "tree") -> int:
    """Send *signum* to the job's main process ("process") or all of its processes ("tree"); how many got it."""
    if target == "process":
        if pid_alive(job.pid, job.pid_start):
            return signal_pids([job.pid], signum)  # type: ignore[list-item]
        return 0
    return signal_pids(job_pids(job), signum)


def _mark_stop(job: Job, signum: int) -> None:
    stop_path = job.dir / STOP_FILE
    if not stop_path.exists():
        write_json_atomic(stop_path, {"requested": time.time(), "signal": signal.Signals(signum).name})


def stop_job(
    workspace: Workspace, job_id: str, *, grace: float = 30.0, sig: int | str | None = None,
    wait: bool = True, kill_wait: float = 10.0,
) -> Job:
    """Stop a job: its graceful signal first, then the whole tree, then SIGKILL.

    A server (stop target "process") gets the signal on its API server alone, which shuts its
    engine down cleanly; the rest of the tree is signalled only after *grace* s. Other jobs get it
    on their whole tree at once. With wait=False only the first signal is sent.
    """
    job = get_job(workspace, job_id)
    if not job.active:
        return job
    signum = _signal(sig) or default_stop_signal(job)
    target = str(job.meta.get("stop_target") or "tree")
    _mark_stop(job, signum)
    if signal_job(job, signum, target=target) == 0 and target == "process":
        signal_job(job, signum, target="tree")
    if not wait:
        return get_job(workspace, job.id)
    if _wait_final(workspace, job.id, grace):
        return get_job(workspace, job.id)
    job = get_job(workspace, job.id)
    if target == "process" and job.active:
        signal_job(job, signum, target="tree")
        if _wait_final(workspace, job.id, min(grace, 10.0)):
            return get_job(workspace, job.id)
    return kill_job(workspace, job.id, wait=kill_wait)


def kill_job(workspace: Workspace, job_id: str, *, wait: float = 10.0) -> Job:
    """SIGKILL the job's whole tree at once and wait for the wrapper to record it."""
    job = get_job(workspace, job_id)
    if not job.active:
        return job
    _mark_stop(job, signal.SIGKILL)
    pids = job_pids(job)
    kill_cgroup(job.cgroup)
    signal_pids(pids, signal.SIGKILL)
    _wait_final(workspace, job.id, wait)
    return get_job(workspace, job.id)


def _wait_final(workspace: Workspace, job_id: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if get_job(workspace, job_id).finished:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def wait_job(workspace: Workspace, job_id: str, timeout: float | None = None) -> Job:
    """Block until the job has ended (or *timeout* s passed) and return its record."""
    _wait_final(workspace, job_id, float("inf") if timeout is None else timeout)
    return get_job(workspace, job_id)


def check_is_job(job: Job) -> str | None:
    """Why the job's recorded process is not its own any more (None when it is, or is simply gone)."""
    if job.pid and proc_start_ticks(job.pid) not in (None, job.pid_start):
        return f"pid {job.pid} now belongs to another process (started at another time); it is not signalled"
    return None


__all__ = ["JobError", "check_is_job", "default_stop_signal", "job_pids", "kill_job", "signal_job", "stop_job",
           "wait_job"]
