"""The adjudication queue: which items a human must settle, where to resume, and undo through a session.

Every decision is appended (and fsynced) to the run's adjudications.jsonl before the session moves
on; an undo appends a record with verdict null, which pops that item's last decision, so undoing
restores the verdict the item had before (possibly from an earlier session), or none.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mathbench.core.evaluation.rundir import AdjudicationState, RunDir, as_run
from mathbench.core.records import HUMAN_VERDICTS, Verdict, record_key


def needs_review(record: dict, *, include_wrong: bool = False) -> bool:
    """True when the grader was unsure about *record* (or, with *include_wrong*, said wrong)."""
    verdict = record.get("verdict")
    return verdict == Verdict.UNCERTAIN or (include_wrong and verdict == Verdict.WRONG)


def review_queue(records: Iterable[dict], *, include_wrong: bool = False) -> list[dict]:
    """The records to review, in results order."""
    return [r for r in records if needs_review(r, include_wrong=include_wrong)]


def is_reviewed(key: Any, adjudications: dict) -> bool:
    """True when a human verdict (correct or wrong) stands for the record with *key* (its id, or (id, sample))."""
    adj = adjudications.get(key)
    return adj is not None and adj.get("verdict") in HUMAN_VERDICTS


def first_unreviewed(queue: list[dict], adjudications: dict, start: int = 0) -> int | None:
    """Index of the first queue item at or after *start* (wrapping round) with no human verdict."""
    n = len(queue)
    for step in range(n):
        i = (start + step) % n
        if not is_reviewed(record_key(queue[i]), adjudications):
            return i
    return None


class AdjudicationSession:
    """One person's pass over a run's review queue: decide, skip, note, undo (back to the session start)."""

    def __init__(self, run: RunDir | Path | str, *, include_wrong: bool = False, reviewer: str | None = None):
        self.run = as_run(run)
        self.include_wrong = include_wrong
        self.reviewer = reviewer
        self._undo: list[Any] = []  # keys this session wrote an entry for, newest last
        self.queue: list[dict] = []
        self.index: int | None = None
        self.reload()

    def reload(self) -> None:
        """Re-read results and adjudications from disk (a live run may have grown), keeping the current item."""
        current = self.current if self.index is not None and self.queue else None
        current_key = record_key(current) if current else None
        self.records = self.run.load_results(strict=False)
        self._state = AdjudicationState(self.run.adjudication_log(strict=False))
        self.adjudications = self._state.as_dict()
        self.queue = review_queue(self.records, include_wrong=self.include_wrong)
        self._pos = {record_key(r): i for i, r in enumerate(self.queue)}
        if current_key in self._pos:
            self.index = self._pos[current_key]
        else:
            self.index = first_unreviewed(self.queue, self.adjudications)

    # -- where we are

    @property
    def current(self) -> dict | None:
        """The record on screen, or None when every item is reviewed."""
        return self.queue[self.index] if self.index is not None and self.index < len(self.queue) else None

    @property
    def total(self) -> int:
        return len(self.queue)

    @property
    def reviewed(self) -> int:
        """Queue items with a standing human verdict."""
        return sum(1 for r in self.queue if is_reviewed(record_key(r), self.adjudications))

    @property
    def remaining(self) -> int:
        return self.total - self.reviewed

    @property
    def done(self) -> bool:
        return self.remaining == 0

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    def adjudication(self, key: Any | None = None) -> dict | None:
        """The standing human decision for an item by key (the current one by default)."""
        if key is None:
            cur = self.current
            key = record_key(cur) if cur else None
        return self.adjudications.get(key)

    def go_to(self, index: int) -> dict | None:
        """Show the queue item at *index*; returns it."""
        if not 0 <= index < len(self.queue):
            raise IndexError(f"queue has {len(self.queue)} items, no index {index}")
        self.index = index
        return self.current

    def go_to_id(self, key: Any) -> dict | None:
        """Show the queue item with *key* (its id, or (id, sample)); returns it."""
        if key not in self._pos:
            raise KeyError(f"{key!r} is not in the review queue")
        self.index = self._pos[key]
        return self.current

    # -- actions

    def _write(self, entry: dict) -> dict:
        key = record_key(entry)
        self._state.apply(entry)
        eff = self._state.effective(key)
        if eff is None:
            self.adjudications.pop(key, None)
        else:
            self.adjudications[key] = eff
        return entry

    def decide(self, verdict: str, note: str | None = None) -> dict:
        """Record *verdict* (correct|wrong) for the current item, fsynced, then move to the next unreviewed one."""
        cur = self.current
        if cur is None:
            raise LookupError("no item to decide: the queue is done")
        entry = self.run.append_adjudication(cur["id"], verdict, note, grader_verdict=cur.get("verdict"),
                                             reviewer=self.reviewer, sample=cur.get("sample"))
        self._write(entry)
        self._undo.append(record_key(cur))
        self._advance(after=self.index)
        return entry

    def accept(self, note: str | None = None) -> dict:
        """Mark the current item correct and move on."""
        return self.decide(Verdict.CORRECT, note)

    def reject(self, note: str | None = None) -> dict:
        """Mark the current item wrong and move on."""
        return self.decide(Verdict.WRONG, note)

    def skip(self) -> dict | None:
        """Leave the current item unreviewed and show the next unreviewed one (it comes back after a wrap)."""
        self._advance(after=self.index)
        return self.current

    def note(self, text: str) -> dict:
        """Attach a note to the current item without changing its verdict or moving on."""
        cur = self.current
        if cur is None:
            raise LookupError("no item to annotate")
        entry = self.run.append_note(cur["id"], text, reviewer=self.reviewer, sample=cur.get("sample"))
        self._write(entry)
        self._undo.append(record_key(cur))
        return entry

    def undo(self) -> dict | None:
        """Take back this session's last decision or note and show that item again; None when nothing is left."""
        if not self._undo:
            return None
        key = self._undo.pop()
        rid, sample = key if isinstance(key, tuple) else (key, None)
        entry = self.run.undo_adjudication(rid, reviewer=self.reviewer, sample=sample)
        self._write(entry)
        if key in self._pos:
            self.index = self._pos[key]
        return self.current

    def _advance(self, *, after: int | None) -> None:
        if not self.queue:
            self.index = None
            return
        start = 0 if after is None else after + 1
        nxt = first_unreviewed(self.queue, self.adjudications, start % len(self.queue))
        self.index = nxt

    # -- figures

    def summary(self) -> dict:
        """The run's report summary with this session's verdicts applied."""
        from mathbench.core.evaluation.report import summarize_records

        return summarize_records(self.records, self.adjudications)

    @property
    def accuracy(self) -> float | None:
        """Run accuracy with human verdicts applied (uncertain counts as not correct)."""
        return self.summary()["accuracy"]
