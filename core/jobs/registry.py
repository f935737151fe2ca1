"""Detached long-running jobs (train, serve, eval, synth): start, record, list, attach, stop.

Each job lives in <workspace>/jobs/<id>/ with job.json (its record), output.log (stdout+stderr)
and, once asked to stop, stop.json; a small wrapper process (core/jobs/runner.py) waits on the
command and records its exit code, so the record stays right after the TUI or SSH is gone.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from mathbench.core.keyfile import API_KEY_ENV_VARS, API_KEY_FILE_ENV, remove_key_file, write_key_file
from mathbench.core.jobs.logtail import IncrementalReader, complete_prefix, tail_file
from mathbench.core.jobs.procs import ProcError, group_alive, pid_alive, signal_by_name
from mathbench.core.jobs.tree import cgroup_pids, remove_cgroup
from mathbench.core.records import ACTIVE_JOB_STATES, FINAL_JOB_STATES, JobState
from mathbench.core.storage import atomic_write_json
from mathbench.core.workspace import Workspace

KINDS = ("train", "serve", "eval", "synth")
ACTIVE_STATES = ACTIVE_JOB_STATES
FINAL_STATES = FINAL_JOB_STATES
JOB_FILE = "job.json"
LOG_FILE = "output.log"
STOP_FILE = "stop.json"
RUNNER = Path(__file__).with_name("runner.py")
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
# Jobs running mathbench's own commands, which take their API key from a file (see start_job).
KEY_FILE_KINDS = ("eval", "synth")

class JobError(Exception):
    """A job could not be found, started or read."""


@dataclass
class Progress:
    """How far a job has got: done of total, with a short human text."""

    done: float | None = None
    total: float | None = None
    text: str = ""

    @property
    def fraction(self) -> float | None:
        if self.done is None or not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))

    def to_dict(self) -> dict:
        return {"done": self.done, "total": self.total, "fraction": self.fraction, "text": self.text}


@dataclass
class Job:
    """The record of one detached job, its state reconciled with the processes it names."""

    id: str
    kind: str
    command: list[str]
    dir: Path
    state: str = JobState.STARTING
    pid: int | None = None
    pgid: int | None = None
    runner_pid: int | None = None
    start: float = 0.0
    end: float | None = None
    exit_code: int | None = None
    output_dir: str | None = None
    url: str | None = None
    cwd: str | None = None
    env: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    error: str | None = None
    pid_start: int | None = None
    runner_start: int | None = None
    stop_requested: float | None = None
    cgroup: str | None = None  # the job's own cgroup, when the kernel gave one
    index: str | None = None  # a copy of this record kept while it runs, outside the job's folder

    @property
    def log_path(self) -> Path:
        return self.dir / LOG_FILE

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def title(self) -> str:
        return str(self.meta.get("title") or " ".join(Path(a).name if i == 0 else a for i, a in enumerate(self.command[:3])))

    @property
    def duration(self) -> float:
        return max(0.0, (self.end or time.time()) - self.start) if self.start else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["dir"] = str(self.dir)
        d["log"] = str(self.log_path)
        return d

    @classmethod
    def from_dict(cls, d: dict, job_dir: Path) -> "Job":
        known = {f for f in cls.__dataclass_fields__ if f != "dir"}
        return cls(dir=job_dir, **{k: v for k, v in d.items() if k in known})



# ---------------------------------------------------------------- files


def write_json_atomic(path: Path, data: dict, *, mode: int | None = None) -> None:
    """Write JSON atomically (see core.storage), as every job file is written."""
    atomic_write_json(path, data, mode=mode)


def index_dir(ws: Workspace) -> Path:
    """Where a copy of each running job's record is kept, so deleting its folder cannot orphan it."""
    return ws.state_dir / "jobs"


def _read_record(job_dir: Path, index: str | Path | None = None) -> dict:
    path = job_dir / JOB_FILE
    if index and not path.is_file() and Path(index).is_file():
        path = Path(index)
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobError(f"{path}:{exc.lineno}:{exc.colno}: bad JSON: {exc.msg}") from None





def _signal(sig: int | str | None) -> int | None:
    try:
        return signal_by_name(sig)
    except ProcError as exc:
        raise JobError(str(exc)) from None


# ---------------------------------------------------------------- ids


def _new_job_dir(ws: Workspace, kind: str) -> tuple[str, Path]:
    ws.jobs_dir.mkdir(parents=True, exist_ok=True)
    base = f"{kind}-{time.strftime('%m%d-%H%M%S')}"
    for attempt in range(1000):
        job_id = base if attempt == 0 else f"{base}-{attempt + 1}"
        path = ws.jobs_dir / job_id
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return job_id, path
    raise JobError(f"no free job id under {ws.jobs_dir}")


