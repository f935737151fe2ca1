"""The one writer of a run: its lock (an flock holding the writer's pid) and its fsynced appends of results."""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path
from typing import Any

from mathbench.core.evaluation.layout import (
    LOCK,
    RESULTS,
    TORN_SUFFIX,
    DuplicateResult,
    RunError,
    RunFileError,
    RunLocked,
    check_id,
)
from mathbench.core.records import ResultRecord, record_key
from mathbench.core.storage import Appender, fsync_dir, parse_jsonl, read_bytes, repair_torn_tail, write_all

# A writer retries its lock this long so a reader's momentary probe never refuses a real writer.
_LOCK_RETRY_S = 0.3


def _read_pid(lock_path: Path) -> int | None:
    try:
        text = lock_path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    first = text.split()[0] if text else ""
    return int(first) if first.isdigit() else None


def lock_holder(run_path: Path | str) -> int | None:
    """The pid of the process writing the run at *run_path* now (-1 when unknown), or None when no writer holds it."""
    lock_path = Path(run_path) / LOCK
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return _read_pid(lock_path) or -1
            raise
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _take_lock(run_path: Path) -> int:
    """Hold the run's flock and write our pid into it; raises RunLocked when another writer has it."""
    lock_path = run_path / LOCK
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
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
                raise RunLocked(run_path, _read_pid(lock_path)) from None
            time.sleep(0.02)
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    write_all(fd, f"{os.getpid()}\n".encode())
    os.fsync(fd)
    return fd


class RunWriter:
    """The single writer of a run: holds the lock, appends fsynced records, knows which keys are done.

    A key is a record's id, or (id, sample) for one of several samples of a problem.
    """

    def __init__(self, run_path: Path | str):
        self.path = Path(run_path)
        self.results_path = self.path / RESULTS
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = _take_lock(self.path)
        self._out: Appender | None = None
        try:
            self.repaired = len(repair_torn_tail(self.results_path, check=check_id,
                                                 save_to=self.results_path.with_name(RESULTS + TORN_SUFFIX)))
            parsed = parse_jsonl(self.results_path, read_bytes(self.results_path), check=check_id,
                                 error=RunFileError)
            latest = {record_key(rec): rec for _, rec in parsed.records}
            self._done = set(latest)
            self._errored = {k for k, rec in latest.items() if ResultRecord.from_json(rec).is_error}
            self._out = Appender(self.results_path)
            fsync_dir(self.path)
        except BaseException:
            self.close()
            raise

    def append(self, record: ResultRecord | dict[str, Any], *, replace: bool = False) -> None:
        """Append *record* as one JSON line, flushed and fsynced before returning.

        A second record for a key is refused unless that key's last record errored or *replace* is set.
        """
        if self._out is None:
            raise RunError(f"{self.path}: writer is closed")
        if isinstance(record, ResultRecord):
            record = record.to_json()
        check_id(record, self.results_path, None)
        key = record_key(record)
        if key in self._done and key not in self._errored and not replace:
            raise DuplicateResult(f"{self.results_path}: id {key!r} already has a result")
        self._out.append(record)
        self._done.add(key)
        if ResultRecord.from_json(record).is_error:
            self._errored.add(key)
        else:
            self._errored.discard(key)

    def done_ids(self, *, include_errors: bool = True) -> set:
        """Keys with a record so far; with *include_errors* False, errored keys are left out."""
        return set(self._done) if include_errors else self._done - self._errored

    def error_ids(self) -> set:
        """Keys whose latest record errored."""
        return set(self._errored)

    @property
    def closed(self) -> bool:
        return self._lock_fd is None

    def close(self) -> None:
        """Close the results file and release the lock."""
        if self._out is not None:
            self._out.close()
            self._out = None
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
