"""Detached long-running jobs (train, serve, eval, synth): start, record, list, attach, stop.

Each job lives in <workspace>/jobs/<id>/ with job.json (its record), output.log (stdout+stderr)
and, once asked to stop, stop.json; a small wrapper process (core/jobs_runner.py) waits on the
command and records its exit code, so the record stays right after the TUI or SSH is gone.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from mathbench.core.workspace import Workspace

KINDS = ("train", "serve", "eval", "synth")
ACTIVE_STATES = ("starting", "running")
FINAL_STATES = ("succeeded", "failed", "stopped")
JOB_FILE = "job.json"
LOG_FILE = "output.log"
STOP_FILE = "stop.json"
PROGRESS_FILE = "progress.json"
RUNNER = Path(__file__).with_name("runner.py")
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")


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
    state: str = "starting"
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
    """Write JSON through a temp file in the same folder, fsync, then rename over *path*."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.{threading.get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode if mode is not None else 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read_record(job_dir: Path) -> dict:
    path = job_dir / JOB_FILE
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobError(f"{path}:{exc.lineno}:{exc.colno}: bad JSON: {exc.msg}") from None


class IncrementalReader:
    """Reads a growing text file by complete lines, keeping a torn last line until it is finished."""

    def __init__(self, path: Path | str, *, offset: int = 0):
        self.path = Path(path)
        self.offset = offset
        self.line_no = 0
        self._partial = b""
        self._ino: int | None = None

    def read_lines(self, max_bytes: int = 8 << 20) -> list[str]:
        """New complete lines since the last call (restarting when the file was replaced or truncated)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        if (self._ino is not None and st.st_ino != self._ino) or st.st_size < self.offset:
            self.offset, self.line_no, self._partial = 0, 0, b""
        self._ino = st.st_ino
        if st.st_size == self.offset:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read(max_bytes)
        self.offset += len(chunk)
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        self.line_no += len(complete)
        return [c.decode("utf-8", "replace").rstrip("\r") for c in complete]

    def flush_partial(self) -> list[str]:
        """The unfinished last line, when the writer is known to be done."""
        if not self._partial:
            return []
        rest, self._partial = self._partial, b""
        self.line_no += 1
        return [rest.decode("utf-8", "replace").rstrip("\r")]


def tail_file(path: Path | str, n: int = 20, *, block: int = 65536, end: int | None = None) -> list[str]:
    """The last *n* lines of a text file (of its first *end* bytes when given), read from its end."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END) if end is None else end
            data = b""
            pos = size
            while pos > 0 and data.count(b"\n") <= n:
                step = min(block, pos)
                pos -= step
                fh.seek(pos)
                data = fh.read(step) + data
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[-n:] if n > 0 else []


# ---------------------------------------------------------------- processes


