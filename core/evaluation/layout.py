"""What a run directory holds: its file names, the id every record carries, and the errors raised on it.

Layout of a run directory::

    manifest.json         what was run (benchmark and its hash, model, endpoint, sampling, prompt, times); atomic saves
    results.jsonl         one JSON object per graded problem (or per sample), appended + fsynced per record
    adjudications.jsonl   human verdicts, appended + fsynced; an undo is a record with verdict null
    .lock                 flock held by the one writer; holds its pid
    results.jsonl.torn    bytes of a torn last line cut off by a crash (kept, never parsed)

Records are keyed by their ``id`` (and ``sample`` when a run draws several); when a key appears twice
(``--retry-errors`` re-ran it) the last record wins and keeps the first one's position.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mathbench.core.storage import JsonlError

MANIFEST = "manifest.json"
RESULTS = "results.jsonl"
ADJUDICATIONS = "adjudications.jsonl"
LOCK = ".lock"
TORN_SUFFIX = ".torn"


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


def declared_samples(manifest: dict) -> int:
    """Samples per problem a manifest declares (1 when it says nothing usable)."""
    value = manifest.get("samples")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1


def check_id(record: Any, path: Path, line: int | None) -> Any:
    """The record's id; raises RunFileError (FILE:LINE) when it is not an object with a usable id."""
    if not isinstance(record, dict):
        raise RunFileError(path, line, f"expected a JSON object, got {type(record).__name__}")
    rid = record.get("id")
    if rid is None or isinstance(rid, bool) or not isinstance(rid, (str, int)):
        raise RunFileError(path, line, "record has no usable 'id' (a string or integer)")
    sample = record.get("sample")
    if sample is not None and (isinstance(sample, bool) or not isinstance(sample, int) or sample < 0):
        raise RunFileError(path, line, "record's 'sample' is not a non-negative integer")
    return rid
