"""A run directory and its reads: the manifest, results one per key, and the human verdicts folded from their log.

The files are described in `layout`; the one writer and its lock live in `writer`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mathbench.core.evaluation.layout import (
    ADJUDICATIONS,
    LOCK,
    MANIFEST,
    RESULTS,
    RunFileError,
    check_id,
)
from mathbench.core.evaluation.writer import RunWriter, lock_holder
from mathbench.core.records import HUMAN_VERDICTS, GRADER_VERDICTS, ResultRecord, RunManifest, record_key, result_key
from mathbench.core.storage import (
    JsonlTail,
    ParsedLines,
    append_jsonl,
    atomic_write_json,
    parse_jsonl,
    read_bytes,
    read_json,
)

ADJUDICATION_ACTIONS = ("verdict", "undo", "note")


# --------------------------------------------------------------------------- adjudications


class AdjudicationState:
    """Human decisions per key, folded from the adjudication log.

    An undo takes back the undoing reviewer's own last entry for that key and nobody else's: when Alice
    undoes after Bob decided the same item, Bob's later verdict stands. An undo that names no reviewer
    (written before reviewers were recorded) takes back the last entry.
    """

    def __init__(self, entries: Iterable[dict] = ()):
        self._stacks: dict[Any, list[dict]] = {}
        for entry in entries:
            self.apply(entry)

    def apply(self, entry: dict) -> None:
        """Fold one more log entry in (what append_adjudication just wrote)."""
        stack = self._stacks.setdefault(record_key(entry), [])
        if adjudication_action(entry) != "undo":
            stack.append(entry)
            return
        if "reviewer" not in entry:
            if stack:
                stack.pop()
            return
        for i in range(len(stack) - 1, -1, -1):
            if stack[i].get("reviewer") == entry["reviewer"]:
                del stack[i]
                return

    def effective(self, key: Any) -> dict | None:
        """The standing decision for *key* (verdict, latest note, history depth), or None."""
        stack = self._stacks.get(key)
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
        """Every key with a standing decision mapped to it."""
        out = {}
        for key in self._stacks:
            eff = self.effective(key)
            if eff is not None:
                out[key] = eff
        return out


def adjudication_action(entry: dict) -> str:
    """The kind of an adjudication log entry: "verdict", "undo" (verdict null) or "note"."""
    action = entry.get("action")
    if action in ADJUDICATION_ACTIONS:
        return action
    return "undo" if entry.get("verdict") is None else "verdict"


def human_verdict(record: dict | ResultRecord, adjudications: dict | None) -> str | None:
    """The standing human verdict (correct|wrong) for *record*, or None."""
    if not adjudications:
        return None
    key = record.key if isinstance(record, ResultRecord) else record_key(record)
    adj = adjudications.get(key)
    if adj is not None and adj.get("verdict") in HUMAN_VERDICTS:
        return adj["verdict"]
    return None


def effective_verdict(record: dict, adjudications: dict | None = None) -> str | None:
    """The verdict that counts: the human's when one stands for this record, else the grader's."""
    human = human_verdict(record, adjudications)
    if human is not None:
        return human
    verdict = record.get("verdict")
    return verdict if verdict in GRADER_VERDICTS else None


def _default_reviewer() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER")


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

    def signature(self) -> tuple:
        """What changes when the results or human verdicts change: each file's size and mtime (None if absent)."""
        parts: list[Any] = []
        for path in (self.results_path, self.adjudications_path):
            try:
                st = path.stat()
                parts.append((st.st_size, st.st_mtime_ns))
            except OSError:
                parts.append(None)
        return tuple(parts)

    # -- manifest

    @property
    def manifest(self) -> dict:
        """The parsed manifest.json, or {} when there is none."""
        try:
            data = read_json(self.manifest_path, error=RunFileError)
        except FileNotFoundError:
            return {}
        if not isinstance(data, dict):
            raise RunFileError(self.manifest_path, 1, "expected a JSON object")
        return data

    def load_manifest(self) -> RunManifest | None:
        """The manifest as a RunManifest, or None when there is none."""
        data = self.manifest
        return RunManifest.from_json(data) if data else None

    def write_manifest(self, manifest: dict | RunManifest) -> None:
        """Save *manifest* atomically (temp file, fsync, rename)."""
        if isinstance(manifest, RunManifest):
            manifest = manifest.to_json()
        atomic_write_json(self.manifest_path, manifest)

    def update_manifest(self, **fields: Any) -> dict:
        """Merge *fields* into the manifest, save it atomically and return it."""
        manifest = self.manifest
        manifest.update(fields)
        self.write_manifest(manifest)
        return manifest

    # -- results

    def _parse_results(self, *, strict: bool = True, problems: list[str] | None = None) -> ParsedLines:
        return parse_jsonl(self.results_path, read_bytes(self.results_path), strict=strict, problems=problems,
                           check=check_id, error=RunFileError)

    def iter_results(self, *, strict: bool = True) -> Iterator[dict]:
        """Every valid record in file order, duplicates included; a torn last line is skipped."""
        for _, rec in self._parse_results(strict=strict).records:
            yield rec

    def load_results(self, *, strict: bool = True, problems: list[str] | None = None) -> list[dict]:
        """Records one per key (last wins, first position kept), as read; a torn last line is dropped.

        A malformed line elsewhere raises RunFileError (FILE:LINE:COL); with *strict* False it is
        skipped and described in *problems* instead.
        """
        parsed = self._parse_results(strict=strict, problems=problems)
        if parsed.torn and problems is not None:
            problems.append(f"{self.results_path}:{parsed.torn_line}: torn last line dropped ({len(parsed.torn)} bytes)")
        by_key: dict[Any, dict] = {}
        for _, rec in parsed.records:
            by_key[record_key(rec)] = rec
        return list(by_key.values())

    def load_records(self, *, strict: bool = True, problems: list[str] | None = None) -> list[ResultRecord]:
        """load_results() as typed ResultRecords."""
        return [ResultRecord.from_json(r) for r in self.load_results(strict=strict, problems=problems)]

    def torn_tail(self) -> bytes:
        """The bytes of an incomplete last line of results.jsonl (b"" when the file ends cleanly)."""
        return self._parse_results(strict=False).torn

    def done_ids(self, *, include_errors: bool = True) -> set:
        """Keys that have a record; with *include_errors* False, keys whose latest record errored are left out."""
        records = self.load_records()
        return {r.key for r in records if include_errors or not r.is_error}

    def error_ids(self) -> set:
        """Keys whose latest record has an error (what --retry-errors re-runs)."""
        return {r.key for r in self.load_records() if r.is_error}

    def open_writer(self) -> RunWriter:
        """Take the run's lock and return a writer; raises RunLocked when another writer holds it."""
        return RunWriter(self.path)

    def writer_pid(self) -> int | None:
        """The pid of the process writing this run now, or None when no writer holds the lock."""
        return lock_holder(self.path)

    def is_running(self) -> bool:
        """True when a writer holds the run's lock."""
        return self.writer_pid() is not None

    def tail(self) -> JsonlTail:
        """A reader that returns only the complete lines appended to results.jsonl since its last call."""
        return JsonlTail(self.results_path, check=check_id, error=RunFileError)

    # -- adjudications

    def append_adjudication(self, id: Any, verdict: str | None, note: str | None = None, *,
                            grader_verdict: str | None = None, reviewer: str | None = None,
                            action: str | None = None, sample: int | None = None) -> dict:
        """Append one human decision (fsynced before returning); verdict None means undo the last one."""
        if action is None:
            action = "undo" if verdict is None else "verdict"
        if action not in ADJUDICATION_ACTIONS:
            raise ValueError(f"unknown adjudication action {action!r}")
        if action == "verdict" and verdict not in HUMAN_VERDICTS:
            raise ValueError(f"a human verdict is one of {HUMAN_VERDICTS}, not {verdict!r}")
        if action == "undo":
            verdict = None
        entry: dict[str, Any] = {"id": id}
        if sample is not None:
            entry["sample"] = sample
        entry.update({
            "verdict": verdict,
            "note": note,
            "grader_verdict": grader_verdict,
            "time": time.time(),
            "reviewer": reviewer if reviewer is not None else _default_reviewer(),
        })
        if action == "note":
            entry["action"] = "note"
        self.path.mkdir(parents=True, exist_ok=True)
        append_jsonl(self.adjudications_path, entry)
        return entry

    def undo_adjudication(self, id: Any, *, reviewer: str | None = None, sample: int | None = None) -> dict:
        """Append an undo for *id*: its last verdict or note stops counting."""
        return self.append_adjudication(id, None, reviewer=reviewer, action="undo", sample=sample)

    def append_note(self, id: Any, note: str, *, reviewer: str | None = None, sample: int | None = None) -> dict:
        """Append a note for *id* without changing its verdict (undo removes it again)."""
        adj = self.load_adjudications().get(result_key(id, sample))
        return self.append_adjudication(id, adj.get("verdict") if adj else None, note, reviewer=reviewer,
                                        action="note", sample=sample)

    def adjudication_log(self, *, strict: bool = True, problems: list[str] | None = None) -> list[dict]:
        """Every adjudication entry in file order (torn last line dropped)."""
        parsed = parse_jsonl(self.adjudications_path, read_bytes(self.adjudications_path),
                             strict=strict, problems=problems, check=check_id, error=RunFileError)
        return [rec for _, rec in parsed.records]

    def load_adjudications(self, *, strict: bool = True, problems: list[str] | None = None) -> dict[Any, dict]:
        """The standing human decision per key after replaying undos; keys with nothing left are absent.

        Each value is the latest standing entry with ``verdict`` (correct|wrong, or None when only a
        note stands), the latest ``note``, ``grader_verdict``, ``time``, ``reviewer`` and ``history``.
        """
        return AdjudicationState(self.adjudication_log(strict=strict, problems=problems)).as_dict()


def as_run(run: RunDir | Path | str) -> RunDir:
    """A RunDir for a path (or the RunDir itself)."""
    return run if isinstance(run, RunDir) else RunDir(run)


def find_run(arg: str | Path, workspace: str | Path | None = None) -> Path | None:
    """The run directory a user named: a path from here, else one inside *workspace* (`runs/NAME` or `NAME`).

    None when none of them holds a run.
    """
    path = Path(arg).expanduser()
    candidates = [path]
    if not path.is_absolute():
        base = Path(workspace).expanduser() if workspace else Path.cwd()
        candidates += [base / path, base / "runs" / path]
    return next((c for c in candidates if RunDir(c).exists()), None)