def _proc_start_ticks(pid: int) -> int | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes().decode("ascii", "replace")
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2:].split()
    try:
        if fields[0] == "Z":
            return -1
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int | None, start_ticks: int | None = None) -> bool:
    """True when *pid* runs (not a zombie) and, if given, is the process that started at *start_ticks*."""
    if not pid:
        return False
    ticks = _proc_start_ticks(pid)
    if ticks == -1:
        return False
    if ticks is not None:
        return start_ticks is None or ticks == start_ticks
    if Path("/proc/self/stat").exists():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_alive(pgid: int | None) -> bool:
    if not pgid:
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_by_name(sig: int | str | None) -> int | None:
    if sig is None or isinstance(sig, int):
        return sig
    text = sig.strip().upper()
    if text.isdigit():
        return int(text)
    try:
        return int(signal.Signals[text if text.startswith("SIG") else "SIG" + text])
    except KeyError:
        raise JobError(f"unknown signal {sig!r}") from None


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
) -> Job:
    """Start *argv* detached (own session, stdin closed, output to the job's log) and record it.

    *env* is added to this process's environment (secret-looking values are not written to job.json);
    the job's process also gets MATHBENCH_JOB_DIR, where it may write progress.json.
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
    job = Job(
        id=job_id, kind=kind, command=[str(a) for a in argv], dir=jdir, state="starting",
        start=time.time(), output_dir=str(output_dir) if output_dir else None, url=url,
        cwd=str(Path(cwd).resolve()) if cwd else str(workspace.root), env=_redacted(extra_env),
        meta=dict(meta or {}),
    )
    _save(job)

    child_env = os.environ.copy()
    child_env.update(extra_env)
    child_env["MATHBENCH_JOB_DIR"] = str(jdir)
    child_env["MATHBENCH_JOB_ID"] = job_id
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    with open(jdir / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-I", str(RUNNER), str(jdir)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=child_env,
            cwd=job.cwd, start_new_session=True, close_fds=True,
        )
    # Reap the wrapper if it ends while we live; once we are gone, init adopts it.
    threading.Thread(target=proc.wait, name=f"reap-{job_id}", daemon=True).start()

    deadline = time.monotonic() + wait_started
    while time.monotonic() < deadline:
        rec = _read_record(jdir)
        if rec.get("state") != "starting":
            break
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    return get_job(workspace, job_id)


def _save(job: Job) -> None:
    rec = job.to_dict()
    for k in ("dir", "log"):
        rec.pop(k)
    write_json_atomic(job.dir / JOB_FILE, rec)


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
    if job.state == "running" and (pid_alive(job.pid, job.pid_start) or _group_alive(job.pgid)):
        return job  # the wrapper is gone, the job itself still runs
    if job.state == "starting" and time.time() - job.start < 10 and job.runner_pid is None:
        return job  # the wrapper has not written its pid yet
    # Read the record once more: the wrapper may have finished between our reads.
    fresh = Job.from_dict(_read_record(job.dir), job.dir)
    if fresh.state not in ACTIVE_STATES:
        return _reconcile(fresh)
    job.state = "stopped" if job.stop_requested else "failed"
    job.error = job.error or "ended while unwatched; its exit code was not recorded"
    job.end = job.end or time.time()
    _save(job)
    return job


def _load(job_dir_path: Path) -> Job:
    return _reconcile(Job.from_dict(_read_record(job_dir_path), job_dir_path))


def get_job(workspace: Workspace, job_id: str) -> Job:
    """The job with this id (or a unique prefix of one), state reconciled."""
    jdir = job_dir(workspace, job_id)
    if (jdir / JOB_FILE).is_file():
        return _load(jdir)
    matches = [p for p in _job_dirs(workspace) if p.name.startswith(job_id)]
    if len(matches) == 1:
        return _load(matches[0])
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
    for p in _job_dirs(workspace):
        try:
            job = _load(p)
        except (JobError, OSError, TypeError):
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
    start = _complete_prefix(path)
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


def _complete_prefix(path: Path, block: int = 65536) -> int:
    """The byte offset just past the file's last newline (0 when none)."""
    try:
        with open(path, "rb") as fh:
            pos = fh.seek(0, os.SEEK_END)
            while pos > 0:
                step = min(block, pos)
                fh.seek(pos - step)
                data = fh.read(step)
                idx = data.rfind(b"\n")
                if idx >= 0:
                    return pos - step + idx + 1
                pos -= step
    except FileNotFoundError:
        pass
    return 0


def default_stop_signal(job: Job) -> int:
    """The graceful signal for *job*: the one its launcher chose (SIGABRT for LlamaBoard mode), else SIGTERM."""
    sig = _signal_by_name(job.meta.get("stop_signal"))
    return sig if sig is not None else int(signal.SIGTERM)