def reserve_job(ws: Workspace, kind: str) -> str:
    """Create an empty job folder and return its id, for launchers that write files there first."""
    if kind not in KINDS:
        raise JobError(f"unknown job kind {kind!r} (one of {', '.join(KINDS)})")
    return _new_job_dir(ws, kind)[0]


def job_dir(ws: Workspace, job_id: str) -> Path:
    return ws.jobs_dir / job_id


def _redacted(env: dict[str, str]) -> dict[str, str]:
    return {k: ("***" if any(w in k.upper() for w in SECRET_WORDS) else v) for k, v in env.items()}


# ---------------------------------------------------------------- public API


def start_job(
    workspace: Workspace,
    kind: str,
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    meta: dict | None = None,
    output_dir: str | Path | None = None,
    url: str | None = None,
    job_id: str | None = None,
    wait_started: float = 10.0,
    api_key: str | None = None,
) -> Job:
    """Start *argv* detached (own session, stdin closed, output to the job's log) and record it.

    *env* is added to this process's environment (secret-looking values are not written to job.json);
    the job's process also gets MATHBENCH_JOB_DIR, where it may write progress.json. An eval or synth job
    gets its API key (*api_key*, else one in *env* or ours) only through a 0600 file it reads and deletes.
    """
    if kind not in KINDS:
        raise JobError(f"unknown job kind {kind!r} (one of {', '.join(KINDS)})")
    if not argv:
        raise JobError("empty command")
    if job_id is None:
        job_id, jdir = _new_job_dir(workspace, kind)
    else:
        jdir = job_dir(workspace, job_id)
        jdir.mkdir(parents=True, exist_ok=True)
        if (jdir / JOB_FILE).exists():
            raise JobError(f"job {job_id} already exists")
    extra_env = {str(k): str(v) for k, v in (env or {}).items()}
    key_file = None
    if kind in KEY_FILE_KINDS:
        api_key, extra_env = _take_api_key(api_key, extra_env)
    elif api_key:
        raise JobError(f"an API key is handed only to {' and '.join(KEY_FILE_KINDS)} jobs")
    job = Job(
        id=job_id, kind=kind, command=[str(a) for a in argv], dir=jdir, state=JobState.STARTING,
        start=time.time(), output_dir=str(output_dir) if output_dir else None, url=url,
        cwd=str(Path(cwd).resolve()) if cwd else str(workspace.root), env=_redacted(extra_env),
        meta=dict(meta or {}), index=str(index_dir(workspace) / f"{job_id}.json"),
    )
    _save(job)

    child_env = os.environ.copy()
    child_env.update(extra_env)
    child_env["MATHBENCH_JOB_DIR"] = str(jdir)
    child_env["MATHBENCH_JOB_ID"] = job_id
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    if kind in KEY_FILE_KINDS:
        for name in (*API_KEY_ENV_VARS, API_KEY_FILE_ENV):
            child_env.pop(name, None)
        if api_key:
            key_file = child_env[API_KEY_FILE_ENV] = write_key_file(api_key)
    try:
        with open(jdir / LOG_FILE, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-I", str(RUNNER), str(jdir)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=child_env,
                cwd=job.cwd, start_new_session=True, close_fds=True,
            )
    except BaseException:
        remove_key_file(key_file)
        raise
    # Reap the wrapper if it ends while we live; once we are gone, init adopts it.
    threading.Thread(target=proc.wait, name=f"reap-{job_id}", daemon=True).start()

    deadline = time.monotonic() + wait_started
    while time.monotonic() < deadline:
        rec = _read_record(jdir)
        if rec.get("state") != JobState.STARTING:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    return get_job(workspace, job_id)


def _take_api_key(api_key: str | None, extra_env: dict[str, str]) -> tuple[str | None, dict[str, str]]:
    """The key an eval/synth job is to get (given, else in *extra_env*, else ours) and *extra_env* without it."""
    for name in API_KEY_ENV_VARS:
        api_key = api_key or extra_env.get(name) or os.environ.get(name) or None
    return api_key, {k: v for k, v in extra_env.items() if k not in (*API_KEY_ENV_VARS, API_KEY_FILE_ENV)}


def _save(job: Job) -> None:
    rec = job.to_dict()
    for k in ("dir", "log"):
        rec.pop(k)
    write_json_atomic(job.dir / JOB_FILE, rec)
    if job.index:
        if job.active:
            write_json_atomic(Path(job.index), rec)
        else:
            Path(job.index).unlink(missing_ok=True)


