"""The tiny detached wrapper of a job: starts its command, waits, and records the exit code and end time.

Run as a script with only the standard library (`python -I jobs_runner.py JOB_DIR`), so the job's
environment never gets this project on its import path and the record survives the TUI's death.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time

JOB_FILE = "job.json"
STOP_FILE = "stop.json"
PR_SET_CHILD_SUBREAPER = 36


def read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def write_json_atomic(path: str, data: dict) -> None:
    """Write *data* to *path* through a temp file in the same folder, fsync and rename."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def proc_start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks from /proc (to tell a pid apart from a later reuse)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name may hold spaces and parentheses; fields resume after the last ')'.
    fields = raw[raw.rfind(")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


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
        spec.update(state="failed", exit_code=127, end=time.time(), error=f"could not start: {exc}")
        write_json_atomic(job_path, spec)
        return 0
    spec.update(pid=child.pid, pgid=child.pid, pid_start=proc_start_ticks(child.pid), state="running")
    write_json_atomic(job_path, spec)

    rc = child.wait()
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
    state = "stopped" if stop_requested else ("succeeded" if rc == 0 else "failed")
    spec.update(state=state, exit_code=rc, end=time.time())
    write_json_atomic(job_path, spec)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
