"""What a running eval reports: live counts, the events it emits (past-tense dataclasses) and its final summary.

Accuracy is over graded items only: an item whose latest record is an error is counted apart, never as wrong.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mathbench.core.evaluation.report import wilson_interval
from mathbench.core.records import ResultRecord, RunStatus


@dataclass
class Progress:
    """A snapshot of a run's counts, accuracy with its Wilson 95% interval, throughput and ETA.

    total and done count items: problems, or (problem, sample) pairs when a run draws several samples.
    """

    total: int
    done: int
    correct: int
    wrong: int
    uncertain: int
    errors: int
    accuracy: float | None  # correct / graded
    ci_low: float | None
    ci_high: float | None
    elapsed: float
    rate: float | None  # items per second in this session
    eta: float | None  # seconds left at that rate
    in_flight: int = 0
    retries: int = 0
    graded: int = 0
    down_since: float | None = None  # wall time every endpoint went down, while the eval waits

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RunStarted:
    run_dir: Path
    total: int
    already_done: int
    pending: int
    resumed: bool
    manifest: dict
    progress: Progress


@dataclass
class ItemFinished:
    record: dict
    progress: Progress


@dataclass
class ItemFailed:
    record: dict
    error: str
    progress: Progress


@dataclass
class RequestRetried:
    endpoint: str
    attempt: int
    error: str
    delay: float


@dataclass
class EndpointsWentDown:
    """Every endpoint stopped answering: the eval waits (until *gives_up_at*) and goes on when one answers."""

    since: float
    gives_up_at: float
    endpoints: list[str]


@dataclass
class EndpointsCameBack:
    """An endpoint answered again after *down_for* seconds; the eval goes on."""

    down_for: float


@dataclass
class RunFinished:
    summary: RunSummary


@dataclass
class RunSummary(Progress):
    """The outcome of run_eval: the final Progress over the whole run (earlier sessions included), and more."""

    run_dir: Path = Path()
    new_items: int = 0  # items written by this session
    complete: bool = False  # every item graded: none missing, none left with an error
    interrupted: bool = False
    endpoints: dict = field(default_factory=dict)
    status: str = RunStatus.INCOMPLETE.value
    stopped_reason: str | None = None
    samples: int = 1
    problems: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["run_dir"] = str(self.run_dir)
        return d


class Tally:
    """Live counts keyed by record key (a re-run replaces the old outcome); errors apart from the verdicts."""

    def __init__(self, total: int, records: Iterable[ResultRecord]) -> None:
        self.total = total
        self.counts = {"correct": 0, "wrong": 0, "uncertain": 0, "errors": 0}
        self.by_key: dict[Any, str] = {}
        for rec in records:
            self.add(rec)
        self.started = time.monotonic()
        self.session_done = 0
        self.in_flight = 0
        self.retries = 0
        self.down_since: float | None = None

    def add(self, rec: ResultRecord) -> None:
        old = self.by_key.get(rec.key)
        if old is not None:
            self.counts[old] -= 1
        bucket = "errors" if rec.is_error else str(rec.verdict)
        self.by_key[rec.key] = bucket
        self.counts[bucket] += 1

    def snapshot(self) -> Progress:
        c = self.counts
        elapsed = time.monotonic() - self.started
        done = len(self.by_key)
        graded = done - c["errors"]
        lo, hi = wilson_interval(c["correct"], graded) if graded else (None, None)
        rate = self.session_done / elapsed if elapsed > 0 and self.session_done else None
        remaining = max(0, self.total - done)
        eta = remaining / rate if rate else (0.0 if remaining == 0 else None)
        return Progress(total=self.total, done=done, correct=c["correct"], wrong=c["wrong"],
                        uncertain=c["uncertain"], errors=c["errors"],
                        accuracy=(c["correct"] / graded) if graded else None, ci_low=lo, ci_high=hi,
                        elapsed=elapsed, rate=rate, eta=eta, in_flight=self.in_flight, retries=self.retries,
                        graded=graded, down_since=self.down_since)

    @property
    def complete(self) -> bool:
        """Every item has a graded record."""
        return len(self.by_key) >= self.total and self.counts["errors"] == 0