def _reconcile(job: Job) -> Job:
    """Fix up a record whose wrapper died without writing the end (killed, machine rebooted)."""
    stop_path = job.dir / STOP_FILE
    if stop_path.exists() and job.stop_requested is None:
        try:
            job.stop_requested = json.loads(stop_path.read_text(encoding="utf-8")).get("requested")
        except (OSError, json.JSONDecodeError):
            job.stop_requested = stop_path.stat().st_mtime
    if job.state not in ACTIVE_STATES:
        return job
    if pid_alive(job.runner_pid, job.runner_start):
        return job
    if job.state == JobState.RUNNING and (pid_alive(job.pid, job.pid_start) or group_alive(job.pgid)
                                          or cgroup_pids(job.cgroup)):
        return job  # the wrapper is gone, the job itself still runs
    if job.state == JobState.STARTING and time.time() - job.start < 10 and job.runner_pid is None:
        return job  # the wrapper has not written its pid yet
    # Read the record once more: the wrapper may have finished between our reads.
    fresh = Job.from_dict(_read_record(job.dir, job.index), job.dir)
    if fresh.state not in ACTIVE_STATES:
        return _reconcile(fresh)
    job.state = JobState.STOPPED if job.stop_requested else JobState.FAILED
    job.error = job.error or "ended while unwatched; its exit code was not recorded"
    remove_cgroup(job.cgroup)  # the wrapper that would have removed it is gone
    job.end = job.end or time.time()
    _save(job)
    return job


def _load(job_dir_path: Path, index: Path | None = None) -> Job:
    return _reconcile(Job.from_dict(_read_record(job_dir_path, index), job_dir_path))


def _indexed(workspace: Workspace) -> dict[str, Path]:
    """Running jobs whose folder is gone, by id, from the index of live jobs."""
    d = index_dir(workspace)
    if not d.is_dir():
        return {}
    return {p.stem: p for p in d.glob("*.json") if not (job_dir(workspace, p.stem) / JOB_FILE).is_file()}


def get_job(workspace: Workspace, job_id: str) -> Job:
    """The job with this id (or a unique prefix of one), state reconciled."""
    jdir = job_dir(workspace, job_id)
    if (jdir / JOB_FILE).is_file():
        return _load(jdir)
    orphans = _indexed(workspace)
    if job_id in orphans:
        return _load(job_dir(workspace, job_id), orphans[job_id])
    matches = [p for p in _job_dirs(workspace) if p.name.startswith(job_id)]
    matches += [job_dir(workspace, i) for i in orphans if i.startswith(job_id)]
    if len(matches) == 1:
        return _load(matches[0], orphans.get(matches[0].name))
    if not matches:
        raise JobError(f"no job {job_id!r} in {workspace.jobs_dir}")
    raise JobError(f"job id {job_id!r} is ambiguous: {', '.join(sorted(p.name for p in matches))}")


def _job_dirs(workspace: Workspace) -> list[Path]:
    if not workspace.jobs_dir.is_dir():
        return []
    return [p for p in workspace.jobs_dir.iterdir() if (p / JOB_FILE).is_file()]


def list_jobs(workspace: Workspace, *, kind: str | None = None) -> list[Job]:
    """Every job of the workspace (optionally of one kind), newest first, states reconciled."""
    jobs = []
    places = [(p, None) for p in _job_dirs(workspace)]
    places += [(job_dir(workspace, i), idx) for i, idx in _indexed(workspace).items()]
    for p, idx in places:
        try:
            job = _load(p, idx)
        except (JobError, OSError, TypeError, ValueError):
            continue
        if kind is None or job.kind == kind:
            jobs.append(job)
    return sorted(jobs, key=lambda j: j.start, reverse=True)


def tail_log(job: Job, n: int = 20) -> list[str]:
    """The last *n* lines of the job's log."""
    return tail_file(job.log_path, n)


def follow_log(
    job: Job, *, backlog: int = 20, poll: float = 0.2, stop: threading.Event | None = None,
) -> Iterator[str]:
    """Yield the last *backlog* lines, then each new line as it is written; ends when the job has ended."""
    path = job.log_path
    start = complete_prefix(path)
    if backlog > 0 and start:
        lines = tail_file(path, backlog + 1, end=start)
        yield from lines[-backlog:]
    reader = IncrementalReader(path, offset=start)
    last_check = 0.0
    while True:
        lines = reader.read_lines()
        yield from lines
        if stop is not None and stop.is_set():
            return
        now = time.monotonic()
        if not lines or now - last_check > 0.5:
            last_check = now
            if _load(job.dir).finished:
                yield from reader.read_lines()
                yield from reader.flush_partial()
                return
        if not lines:
            time.sleep(poll)


def remove_job(workspace: Workspace, job_id: str) -> None:
    """Delete an ended job's folder (its log and record); a running job is refused."""
    import shutil

    job = get_job(workspace, job_id)
    if job.active:
        raise JobError(f"job {job.id} is {job.state}; stop it first")
    shutil.rmtree(job.dir)

def new_secret(nbytes: int = 24) -> str:
    """A random URL-safe token (for API keys)."""
    return secrets.token_urlsafe(nbytes)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on *host*."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def format_duration(seconds: float | None) -> str:
    """Seconds as H:MM:SS (like LLaMA-Factory's elapsed_time), or '' for None."""
    if seconds is None:
        return ""
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}"

