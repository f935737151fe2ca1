"""The shared vocabulary of records: verdicts, run states, and typed result and manifest records."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
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

    @classmethod
    def parse(cls, value: object) -> RunStatus | None:
        """A status as written by any version (interrupted/partial mean incomplete, finished complete)."""
        if isinstance(value, str):
            value = _OLD_STATUS.get(value, value)
            if value in cls._value2member_map_:
                return cls(value)
        return None


_OLD_STATUS = {"interrupted": "incomplete", "partial": "incomplete", "finished": "complete"}


class JobState(StrEnum):
    """The life of a detached job."""

    STARTING = "starting"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"


ACTIVE_JOB_STATES: tuple[str, ...] = (JobState.STARTING.value, JobState.RUNNING.value)
FINAL_JOB_STATES: tuple[str, ...] = (JobState.SUCCEEDED.value, JobState.FAILED.value, JobState.STOPPED.value)


_SHAPES: dict[type, tuple[frozenset[str], dict[str, Any], dict[str, Any]]] = {}


def _from_json(cls: type, data: dict[str, Any]) -> Any:
    """An instance of dataclass *cls* from JSON: known keys become fields, the rest go to ``extra``.

    Fills the instance's __dict__ directly: records are read by the thousand, and the generated __init__
    with keyword arguments costs about as much as parsing their JSON did.
    """
    shape = _SHAPES.get(cls)
    if shape is None:
        fs = [f for f in fields(cls) if f.name != "extra"]
        shape = _SHAPES[cls] = (frozenset(f.name for f in fs),
                                {f.name: f.default for f in fs if f.default is not MISSING},
                                {f.name: f.default_factory for f in fs if f.default_factory is not MISSING})
    names, defaults, factories = shape
    obj = object.__new__(cls)
    values = obj.__dict__
    values.update(defaults)
    extra: dict[str, Any] = {}
    for key, value in data.items():
        if key in names:
            values[key] = value
        else:
            extra[key] = value
    for key, factory in factories.items():
        if key not in values:
            values[key] = factory()
    missing = names.difference(values)
    if missing:
        raise TypeError(f"{cls.__name__} needs {', '.join(sorted(missing))}")
    values["extra"] = extra
    return obj


@dataclass
class ResultRecord:
    """One line of results.jsonl: a problem's outcome; unknown keys ride along in *extra*."""

    id: str | int
    sample: int | None = None  # which of a problem's N samples (absent when N is 1)
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
        return bool(self.error) or self.verdict not in GRADER_VERDICTS

    @property
    def key(self) -> Any:
        """What identifies the record in its run: the id, or (id, sample) for one of several samples."""
        return result_key(self.id, self.sample)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResultRecord:
        return _from_json(cls, data)

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        if out["sample"] is None:
            del out["sample"]
        out.update(self.extra)
        return out


def result_key(id: Any, sample: Any = None) -> Any:
    """The key of a result or adjudication: the id, or (id, sample) when the run drew several samples."""
    return id if sample is None else (id, sample)


def record_key(record: dict[str, Any]) -> Any:
    """result_key() of a record or adjudication read from JSON."""
    return result_key(record.get("id"), record.get("sample"))


@dataclass
class RunManifest:
    """manifest.json: what a run measured and how (never a secret); unknown keys ride along in *extra*."""

    kind: str = "eval"
    name: str | None = None
    benchmark: str | None = None
    benchmark_spec: str | None = None
    benchmark_file: str | None = None
    benchmark_hash: str | None = None  # sha256 over the selected problems (id, question, gold, level, subject)
    problem_hashes: list[str] | None = None  # a short hash per problem, in problem_ids order
    model: str | None = None
    base_urls: list[str] = field(default_factory=list)
    endpoint: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    samples: int = 1
    prompt_name: str | None = None
    prompt: dict[str, Any] | None = None
    max_rounds: int = 1
    code_timeout: float | None = None
    concurrency: int | None = None
    timeout: float | None = None
    stream: bool = False
    limit: int | None = None
    levels: list[int] | None = None
    subjects: list[str] | None = None
    shuffle_seed: int | None = None
    total: int | None = None  # problems in the run
    problem_ids: list[str] = field(default_factory=list)
    mathbench_version: str | None = None
    python: str | None = None
    created: float | None = None
    started: float | None = None
    finished: float | None = None
    updated: float | None = None
    status: str | None = None  # a RunStatus
    stopped_reason: str | None = None  # why the last session ended before the run was complete
    down_since: float | None = None  # set while every endpoint is down and the eval waits for one
    sessions: list[dict[str, Any]] = field(default_factory=list)
    served_models: dict[str, Any] | None = None
    sandbox: dict[str, Any] | None = None  # the protections model code ran under
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunManifest:
        return _from_json(cls, data)

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out.update(self.extra)
        return out
