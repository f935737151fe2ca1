"""A run directory: manifest.json, results.jsonl, adjudications.jsonl and a writer lock, with resume.

Layout of a run directory::

    manifest.json         what was run (benchmark, model, endpoint, sampling, prompt, times); atomic saves
    results.jsonl         one JSON object per graded problem, appended + flushed + fsynced per record
    adjudications.jsonl   human verdicts, appended + fsynced; an undo is a record with verdict null
    .lock                 flock held by the one writer; holds its pid
    results.jsonl.torn    bytes of a torn last line cut off by a crash (kept, never parsed)

Records are keyed by their ``id``; when an id appears twice (``--retry-errors`` re-ran it) the last
record wins and keeps the first one's position.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mathbench.core.storage import (
    JsonlError,
    ParsedLines,
    append_line,
    atomic_write_text,
    dump_line,
    fsync_dir,
    parse_jsonl,
    read_bytes,
    write_all,
)

MANIFEST = "manifest.json"
RESULTS = "results.jsonl"
ADJUDICATIONS = "adjudications.jsonl"
LOCK = ".lock"
TORN_SUFFIX = ".torn"

GRADER_VERDICTS = ("correct", "wrong", "uncertain")
HUMAN_VERDICTS = ("correct", "wrong")
ADJUDICATION_ACTIONS = ("verdict", "undo", "note")

# A writer retries its lock this long so a reader's momentary probe never refuses a real writer.
_LOCK_RETRY_S = 0.3


class RunError(Exception):
    """Base class of the errors a run directory raises."""


class RunLocked(RunError):
    """Another process (or another writer in this one) already writes this run."""

    def __init__(self, path: Path, pid: int | None):
        self.path = Path(path)
        self.pid = pid
        holder = f"process {pid}" if pid else "another writer"
        super().__init__(f"{self.path}: run is being written by {holder}; refusing a second writer")


class RunFileError(RunError, JsonlError):
    """A malformed line or file inside a run directory, located as FILE:LINE[:COL]."""


class DuplicateResult(RunError, ValueError):
    """A record for an id that already has a finished (non-error) result."""


def _check_id(record: Any, path: Path, line: int | None) -> Any:
    if not isinstance(record, dict):
        raise RunFileError(path, line, f"expected a JSON object, got {type(record).__name__}")
    rid = record.get("id")
    if rid is None or isinstance(rid, bool) or not isinstance(rid, (str, int)):
        raise RunFileError(path, line, "record has no usable 'id' (a string or integer)")
    return rid


# --------------------------------------------------------------------------- adjudications


class AdjudicationState:
    """Human decisions per id, folded from the adjudication log: an undo pops that id's last entry."""

    def __init__(self, entries: Iterable[dict] = ()):
        self._stacks: dict[Any, list[dict]] = {}
        for entry in entries:
            self.apply(entry)

    def apply(self, entry: dict) -> None:
        """Fold one more log entry in (what append_adjudication just wrote)."""
        stack = self._stacks.setdefault(entry.get("id"), [])
        if adjudication_action(entry) == "undo":
            if stack:
                stack.pop()
        else:
            stack.append(entry)

    def effective(self, id: Any) -> dict | None:
        """The standing decision for *id* (verdict, latest note, history depth), or None."""
        stack = self._stacks.get(id)
        if not stack:
            return None
        verdict_entry = next((e for e in reversed(stack) if adjudication_action(e) == "verdict"), None)
        note = next((e.get("note") for e in reversed(stack) if e.get("note")), None)
        base = dict(verdict_entry if verdict_entry is not None else stack[-1])
        base["verdict"] = verdict_entry.get("verdict") if verdict_entry is not None else None
        base["note"] = note
        base["history"] = len(stack)
        base.pop("action", None)
        return base

    def as_dict(self) -> dict[Any, dict]:
        """Every id with a standing decision mapped to it."""
        out = {}
        for rid in self._stacks:
            eff = self.effective(rid)
            if eff is not None:
                out[rid] = eff
        return out


