"""Failures back into data: a run's missed problems, with their gold answers, as a pairs file for synthesis.

    rows = missed_problems("runs/gsm8k-model-…", "wrong")
    write_pairs(rows, "datasets/pairs/gsm8k-wrong.jsonl")   # then: mathbench synth --pairs … (scheme 3)

Each row keeps where it came from (source_run, problem_id, benchmark), synthesis copies that into the
items it makes, and export checks such items against their own benchmark before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mathbench.core.records import Verdict
from mathbench.core.storage import atomic_write_text, dump_line

WHICH = ("wrong", "flipped", "uncertain")
PROVENANCE = ("source_run", "problem_id", "benchmark")


class FromRunError(ValueError):
    """A run that cannot give pairs (no such run, no run to compare with)."""


def run_benchmark(manifest: dict, workspace: Any = None) -> str | None:
    """The benchmark a run's manifest names, as a spec that still resolves (an absolute file path when it can)."""
    from mathbench.core.evaluation.benchmarks import BenchmarkError, resolve_spec

    spec = manifest.get("benchmark_spec") or manifest.get("benchmark")
    if isinstance(spec, dict):
        spec = spec.get("spec") or spec.get("name")
    if not isinstance(spec, str) or not spec:
        return None
    root = Path(getattr(workspace, "root", workspace)) if workspace is not None else None
    if root is not None and (root / spec).is_file():
        return str((root / spec).resolve())
    try:
        resolved = resolve_spec(spec, workspace)
    except BenchmarkError:
        return spec
    return str(Path(resolved).resolve()) if isinstance(resolved, Path) else resolved


def _verdicts(run) -> tuple[dict[Any, list[str | None]], dict[Any, dict]]:
    """Every id's effective verdicts (one per sample; None for an error) and its first record."""
    from mathbench.core.evaluation.rundir import effective_verdict

    adjudications = run.load_adjudications(strict=False)
    verdicts: dict[Any, list[str | None]] = {}
    first: dict[Any, dict] = {}
    for rec in run.load_results(strict=False):
        rid = rec.get("id")
        verdict = None if rec.get("error") else effective_verdict(rec, adjudications)
        verdicts.setdefault(rid, []).append(verdict)
        first.setdefault(rid, rec)
    return verdicts, first


def _previous_run(run, workspace: Any) -> Any:
    """The newest other run of the workspace on the same benchmark: what `flipped` compares with by default."""
    from mathbench.core.evaluation.rundir import RunDir

    if workspace is None:
        return None
    mine = run_benchmark(run.manifest, workspace)
    for path in workspace.run_dirs():
        other = RunDir(path)
        if other.path.resolve() != run.path.resolve() and run_benchmark(other.manifest, workspace) == mine:
            return other
    return None


def missed_problems(run_path: str | Path, which: str, *, compare: str | Path | None = None,
                    workspace: Any = None) -> list[dict]:
    """The problems of a run that went *which* way, as pairs rows (question, answer, provenance).

    wrong: no sample correct and one wrong (human verdicts applied); uncertain: no sample correct or
    wrong, one still uncertain; flipped: correct in *compare* (default: the newest other run of the
    workspace on the same benchmark) and wrong or uncertain here. Items that ended in an error are no
    answer at all and never listed.
    """
    from mathbench.core.evaluation.rundir import RunDir

    if which not in WHICH:
        raise FromRunError(f"--which must be one of {', '.join(WHICH)}, not {which!r}")
    run = RunDir(run_path)
    if not run.manifest_path.is_file():
        raise FromRunError(f"{run.path}: not a run directory (no manifest.json)")
    verdicts, records = _verdicts(run)
    if which == "flipped":
        other = RunDir(compare) if compare is not None else _previous_run(run, workspace)
        if other is None or not other.manifest_path.is_file():
            raise FromRunError(f"{run.path}: no run to compare with for --which flipped (give --compare RUN)")
        before, _ = _verdicts(other)
        ids = [rid for rid, vs in verdicts.items()
               if Verdict.CORRECT in before.get(rid, ()) and Verdict.CORRECT not in vs and any(vs)]
    elif which == "wrong":
        ids = [rid for rid, vs in verdicts.items() if Verdict.CORRECT not in vs and Verdict.WRONG in vs]
    else:
        ids = [rid for rid, vs in verdicts.items()
               if not {Verdict.CORRECT, Verdict.WRONG} & set(vs) and Verdict.UNCERTAIN in vs]
    benchmark = run_benchmark(run.manifest, workspace)
    rows = []
    for rid in ids:
        rec = records[rid]
        if not rec.get("question") or rec.get("gold") in (None, ""):
            continue
        row = {"id": str(rid), "question": rec["question"], "answer": rec["gold"]}
        for key in ("level", "subject"):
            if rec.get(key) not in (None, ""):
                row[key] = rec[key]
        row.update(source_run=run.name, problem_id=str(rid), benchmark=benchmark, missed=which)
        rows.append(row)
    return rows


def write_pairs(rows: Sequence[dict], out: str | Path) -> Path:
    """Write pairs rows as JSON lines, atomically."""
    out = Path(out)
    atomic_write_text(out, "".join(dump_line(row).decode("utf-8") for row in rows))
    return out
