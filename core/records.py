"""The shared vocabulary of records: verdicts, run states, and typed result and manifest records."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    """The grader's three-way verdict; a human settles only correct or wrong."""

    CORRECT = "correct"
    WRONG = "wrong"
    UNCERTAIN = "uncertain"


GRADER_VERDICTS: tuple[str, ...] = tuple(v.value for v in Verdict)
HUMAN_VERDICTS: tuple[str, ...] = (Verdict.CORRECT.value, Verdict.WRONG.value)


class RunStatus(StrEnum):
    """Where a run stands: being written, stopped before its end, or done."""

    RUNNING = "running"
    INCOMPLETE = "incomplete"  # stopped, crashed or left with errors: resume to finish it
    COMPLETE = "complete"


class JobState(StrEnum):
    """The life of a detached job."""

    STARTING = "starting"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"


ACTIVE_JOB_STATES: tuple[str, ...] = (JobState.STARTING.value, JobState.RUNNING.value)
FINAL_JOB_STATES: tuple[str, ...] = (JobState.SUCCEEDED.value, JobState.FAILED.value, JobState.STOPPED.value)


def _split(cls: type, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    names = {f.name for f in fields(cls) if f.name != "extra"}
    known = {k: v for k, v in data.items() if k in names}
    extra = {k: v for k, v in data.items() if k not in names}
    return known, extra


@dataclass
class ResultRecord:
    """One line of results.jsonl: a problem's outcome; unknown keys ride along in *extra*."""

    id: str | int
    question: str | None = None
    gold: str | None = None
    gold_answer: str | None = None
    level: int | None = None
    subject: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    executions: list[dict[str, Any]] = field(default_factory=list)
    final_text: str | None = None
    pred_answer: str | None = None
    verdict: str | None = None  # a Verdict; None when the item ended in an error
    reason: str | None = None
    latency: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    rounds: int | None = None
    endpoint: str | None = None
    attempts: int | None = None
    time: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        """True when the item was not graded: an error is never a wrong answer."""
        return self.error is not None or self.verdict is None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResultRecord:
        known, extra = _split(cls, data)
        return cls(**known, extra=extra)

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out.update(self.extra)
        return out
