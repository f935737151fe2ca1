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


def main(argv: list[str]) -> int:
    job_dir = os.path.abspath(argv[1])
    job_path = os.path.join(job_dir, JOB_FILE)
    spec = read_json(job_path)
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
    if (spec.get("meta") or {}).get("stop_signal") == "SIGABRT":
        # SIGABRT is the clean stop here, not a crash: no multi-GB core files in the workspace.
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
        except (ImportError, ValueError, OSError):
            pass

    spec["runner_pid"] = os.getpid()
    spec["runner_start"] = proc_start_ticks(os.getpid())
    try:
        child = subprocess.Popen(
            spec["command"], cwd=spec.get("cwd") or None, stdin=subprocess.DEVNULL,
            process_group=0, env=os.environ.copy(),
        )
    except OSError as exc:
        print(f"[mathbench] could not start {spec['command'][0]!r}: {exc}", file=sys.stderr, flush=True)
        spec.update(state=JobState.FAILED, exit_code=127, end=time.time(), error=f"could not start: {exc}")
        atomic_write_json(job_path, spec)
        return 0
    spec.update(pid=child.pid, pgid=child.pid, pid_start=proc_start_ticks(child.pid), state=JobState.RUNNING)
    atomic_write_json(job_path, spec)

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

    spec = read_json(job_path)
    stop_requested = os.path.exists(os.path.join(job_dir, STOP_FILE))
    state = JobState.STOPPED if stop_requested else (JobState.SUCCEEDED if rc == 0 else JobState.FAILED)
    spec.update(state=state, exit_code=rc, end=time.time())
    atomic_write_json(job_path, spec)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
