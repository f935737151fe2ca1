"""Loading one run for a screen (in a worker) and the small tallies the screens show from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual import work
from textual.message import Message

from mathbench.core.evaluation.rundir import effective_verdict


@dataclass
class RunSnapshot:
    """Everything a screen needs of one run, read at one moment."""

    path: Path
    manifest: dict[str, Any]
    records: list[dict[str, Any]]
    adjudications: dict[Any, dict[str, Any]]
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.manifest.get("name") or self.path.name)

    @property
    def sampled(self) -> bool:
        """The run drew several samples per problem (records carry a sample index)."""
        declared = self.manifest.get("samples")
        return any(r.get("sample") is not None for r in self.records[:1]) or (isinstance(declared, int) and declared > 1)

    def verdict_of(self, record: dict[str, Any]) -> str:
        """The verdict that counts for *record* ("error" when it errored without a verdict)."""
        verdict = effective_verdict(record, self.adjudications)
        if verdict is None:
            return "error" if record.get("error") else "uncertain"
        return verdict

    def is_human(self, record: dict[str, Any]) -> bool:
        adj = self.adjudications.get(record.get("id"))
        return bool(adj and adj.get("verdict") in ("correct", "wrong"))


def level_key(value: Any) -> tuple:
    """Sort key that puts 'Level 2' before 'Level 10'."""
    from mathbench.core.evaluation.report import natural_key

    return natural_key(value if value is not None else "~")


def run_signature(*paths: Path | None) -> tuple:
    """What changes when a run's results or human verdicts change (paths and file sizes and times)."""
    from mathbench.core.evaluation.rundir import RunDir

    return tuple((path, RunDir(path).signature() if path is not None else None) for path in paths)


def load_run(path: Path) -> RunSnapshot:
    """Read *path*'s manifest, results and adjudications; bad lines are skipped and described."""
    from mathbench.core.evaluation.rundir import RunDir

    run = RunDir(path)
    problems: list[str] = []
    try:
        manifest = run.manifest
    except ValueError as exc:
        manifest, problems = {}, [str(exc)]
    records = run.load_results(strict=False, problems=problems)
    adjudications = run.load_adjudications(strict=False, problems=problems)
    return RunSnapshot(Path(path), manifest, records, adjudications, problems)


class RunLoaded(Message):
    """A run was read from disk."""

    def __init__(self, snapshot: RunSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class RunLoadFailed(Message):
    """A run could not be read."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__()
        self.path = path
        self.reason = reason


class VerdictOverridden(Message):
    """A human verdict for *record_id* was appended (or taken back); *adjudications* is the run's standing set."""

    def __init__(self, run_path: Path, record_id: Any, adjudications: dict[Any, dict[str, Any]],
                 signature: tuple = ()) -> None:
        super().__init__()
        self.run_path = run_path
        self.record_id = record_id
        self.adjudications = adjudications
        self.signature = signature
        """run_signature() of the run just after the change."""


def override_verdict(run_path: Path, record: dict[str, Any], verdict: str | None) -> VerdictOverridden:
    """Append a human *verdict* for *record* to its run (None takes the last one back, fsynced either way)."""
    from mathbench.core.evaluation.rundir import RunDir

    run = RunDir(run_path)
    sample = record.get("sample")  # a run with several samples settles one sample
    if verdict is None:
        run.undo_adjudication(record.get("id"), sample=sample)
    else:
        run.append_adjudication(record.get("id"), verdict, grader_verdict=record.get("verdict"), sample=sample)
    return VerdictOverridden(Path(run_path), record.get("id"), run.load_adjudications(strict=False),
                             run_signature(Path(run_path)))


class VerdictOverrides:
    """For screens whose keys set a human verdict on a record: the fsynced append runs in a worker and
    a VerdictOverridden message reports the run's standing verdicts."""

    @work(thread=True, exclusive=True, group="verdict", exit_on_error=False)
    def override(self, run_path: Path, record: dict[str, Any], verdict: str | None) -> None:
        try:
            self.post_message(override_verdict(run_path, record, verdict))
        except (OSError, ValueError) as exc:
            self.app.call_from_thread(self.notify, f"verdict not saved: {exc}", severity="error")
