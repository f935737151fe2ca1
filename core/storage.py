"""Durable files: atomic writes, fsynced appends, and JSONL reading that survives a torn last line."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class JsonlError(ValueError):
    """A malformed line in a JSONL file, named by file, line and column."""

    def __init__(self, path: Path | str, line: int | None, message: str, col: int | None = None):
        self.path, self.line, self.col, self.message = Path(path), line, col, message
        where = f"{path}:{line}" if line is not None else str(path)
        if line is not None and col is not None:
            where += f":{col}"
        super().__init__(f"{where}: {message}")


def fsync_dir(path: Path | str) -> None:
    """Flush a folder's entries to disk, so a rename in it survives a crash (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path | str, data: bytes, *, mode: int | None = None) -> None:
    """Write *data* to *path* via a temp file in the same folder, fsync and rename: never a half file.

    The file keeps its permission bits (new files get *mode*, or 0o644); a symlink is written
    through, so the link stays and its target gets the new content.
    """
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            keep = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            keep = mode if mode is not None else 0o644
        os.chmod(tmp, keep if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path | str, text: str, *, mode: int | None = None) -> None:
    """Write UTF-8 *text* atomically (see atomic_write_bytes)."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def atomic_write_json(path: Path | str, obj: Any, *, mode: int | None = None, indent: int | None = 2) -> None:
    """Write *obj* as JSON (UTF-8, trailing newline) atomically."""
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=indent) + "\n", mode=mode)


def read_json(path: Path | str, *, error: type[JsonlError] = JsonlError) -> Any:
    """Parse a JSON file; a syntax error (raised as *error*) names the file, line and column."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(path, exc.lineno, f"malformed JSON: {exc.msg}", col=exc.colno) from None


def dump_line(record: Any) -> bytes:
    """One JSONL line for *record*: compact UTF-8 JSON and a newline."""
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def write_all(fd: int, data: bytes) -> None:
    """Write all of *data* to a raw file descriptor."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def append_line(path: Path | str, line: bytes, *, mode: int = 0o644) -> None:
    """Append one complete line under a short exclusive flock, then fsync."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        write_all(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the flock


def append_jsonl(path: Path | str, record: Any) -> None:
    """Append *record* as one fsynced JSONL line."""
    append_line(path, dump_line(record))


class Appender:
    """An open JSONL file for one writer: each append() is written whole and fsynced before it returns."""

    def __init__(self, path: Path | str, *, mode: int = 0o644):
        self.path = Path(path)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)

    @property
    def closed(self) -> bool:
        return self._fd is None

    def append(self, record: Any) -> None:
        """Append *record* as one JSON line, flushed to disk."""
        self.append_line(dump_line(record))

    def append_line(self, line: bytes) -> None:
        """Append one complete line, flushed to disk."""
        if self._fd is None:
            raise ValueError(f"{self.path}: appender is closed")
        write_all(self._fd, line)
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def repair_torn_tail(path: Path | str, *, save_to: Path | str | None = None,
                     check: Callable[[Any, Path, int], Any] | None = None) -> bytes:
    """Cut an incomplete last line (a crash mid-append) so the next append starts clean; returns what was cut.

    A last line that parses as a whole record only lost its newline: it is kept and terminated. The cut
    bytes are appended to *save_to* (fsynced) before the file is cut, so nothing is thrown away.
    """
    path = Path(path)
    data = read_bytes(path)
    if not data or data.endswith(b"\n"):
        return b""
    parsed = parse_jsonl(path, data, strict=False, check=check)
    if not parsed.torn:
        append_line(path, b"\n")
        return b""
    if save_to is not None:
        append_line(save_to, parsed.torn + b"\n")
    with open(path, "r+b") as fh:
        fh.truncate(parsed.end_offset)
        fh.flush()
        os.fsync(fh.fileno())
    return parsed.torn


@dataclass
class ParsedLines:
    """What a pass over JSONL bytes found: the records and the torn tail, if any."""

    records: list[tuple[int, Any]] = field(default_factory=list)  # (1-based line number, record)
    torn: bytes = b""  # an incomplete last line that was dropped
    torn_line: int | None = None
    end_offset: int = 0  # byte offset just past the last complete line


