"""The tiny detached wrapper of a job: starts its command, waits, and records the exit code and end time.

Run as an isolated script (`python -I runner.py JOB_DIR`): the job's environment never gets this project
on its import path, and the record survives the TUI's death. It imports only the installed foundation.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time

from mathbench.core.keyfile import API_KEY_FILE_ENV, remove_key_file
from mathbench.core.jobs.procs import proc_start_ticks
from mathbench.core.jobs.tree import join_cgroup, make_cgroup, remove_cgroup
from mathbench.core.records import JobState
from mathbench.core.storage import atomic_write_json, read_json

JOB_FILE = "job.json"
STOP_FILE = "stop.json"
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Adopt orphaned descendants (e.g. torchrun workers) so the job ends only when all of them do."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _save(spec: dict, job_path: str) -> None:
    """The record into the job's folder and, while it runs, into the workspace's index of live jobs."""
    try:
        atomic_write_json(job_path, spec)
    except OSError as exc:
        print(f"[mathbench] could not write {job_path}: {exc}", file=sys.stderr, flush=True)
    index = spec.get("index")
    if not index:
        return
    try:
        if spec.get("state") in (JobState.STARTING, JobState.RUNNING):
            atomic_write_json(index, spec)
        else:
            os.unlink(index)
    except OSError:
        pass


def main(argv: list[str]) -> int:
    job_dir = os.path.abspath(argv[1])
    job_path = os.path.join(job_dir, JOB_FILE)
    spec = read_json(job_path)
    meta = spec.get("meta") or {}
    child: subprocess.Popen | None = None

    def forward(signum, _frame):
        # Someone signalled the wrapper itself: pass it on to the job rather than lose the record.
        if child is not None:
            try:
                os.killpg(child.pid, signum)
            except OSError:
                pass

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, forward)
    become_subreaper()
    if meta.get("stop_signal") == "SIGABRT":
        # SIGABRT is the clean stop here, not a crash: no multi-GB core files in the workspace.
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
        except (ImportError, ValueError, OSError):
            pass

    spec["runner_pid"] = os.getpid()
    spec["runner_start"] = proc_start_ticks(os.getpid())
    cgroup = make_cgroup(f"{spec.get('id', 'job')}")
    spec["cgroup"] = str(cgroup) if cgroup else None

    def in_child() -> None:
        # The runner ignores SIGINT and SIGHUP; the job must not inherit that (an ignored SIGINT stays
        # ignored across exec, and vLLM's engine would then outlive a Ctrl-C or a group SIGINT).
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        if cgroup is not None:
            join_cgroup(cgroup)

    try:
        child = subprocess.Popen(
            spec["command"], cwd=spec.get("cwd") or None, stdin=subprocess.DEVNULL,
            process_group=0, env=os.environ.copy(), preexec_fn=in_child,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"[mathbench] could not start {spec['command'][0]!r}: {exc}", file=sys.stderr, flush=True)
        spec.update(state=JobState.FAILED, exit_code=127, end=time.time(), error=f"could not start: {exc}")
        _save(spec, job_path)
        remove_cgroup(cgroup)
        return 0
    spec.update(pid=child.pid, pgid=child.pid, pid_start=proc_start_ticks(child.pid), state=JobState.RUNNING)
    _save(spec, job_path)

    rc = child.wait()
    remove_key_file(os.environ.get(API_KEY_FILE_ENV))  # gone once the job ends, even if it never read it
    # Leftover descendants (now ours as subreaper) still hold GPUs or write files: wait them out.
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
    remove_cgroup(cgroup)

    try:
        spec = read_json(job_path)
    except (OSError, ValueError):
        pass  # the folder was deleted while the job ran: the record in memory is the one
    stop_requested = os.path.exists(os.path.join(job_dir, STOP_FILE)) or bool(spec.get("stop_requested"))
    if stop_requested:
        state = JobState.STOPPED
    elif meta.get("ends_only_when_stopped"):
        # A server that ends without being asked to has failed, whatever its exit code (vLLM exits 0
        # after its engine died).
        state = JobState.FAILED
        spec["error"] = spec.get("error") or f"ended by itself (exit code {rc}) before a stop was asked for"
    else:
        state = JobState.SUCCEEDED if rc == 0 else JobState.FAILED
    spec.update(state=state, exit_code=rc, end=time.time())
    _save(spec, job_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
