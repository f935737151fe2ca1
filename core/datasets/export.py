"""Export SFT items for LLaMA-Factory: a ShareGPT data file plus its entry merged into dataset_info.json.

Other entries of an existing dataset_info.json are never touched, and every file is written
atomically. Options: a system prompt, the role of code-output turns (`human`, as the seed's data
has it, or LLaMA-Factory's `observation`), only items that passed validation, and a held-out split.

    result = export_sft(items, "data/", "pot_sft", observation_role="observation", holdout=0.05)
    result.files, result.entries
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mathbench.core.datasets.items import detect_format, item_turns
from mathbench.core.datasets.jsonfile import DatasetError
from mathbench.core.storage import JsonlError, atomic_write_json, read_bytes, read_json

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_CODE_FENCE = re.compile(r"```[ \t]*(?:python3?|py)\b", re.IGNORECASE)


@dataclass
class ExportResult:
    """What an export wrote."""

    files: list[Path]
    entries: dict[str, dict]
    dataset_info: Path
    exported: int
    heldout: int
    skipped_invalid: int = 0
    skipped_schema: list[int] = field(default_factory=list)
    skipped_contaminated: int = 0

    def to_dict(self) -> dict:
        return {"files": [str(f) for f in self.files], "entries": self.entries, "dataset_info": str(self.dataset_info),
                "exported": self.exported, "heldout": self.heldout, "skipped_invalid": self.skipped_invalid,
                "skipped_schema": len(self.skipped_schema), "skipped_contaminated": self.skipped_contaminated}


def to_sharegpt(item: dict, *, system_prompt: str | None = None, observation_role: str = "human") -> dict | None:
    """The item as a LLaMA-Factory ShareGPT record ({"conversations": [...], "system"?}); None if it has no turns.

    A non-first human turn that follows a gpt turn holding a ```python block is a code output: it gets
    *observation_role*. A leading system turn becomes the record's `system` (as LLaMA-Factory would);
    *system_prompt*, when given, replaces it.
    """
    if observation_role not in ("human", "observation"):
        raise ValueError("observation_role must be 'human' or 'observation'")
    turns = item_turns(item, detect_format(item))
    system = None
    if turns and turns[0].role == "system":
        system = turns[0].content
        turns = turns[1:]
    if not turns:
        return None
    conv = []
    for i, t in enumerate(turns):
        role = t.role
        if role in ("human", "observation") and i > 0:
            prev = turns[i - 1]
            is_output = prev.role in ("gpt", "function_call") and _CODE_FENCE.search(prev.content or "")
            if is_output or role == "observation":
                role = observation_role
        conv.append({"from": role, "value": t.content})
    record: dict = {"conversations": conv}
    if system_prompt is not None:
        system = system_prompt
    if system:
        record["system"] = system
    return record


def dataset_info_entry(file_name: str, *, with_system: bool) -> dict:
    """The dataset_info.json entry for a ShareGPT file written by export_sft."""
    columns = {"messages": "conversations"}
    if with_system:
        columns["system"] = "system"
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": columns,
        "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                 "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"},
    }


def read_dataset_info(path: str | Path) -> dict:
    """An existing dataset_info.json ({} when absent); DatasetError with FILE:LINE:COL when it is malformed."""
    path = Path(path)
    if not read_bytes(path).strip():
        return {}
    try:
        data = read_json(path)
    except JsonlError as exc:
        raise DatasetError(path, f"invalid JSON: {exc.message.removeprefix('malformed JSON: ')} (not changed)",
                           exc.line, exc.col) from None
    if not isinstance(data, dict):
        raise DatasetError(path, "expected a JSON object of dataset entries (not changed)", 1, 1)
    return data


def merge_dataset_info(path: str | Path, entries: dict[str, dict]) -> dict:
    """Add or update *entries* in dataset_info.json at *path*, keeping every other entry and their order."""
    path = Path(path)
    info = read_dataset_info(path)
    info.update(entries)
    atomic_write_json(path, info)
    return info


def export_sft(
    items: Sequence[dict],
    out_dir: str | Path,
    name: str,
    *,
    system_prompt: str | None = None,
    observation_role: str = "human",
    only_valid: bool = False,
    is_valid: Callable[[int], bool] | None = None,
    holdout: float | int = 0,
    seed: int = 0,
    data_subdir: str = "",
    replace: bool = False,
    drop: Collection[int] = (),
) -> ExportResult:
    """Write `<name>.json` (and `<name>_heldout.json`) into *out_dir* and register them in its dataset_info.json.

    only_valid keeps items for which *is_valid(index)* is true (e.g. from validate_items); items that
    break LLaMA-Factory's role rules are always left out (it would skip them silently) and counted.
    holdout: a fraction (0 < x < 1) or a count of items put in the held-out file, chosen with *seed*.
    *drop* names items left out whatever they hold (e.g. those a decontamination flagged), counted apart.
    An existing entry of the same name for another file is refused (ValueError) unless *replace*.
    """
    from mathbench.core.datasets.validate import schema_errors

    if not _NAME_RE.match(name):
        raise ValueError(f"dataset name {name!r}: use letters, digits, '_', '-', '.'")
    if only_valid and is_valid is None:
        raise ValueError("only_valid needs validation results (is_valid)")
    out_dir = Path(out_dir)
    records: list[dict] = []
    skipped_invalid = 0
    skipped_schema: list[int] = []
    dropped = set(drop)
    for i, item in enumerate(items):
        if i in dropped:
            continue
        if only_valid and not is_valid(i):  # type: ignore[misc]
            skipped_invalid += 1
            continue
        rec = to_sharegpt(item, system_prompt=system_prompt, observation_role=observation_role)
        if rec is None or schema_errors(rec, "sharegpt"):
            skipped_schema.append(i)
            continue
        records.append(rec)
    n_hold = int(round(len(records) * holdout)) if isinstance(holdout, float) and 0 < holdout < 1 else int(holdout)
    if n_hold < 0 or n_hold >= max(1, len(records)) and n_hold:
        raise ValueError(f"held-out size {n_hold} leaves no training items (of {len(records)})")
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    held_idx = set(order[:n_hold])
    train = [r for k, r in enumerate(records) if k not in held_idx]
    held = [r for k, r in enumerate(records) if k in held_idx]
    with_system = any("system" in r for r in records)
    sub = Path(data_subdir) if data_subdir else Path()
    info_path = out_dir / "dataset_info.json"
    existing = read_dataset_info(info_path)
    for entry_name, rel in ((name, f"{name}.json"), (f"{name}_heldout", f"{name}_heldout.json")):
        old = existing.get(entry_name)
        rel = (sub / rel).as_posix()
        if not replace and isinstance(old, dict) and old.get("file_name") not in (None, rel):
            raise ValueError(f"{info_path} already has an entry {entry_name!r} for {old.get('file_name')!r}; "
                             "choose another name or replace it")
    files, entries = [], {}
    for suffix, recs in (("", train), ("_heldout", held)):
        if suffix and not recs:
            continue
        rel = (sub / f"{name}{suffix}.json").as_posix()
        target = out_dir / rel
        atomic_write_json(target, recs)
        files.append(target)
        entries[f"{name}{suffix}"] = dataset_info_entry(rel, with_system=with_system)
    merge_dataset_info(info_path, entries)
    return ExportResult(files=files, entries=entries, dataset_info=info_path, exported=len(train),
                        heldout=len(held), skipped_invalid=skipped_invalid, skipped_schema=skipped_schema,
                        skipped_contaminated=len(dropped & set(range(len(items)))))


@dataclass
class ExportCheck:
    """What decontamination found before an export: the report, the benchmarks checked, what must stay out."""

    report: Any  # a DecontaminationReport, or None when there was nothing to check against
    against: list[str]
    must_drop: set[int]  # items made from a benchmark's own problems that overlap it
    problems: list[str]  # benchmarks that could not be loaded

    def warning(self) -> str | None:
        """One line on the flagged items that are still exported, or None."""
        if self.report is None:
            return None
        kept = [i for i in self.report.contaminated if i not in self.must_drop]
        if not kept:
            return None
        counts: dict[str, int] = {}
        for h in self.report.hits:
            if h.index not in self.must_drop:
                counts[h.benchmark] = counts.get(h.benchmark, 0) + 1
        return (f"{len(kept)} exported items overlap a benchmark ("
                + ", ".join(f"{b}: {n}" for b, n in sorted(counts.items())) + ")")


def check_before_export(items: Sequence[dict], *, workspace: Any = None, against: Sequence[str] = (),
                        on_progress: Callable[[int, int], None] | None = None) -> ExportCheck:
    """Decontaminate *items* against *against*, the workspace's benchmarks and each item's own source benchmark.

    Items made from a run's missed problems (core.datasets.from_run) that overlap the benchmark they
    came from must stay out of training data: they are test problems.
    """
    from mathbench.core.datasets.decontaminate import BenchmarkIndex, load_against, workspace_benchmarks
    from mathbench.core.datasets.items import problem_text
    from mathbench.core.evaluation.benchmarks import benchmark_label

    own: dict[int, str] = {}
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("source_run") and isinstance(item.get("benchmark"), str):
            own[i] = item["benchmark"]
    # Own benchmarks first: a file named twice keeps the name its items' provenance gives it.
    specs = list(dict.fromkeys([*own.values(), *against,
                                *(workspace_benchmarks(workspace) if workspace is not None else [])]))
    problems: list[str] = []
    benchmarks = load_against(specs, workspace, problems=problems)
    labels = {i: benchmark_label(spec) for i, spec in own.items()}
    # An item whose own benchmark cannot be read cannot be cleared: it stays out.
    unread = {i for i, label in labels.items() if label not in benchmarks}
    if not benchmarks:
        return ExportCheck(None, specs, unread, problems)
    report = BenchmarkIndex(benchmarks).scan([problem_text(it) for it in items], on_progress)
    must_drop = {h.index for h in report.hits if h.index in labels and h.benchmark == labels[h.index]}
    return ExportCheck(report, specs, must_drop | unread, problems)
