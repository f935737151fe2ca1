"""The runs of a workspace: finding run directories, newest first, and one summary line (RunInfo) each."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mathbench.core.evaluation.layout import MANIFEST, RESULTS, RunError, declared_samples
from mathbench.core.evaluation.report import summarize_records
from mathbench.core.evaluation.rundir import RunDir, as_run
from mathbench.core.records import RunStatus


@dataclass
class RunInfo:
    """One line of a workspace's run list; accuracy is over graded items, human verdicts applied."""

    path: Path
    name: str
    benchmark: str | None
    model: str | None
    created: float | None
    total: int  # items with a record (errors included)
    correct: int
    accuracy: float | None
    running: bool
    error: str | None = None  # why the run could not be read, if it could not
    planned: int | None = None  # problems the manifest says the run covers
    status: str | None = None  # a RunStatus: running | incomplete | complete
    errors: int = 0  # items whose latest record is an error (not graded)
    pending: int = 0  # uncertain items no human has settled yet
    samples: int = 1  # samples drawn per problem (total counts samples)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def run_status(*, running: bool, recorded: Any, planned: int | None, done: int, errors: int) -> RunStatus:
    """Where a run stands: running while a writer holds it; incomplete when stopped short or left with errors."""
    if running:
        return RunStatus.RUNNING
    status = RunStatus.parse(recorded)
    if status is RunStatus.RUNNING:
        return RunStatus.INCOMPLETE  # the manifest says running but no writer holds the lock
    if (planned is not None and done < planned) or errors:
        return RunStatus.INCOMPLETE
    return status or RunStatus.COMPLETE


def manifest_created(manifest: dict, path: Path) -> float | None:
    """When the run was created (the manifest's time, else the file's mtime)."""
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


# Summaries per run keyed by the sizes and mtimes of its files, so re-listing a workspace re-reads only what changed.
_SUMMARY_CACHE: dict[Path, tuple[tuple, dict]] = {}


def _summary(run: RunDir) -> dict:
    key = run.signature()
    cached = _SUMMARY_CACHE.get(run.path)
    if cached and cached[0] == key:
        return cached[1]
    records = run.load_records(strict=False)
    summary = summarize_records(records, run.load_adjudications(strict=False))
    _SUMMARY_CACHE[run.path] = (key, summary)
    return summary


def run_info(run: RunDir | Path | str) -> RunInfo:
    """Summary line for one run (its manifest and counts; a file it cannot read is named in .error)."""
    run = as_run(run)
    err = None
    manifest: dict = {}
    summary: dict = {}
    try:
        manifest = run.manifest
    except (RunError, OSError) as exc:
        err = str(exc)
    try:
        summary = _summary(run)
    except (RunError, OSError) as exc:
        err = str(exc)
    model = manifest.get("model")
    planned = manifest.get("total") if isinstance(manifest.get("total"), int) else None
    running = run.is_running()
    total = summary.get("total", 0)
    errors = summary.get("errors", 0)
    samples = declared_samples(manifest)
    status = run_status(running=running, recorded=manifest.get("status"),
                        planned=planned * samples if planned is not None else None, done=total, errors=errors)
    return RunInfo(
        path=run.path, name=manifest.get("name") or run.name, benchmark=_manifest_benchmark(manifest),
        model=str(model) if model is not None else None, created=manifest_created(manifest, run.manifest_path),
        total=total, correct=summary.get("correct", 0), accuracy=summary.get("accuracy"),
        running=running, error=err, planned=planned, status=status.value, errors=errors,
        pending=(summary.get("human") or {}).get("pending", 0), samples=samples,
    )


def find_runs(root: Path | str) -> list[RunDir]:
    """Run directories under a workspace (its runs/ folder) or a plain folder, newest first by creation."""
    root = Path(root)
    base = root / "runs" if (root / "runs").is_dir() else root
    if not base.is_dir():
        return []
    found = [RunDir(p) for p in base.iterdir()
             if p.is_dir() and ((p / MANIFEST).is_file() or (p / RESULTS).is_file())]

    def created(run: RunDir) -> float:
        try:
            manifest = run.manifest
        except (RunError, OSError, ValueError):
            manifest = {}
        path = run.manifest_path if run.manifest_path.exists() else run.results_path
        return manifest_created(manifest, path) or 0.0

    return sorted(found, key=created, reverse=True)


def list_runs(root: Path | str) -> list[RunInfo]:
    """RunInfo for every run under a workspace (or folder of runs), newest first."""
    return [run_info(r) for r in find_runs(root)]


class _DoneCounter:
    """Distinct problems with a record in a growing results file, reading only what was appended."""

    def __init__(self, run: RunDir) -> None:
        self.tail = run.tail()
        self.samples: dict[object, set] = {}

    def count(self, samples: int) -> int:
        new = self.tail.read_new()
        if self.tail.resets:
            self.tail.resets = 0
            self.samples = {}
        for rec in new:
            self.samples.setdefault(rec["id"], set()).add(rec.get("sample"))
        return sum(1 for got in self.samples.values() if len(got) >= samples)


_DONE_COUNTERS: dict[Path, _DoneCounter] = {}


def count_done(run_dir: Path | str) -> tuple[int, int | None]:
    """(problems with every sample recorded, problems planned) for a job's progress: a re-run counts once."""
    run = as_run(run_dir)
    try:
        manifest = run.manifest
    except (RunError, OSError):
        manifest = {}
    samples = declared_samples(manifest)
    planned = manifest.get("total") if isinstance(manifest.get("total"), int) else None
    counter = _DONE_COUNTERS.get(run.path)
    if counter is None:
        counter = _DONE_COUNTERS[run.path] = _DoneCounter(run)
    return counter.count(samples), planned