def parse_jsonl(path: Path | str, data: bytes, *, start_line: int = 1, strict: bool = True,
                problems: list[str] | None = None, final: bool = True,
                check: Callable[[Any, Path, int], Any] | None = None,
                error: type[JsonlError] = JsonlError, loads: Callable[[str], Any] = json.loads) -> ParsedLines:
    """Parse JSONL bytes; a last segment without a newline is torn unless it is a whole record.

    *check(record, path, line)* may raise JsonlError to reject a record; *loads* parses one line. With *strict* a bad line
    raises (as *error*); otherwise it is skipped and described in *problems*. With *final* False (tailing a
    growing file) an unterminated last segment is left for later.
    """
    path = Path(path)
    out = ParsedLines()
    last_nl = data.rfind(b"\n")
    body = data[: last_nl + 1] if last_nl >= 0 else b""
    tail = data[last_nl + 1:]
    out.end_offset = len(body)
    lines = body.decode("utf-8", errors="surrogateescape").split("\n")
    lines.pop()  # the empty string after the final newline
    append = out.records.append
    lineno = start_line - 1
    for lineno, raw in enumerate(lines, start_line):
        if not raw.strip("\x00 \t\r"):
            continue
        try:
            rec = loads(raw)
            if check is not None:
                check(rec, path, lineno)
        except json.JSONDecodeError as exc:
            err = error(path, lineno, f"malformed JSON: {exc.msg}", col=exc.colno)
            if strict:
                raise err from None
            if problems is not None:
                problems.append(str(err))
            continue
        except JsonlError as err:
            if strict:
                raise
            if problems is not None:
                problems.append(str(err))
            continue
        append((lineno, rec))
    if tail and final:
        tail_line = lineno + 1 if lines else start_line
        stripped = tail.strip(b"\x00 \t\r")
        rec = None
        if stripped:
            try:
                rec = loads(stripped.decode("utf-8", errors="surrogateescape"))
                if check is not None:
                    check(rec, path, tail_line)
            except ValueError:  # JsonlError is a ValueError too
                rec = None
        # Any proper prefix of a JSON object is invalid JSON, so a parsable tail is a whole record
        # whose newline never made it to disk.
        if isinstance(rec, dict):
            append((tail_line, rec))
            out.end_offset = len(data)
        elif stripped:
            out.torn = tail
            out.torn_line = tail_line
        else:
            out.end_offset = len(data)
    return out


def read_bytes(path: Path | str) -> bytes:
    """The file's bytes, or b"" when it does not exist."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return b""


def read_jsonl(path: Path | str, *, strict: bool = True, problems: list[str] | None = None,
               check: Callable[[Any, Path, int], Any] | None = None) -> list[Any]:
    """Every record of a JSONL file (missing file: none), dropping a torn last line."""
    return [rec for _, rec in parse_jsonl(path, read_bytes(path), strict=strict, problems=problems,
                                          check=check).records]


class JsonlTail:
    """Follows a growing JSONL file: each read_new() parses only the complete lines added since the last."""

    def __init__(self, path: Path | str, *, offset: int = 0, check: Callable[[Any, Path, int], Any] | None = None,
                 error: type[JsonlError] = JsonlError):
        self.path = Path(path)
        self.offset = offset
        self.line = 0  # complete lines consumed so far (for FILE:LINE in problems)
        self.problems: list[str] = []  # malformed complete lines, skipped
        self.resets = 0  # times the file shrank and was re-read from the start
        self._check, self._error = check, error

    def read_new(self) -> list[Any]:
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
        parsed = parse_jsonl(self.path, data, start_line=self.line + 1, strict=False, problems=self.problems,
                             final=False, check=self._check, error=self._error)
        self.offset += parsed.end_offset
        self.line += data.count(b"\n", 0, parsed.end_offset)
        return [rec for _, rec in parsed.records]