def adjudication_action(entry: dict) -> str:
    """The kind of an adjudication log entry: "verdict", "undo" (verdict null) or "note"."""
    action = entry.get("action")
    if action in ADJUDICATION_ACTIONS:
        return action
    return "undo" if entry.get("verdict") is None else "verdict"


def effective_verdict(record: dict, adjudications: dict | None = None) -> str | None:
    """The verdict that counts: the human's when one stands for this id, else the grader's."""
    if adjudications:
        adj = adjudications.get(record.get("id"))
        if adj is not None and adj.get("verdict") in HUMAN_VERDICTS:
            return adj["verdict"]
    verdict = record.get("verdict")
    return verdict if verdict in GRADER_VERDICTS else None


# --------------------------------------------------------------------------- run directory


class RunDir:
    """One run directory on disk; cheap to create, reads files on demand."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def results_path(self) -> Path:
        return self.path / RESULTS

    @property
    def adjudications_path(self) -> Path:
        return self.path / ADJUDICATIONS

    @property
    def lock_path(self) -> Path:
        return self.path / LOCK

    def exists(self) -> bool:
        """True when the folder holds a manifest or results."""
        return self.manifest_path.is_file() or self.results_path.is_file()

    # -- manifest

    @property
    def manifest(self) -> dict:
        """The parsed manifest.json, or {} when there is none."""
        try:
            text = self.manifest_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RunFileError(self.manifest_path, exc.lineno, f"malformed JSON: {exc.msg}", col=exc.colno) from None
        if not isinstance(data, dict):
            raise RunFileError(self.manifest_path, 1, "expected a JSON object")
        return data

    def write_manifest(self, manifest: dict) -> None:
        """Save *manifest* atomically (temp file, fsync, rename)."""
        atomic_write_text(self.manifest_path, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")

    def update_manifest(self, **fields: Any) -> dict:
        """Merge *fields* into the manifest, save it atomically and return it."""
        manifest = self.manifest
        manifest.update(fields)
        self.write_manifest(manifest)
        return manifest

    # -- results

    def _parse_results(self, *, strict: bool = True, problems: list[str] | None = None) -> ParsedLines:
        return parse_jsonl(self.results_path, read_bytes(self.results_path), strict=strict, problems=problems,
                           check=_check_id, error=RunFileError)

    def iter_results(self, *, strict: bool = True) -> Iterator[dict]:
        """Every valid record in file order, duplicates included; a torn last line is skipped."""
        for _, rec in self._parse_results(strict=strict).records:
            yield rec

    def load_results(self, *, strict: bool = True, problems: list[str] | None = None) -> list[dict]:
        """Records one per id (last wins, first position kept); a torn last line is dropped.

        A malformed line elsewhere raises RunFileError (FILE:LINE:COL); with *strict* False it is
        skipped and described in *problems* instead.
        """
        parsed = self._parse_results(strict=strict, problems=problems)
        if parsed.torn and problems is not None:
            problems.append(f"{self.results_path}:{parsed.torn_line}: torn last line dropped ({len(parsed.torn)} bytes)")
        by_id: dict[Any, dict] = {}
        for _, rec in parsed.records:
            by_id[rec["id"]] = rec
        return list(by_id.values())

    def torn_tail(self) -> bytes:
        """The bytes of an incomplete last line of results.jsonl (b"" when the file ends cleanly)."""
        return self._parse_results(strict=False).torn

    def done_ids(self, *, include_errors: bool = True) -> set:
        """Ids that have a record; with *include_errors* False, ids whose latest record errored are left out."""
        records = self.load_results()
        if include_errors:
            return {r["id"] for r in records}
        return {r["id"] for r in records if not r.get("error")}

    def error_ids(self) -> set:
        """Ids whose latest record has an error (what --retry-errors re-runs)."""
        return {r["id"] for r in self.load_results() if r.get("error")}

    def open_writer(self) -> RunWriter:
        """Take the run's lock and return a writer; raises RunLocked when another writer holds it."""
        return RunWriter(self)

    def writer_pid(self) -> int | None:
        """The pid of the process writing this run now, or None when no writer holds the lock."""
        try:
            fd = os.open(self.lock_path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    return _read_pid(self.lock_path) or -1
                raise
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def is_running(self) -> bool:
        """True when a writer holds the run's lock."""
        return self.writer_pid() is not None

    def tail(self) -> ResultsTail:
        """A reader that returns only the complete lines appended since its last call."""
        return ResultsTail(self.results_path)

    # -- adjudications

    def append_adjudication(self, id: Any, verdict: str | None, note: str | None = None, *,
                            grader_verdict: str | None = None, reviewer: str | None = None,
                            action: str | None = None) -> dict:
        """Append one human decision (fsynced before returning); verdict None means undo the last one."""
        if action is None:
            action = "undo" if verdict is None else "verdict"
        if action not in ADJUDICATION_ACTIONS:
            raise ValueError(f"unknown adjudication action {action!r}")
        if action == "verdict" and verdict not in HUMAN_VERDICTS:
            raise ValueError(f"a human verdict is one of {HUMAN_VERDICTS}, not {verdict!r}")
        if action == "undo":
            verdict = None
        entry = {
            "id": id,
            "verdict": verdict,
            "note": note,
            "grader_verdict": grader_verdict,
            "time": time.time(),
            "reviewer": reviewer if reviewer is not None else _default_reviewer(),
        }
        if action == "note":
            entry["action"] = "note"
        self.path.mkdir(parents=True, exist_ok=True)
        append_line(self.adjudications_path, dump_line(entry))
        return entry

    def undo_adjudication(self, id: Any, *, reviewer: str | None = None) -> dict:
        """Append an undo for *id*: its last verdict or note stops counting."""
        return self.append_adjudication(id, None, reviewer=reviewer, action="undo")

    def append_note(self, id: Any, note: str, *, reviewer: str | None = None) -> dict:
        """Append a note for *id* without changing its verdict (undo removes it again)."""
        adj = self.load_adjudications().get(id)
        return self.append_adjudication(id, adj.get("verdict") if adj else None, note, reviewer=reviewer, action="note")

    def adjudication_log(self, *, strict: bool = True, problems: list[str] | None = None) -> list[dict]:
        """Every adjudication entry in file order (torn last line dropped)."""
        parsed = parse_jsonl(self.adjudications_path, read_bytes(self.adjudications_path),
                             strict=strict, problems=problems, check=_check_id, error=RunFileError)
        return [rec for _, rec in parsed.records]

    def load_adjudications(self, *, strict: bool = True, problems: list[str] | None = None) -> dict[Any, dict]:
        """The standing human decision per id after replaying undos; ids with nothing left are absent.

        Each value is the latest standing entry with ``verdict`` (correct|wrong, or None when only a
        note stands), the latest ``note``, ``grader_verdict``, ``time``, ``reviewer`` and ``history``.
        """
        return AdjudicationState(self.adjudication_log(strict=strict, problems=problems)).as_dict()

    # -- summary

    def info(self) -> RunInfo:
        """Name, benchmark, model, created time, item count and accuracy (human verdicts applied)."""
        return run_info(self)


def _read_pid(lock_path: Path) -> int | None:
    try:
        text = lock_path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    first = text.split()[0] if text else ""
    return int(first) if first.isdigit() else None


def _default_reviewer() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER")


class RunWriter:
    """The single writer of a run: holds the lock, appends fsynced records, knows which ids are done."""

    def __init__(self, run: RunDir | Path | str):
        self.run = run if isinstance(run, RunDir) else RunDir(run)
        self.run.path.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._acquire_lock()
        try:
            self.repaired = self._repair_torn_tail()
            records = self.run.load_results()
            self._done = {r["id"] for r in records}
            self._errored = {r["id"] for r in records if r.get("error")}
            self._fd = os.open(self.run.results_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            fsync_dir(self.run.path)
        except BaseException:
            self.close()
            raise

    def _acquire_lock(self) -> None:
        fd = os.open(self.run.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + _LOCK_RETRY_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise RunLocked(self.run.path, _read_pid(self.run.lock_path)) from None
                time.sleep(0.02)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        write_all(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._lock_fd = fd

    def _repair_torn_tail(self) -> int:
        """Move a torn last line to results.jsonl.torn and cut it off; returns the bytes moved."""
        path = self.run.results_path
        parsed = parse_jsonl(path, read_bytes(path), strict=False, check=_check_id, error=RunFileError)
        size = path.stat().st_size if path.exists() else 0
        if parsed.torn:
            append_line(path.with_name(path.name + TORN_SUFFIX), parsed.torn + b"\n")
            with open(path, "r+b") as fh:
                fh.truncate(parsed.end_offset)
                fh.flush()
                os.fsync(fh.fileno())
            return len(parsed.torn)
        if parsed.end_offset == size and size and not read_bytes(path).endswith(b"\n"):
            # A whole record whose newline was lost: terminate it so the next append starts clean.
            append_line(path, b"\n")
        return 0

    # -- writing

    def append(self, record: dict, *, replace: bool = False) -> None:
        """Append *record* as one JSON line, flushed and fsynced before returning.

        A second record for an id is refused unless that id's last record errored or *replace* is set.
        """
        if self._fd is None:
            raise RunError(f"{self.run.path}: writer is closed")
        rid = _check_id(record, self.run.results_path, None)
        if rid in self._done and rid not in self._errored and not replace:
            raise DuplicateResult(f"{self.run.results_path}: id {rid!r} already has a result")
        write_all(self._fd, dump_line(record))
        os.fsync(self._fd)
        self._done.add(rid)
        if record.get("error"):
            self._errored.add(rid)
        else:
            self._errored.discard(rid)

    def done_ids(self, *, include_errors: bool = True) -> set:
        """Ids with a record so far; with *include_errors* False, errored ids are left out."""
        return set(self._done) if include_errors else self._done - self._errored

    def error_ids(self) -> set:
        """Ids whose latest record errored."""
        return set(self._errored)

    @property
    def closed(self) -> bool:
        return self._lock_fd is None

    def close(self) -> None:
        """Close the results file and release the lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            try:
                os.ftruncate(self._lock_fd, 0)
            except OSError:
                pass
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


# --------------------------------------------------------------------------- live tail


class ResultsTail:
    """Follows a growing JSONL file: each read_new() parses only complete lines added since the last."""

    def __init__(self, path: Path | str, *, offset: int = 0):
        self.path = Path(path)
        self.offset = offset
        self.line = 0  # complete lines consumed so far (for FILE:LINE in problems)
        self.problems: list[str] = []  # malformed complete lines, skipped
        self.resets = 0  # times the file shrank and was re-read from the start

    def read_new(self) -> list[dict]:
        """Records from the complete lines appended since the last call (duplicates included)."""
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size < self.offset:
                    # Truncated (torn tail repaired) or replaced: start over.
                    self.offset, self.line = 0, 0
                    self.resets += 1
                if size == self.offset:
                    return []
                fh.seek(self.offset)
                data = fh.read(size - self.offset)
        except FileNotFoundError:
            return []
        parsed = parse_jsonl(self.path, data, start_line=self.line + 1, strict=False,
                             problems=self.problems, final=False, check=_check_id, error=RunFileError)
        self.offset += parsed.end_offset
        self.line += data.count(b"\n", 0, parsed.end_offset)
        return [rec for _, rec in parsed.records]


# --------------------------------------------------------------------------- workspace listing


@dataclass
class RunInfo:
    """One line of a workspace's run list."""

    path: Path
    name: str
    benchmark: str | None
    model: str | None
    created: float | None
    total: int
    correct: int
    accuracy: float | None
    running: bool
    error: str | None = None  # why the run could not be read, if it could not
    planned: int | None = None  # problems the manifest says the run covers
    status: str | None = None  # running | interrupted | finished/complete (from the manifest) | None

    def to_dict(self) -> dict:
        return {
            "path": str(self.path), "name": self.name, "benchmark": self.benchmark, "model": self.model,
            "created": self.created, "total": self.total, "correct": self.correct,
            "accuracy": self.accuracy, "running": self.running, "error": self.error,
            "planned": self.planned, "status": self.status,
        }


def _manifest_created(manifest: dict, path: Path) -> float | None:
    created = manifest.get("created")
    if isinstance(created, (int, float)):
        return float(created)
    if isinstance(created, str):
        from datetime import datetime

        try:
            return datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _manifest_benchmark(manifest: dict) -> str | None:
    bench = manifest.get("benchmark")
    if isinstance(bench, dict):
        bench = bench.get("name") or bench.get("spec")
    return str(bench) if bench is not None else None


# Counts per run keyed by the sizes and mtimes of its files, so re-listing a workspace re-reads only what changed.
_COUNT_CACHE: dict[Path, tuple[tuple, tuple[int, int]]] = {}


def _file_key(run: RunDir) -> tuple:
    key = []
    for p in (run.results_path, run.adjudications_path):
        try:
            st = p.stat()
            key.append((st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            key.append(None)
    return tuple(key)


def _counts(run: RunDir) -> tuple[int, int]:
    key = _file_key(run)
    cached = _COUNT_CACHE.get(run.path)
    if cached and cached[0] == key:
        return cached[1]
    records = run.load_results(strict=False)
    adjs = run.load_adjudications(strict=False)
    counts = (len(records), sum(1 for r in records if effective_verdict(r, adjs) == "correct"))
    _COUNT_CACHE[run.path] = (key, counts)
    return counts


def run_info(run: RunDir | Path | str) -> RunInfo:
    """Summary line for one run: accuracy = correct / items with human verdicts applied."""
    run = as_run(run)
    err = None
    manifest: dict = {}
    total = correct = 0
    try:
        manifest = run.manifest
    except (RunError, OSError) as exc:
        err = str(exc)
    try:
        total, correct = _counts(run)
    except OSError as exc:
        err = str(exc)
    model = manifest.get("model")
    planned = manifest.get("total") if isinstance(manifest.get("total"), int) else None
    running = run.is_running()
    status = manifest.get("status") if isinstance(manifest.get("status"), str) else None
    if running:
        status = "running"
    elif status == "running":
        status = "interrupted"  # the manifest says running but no writer holds the lock
    elif status is None and planned is not None:
        status = "complete" if total >= planned else "interrupted"
    return RunInfo(
        path=run.path, name=manifest.get("name") or run.name, benchmark=_manifest_benchmark(manifest),
        model=str(model) if model is not None else None, created=_manifest_created(manifest, run.manifest_path),
        total=total, correct=correct, accuracy=(correct / total) if total else None,
        running=running, error=err, planned=planned, status=status,
    )


def find_runs(root: Path | str) -> list[RunDir]:
    """Run directories under a workspace (its runs/ folder) or a plain folder, newest first."""
    root = Path(root)
    base = root / "runs" if (root / "runs").is_dir() else root
    if not base.is_dir():
        return []
    found = [p for p in base.iterdir() if p.is_dir() and ((p / MANIFEST).is_file() or (p / RESULTS).is_file())]

    def mtime(p: Path) -> float:
        try:
            return max((p / n).stat().st_mtime for n in (MANIFEST, RESULTS) if (p / n).exists())
        except ValueError:
            return 0.0

    return [RunDir(p) for p in sorted(found, key=mtime, reverse=True)]


def list_runs(root: Path | str) -> list[RunInfo]:
    """RunInfo for every run under a workspace (or folder of runs), newest first."""
    return [run_info(r) for r in find_runs(root)]


def as_run(run: RunDir | Path | str) -> RunDir:
    """A RunDir for a path (or the RunDir itself)."""
    return run if isinstance(run, RunDir) else RunDir(run)