def stop_job(
    workspace: Workspace, job_id: str, *, grace: float = 30.0, sig: int | str | None = None,
    wait: bool = True, kill_wait: float = 10.0,
) -> Job:
    """Stop a job: its graceful signal to its process group, then SIGKILL to the group after *grace* s.

    With wait=False only the graceful signal is sent; call again (or `kill_job`) to escalate.
    """
    job = get_job(workspace, job_id)
    if not job.active:
        return job
    signum = _signal_by_name(sig) or default_stop_signal(job)
    requested = time.time()
    stop_path = job.dir / STOP_FILE
    if not stop_path.exists():
        write_json_atomic(stop_path, {"requested": requested, "signal": signal.Signals(signum).name})
    _send(job, signum)
    if not wait:
        return get_job(workspace, job.id)
    if _wait_final(workspace, job.id, grace):
        return get_job(workspace, job.id)
    return kill_job(workspace, job.id, wait=kill_wait)


def kill_job(workspace: Workspace, job_id: str, *, wait: float = 10.0) -> Job:
    """SIGKILL the job's whole process group at once and wait for the wrapper to record it."""
    job = get_job(workspace, job_id)
    if not job.active:
        return job
    stop_path = job.dir / STOP_FILE
    if not stop_path.exists():
        write_json_atomic(stop_path, {"requested": time.time(), "signal": "SIGKILL"})
    _send(job, signal.SIGKILL)
    _wait_final(workspace, job.id, wait)
    return get_job(workspace, job.id)


def _send(job: Job, signum: int) -> None:
    if job.pgid:
        try:
            os.killpg(job.pgid, signum)
            return
        except ProcessLookupError:
            pass
    if job.pid and pid_alive(job.pid, job.pid_start):
        try:
            os.kill(job.pid, signum)
        except ProcessLookupError:
            pass


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


def remove_job(workspace: Workspace, job_id: str) -> None:
    """Delete an ended job's folder (its log and record); a running job is refused."""
    import shutil

    job = get_job(workspace, job_id)
    if job.active:
        raise JobError(f"job {job.id} is {job.state}; stop it first")
    shutil.rmtree(job.dir)


# ---------------------------------------------------------------- progress


def report_progress(done: float | None, total: float | None = None, text: str = "") -> None:
    """Called from inside a job's process: record progress where `mathbench jobs` reads it (no-op outside a job)."""
    jdir = os.environ.get("MATHBENCH_JOB_DIR")
    if not jdir:
        return
    write_json_atomic(Path(jdir) / PROGRESS_FILE, {"done": done, "total": total, "text": text, "time": time.time()})


def job_progress(job: Job) -> Progress | None:
    """Progress for the jobs list: training from trainer_log.jsonl, others from progress.json or meta."""
    if job.kind == "train" and job.output_dir:
        from mathbench.core.jobs.training import last_progress

        return last_progress(job.output_dir)
    path = job.dir / PROGRESS_FILE
    if path.is_file():
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            return Progress(d.get("done"), d.get("total"), str(d.get("text") or ""))
        except (OSError, json.JSONDecodeError, AttributeError):
            return None
    run_dir = job.meta.get("run_dir")
    if run_dir:
        results = Path(run_dir) / "results.jsonl"
        done = _count_lines(results)
        total = job.meta.get("total")
        if total is None:
            try:
                total = json.loads((Path(run_dir) / "manifest.json").read_text(encoding="utf-8")).get("total")
            except (OSError, json.JSONDecodeError, AttributeError):
                total = None
        text = f"{done}/{total}" if total else f"{done} done"
        return Progress(done, total, text)
    if job.kind == "serve" and job.url:
        return Progress(text=job.url)
    return None


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def job_summary(job: Job, *, tail: int = 5) -> dict:
    """A job as one JSON-able dict for `mathbench jobs --json` and the jobs list: record, progress, failed log tail."""
    d = job.to_dict()
    prog = job_progress(job)
    d["progress"] = prog.to_dict() if prog else None
    d["log_tail"] = tail_log(job, tail) if job.state == "failed" else []
    return d


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

