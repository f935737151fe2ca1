"""Training data's contamination, followed to the model: export leaves a report beside the data file; a model
folder's training_args.yaml names its datasets; an eval of that model finds the reports again.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mathbench.core.storage import atomic_write_json, read_json

REPORT_SUFFIX = ".contamination.json"


def report_path(data_file: str | Path) -> Path:
    """Where the contamination report of an exported data file lives: beside it."""
    data_file = Path(data_file)
    return data_file.with_name(data_file.stem + REPORT_SUFFIX)


def write_report(data_file: str | Path, summary: dict, *, against: list[str], left_out: int = 0) -> Path:
    """Record what the export's decontamination found (summary: DecontaminationReport.summary())."""
    path = report_path(data_file)
    atomic_write_json(path, {"file": Path(data_file).name, "checked": time.time(), "against": against,
                             "left_out": left_out, **summary})
    return path


def read_report(data_file: str | Path) -> dict | None:
    """The report beside *data_file*, or None when there is none (or it cannot be read)."""
    try:
        data = read_json(report_path(data_file))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _model_dir(model: str, workspace: Any) -> Path | None:
    """The folder holding training_args.yaml for a model path or name (a checkpoint's parent counts)."""
    root = Path(getattr(workspace, "root", workspace)) if workspace is not None else None
    names = [Path(model).expanduser()]
    if root is not None:
        names += [root / model, root / "train" / model, root / "train" / Path(model).name]
    for base in names:
        for folder in (base, base.parent):
            if (folder / "training_args.yaml").is_file():
                return folder
    return None


def training_data(model: str, workspace: Any = None, *, near: str | Path | None = None) -> dict | None:
    """What is known of a model's training data: its datasets and their export reports; None when nothing is.

    Without *workspace*, the workspace holding *near* (e.g. the eval's run folder) is asked, if any.
    The result's "contaminated" counts the exported items the reports flagged; "warning" says so in one line.
    """
    import yaml

    if workspace is None and near is not None:
        from mathbench.core.workspace import Workspace, is_workspace

        workspace = next((Workspace(p) for p in Path(near).resolve().parents if is_workspace(p)), None)
    folder = _model_dir(model, workspace)
    if folder is None:
        return None
    try:
        args = yaml.safe_load((folder / "training_args.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    names = [n.strip() for n in str(args.get("dataset") or "").split(",") if n.strip()]
    data_dir = Path(str(args.get("dataset_dir") or "data"))
    roots = [folder, *folder.parents] if not data_dir.is_absolute() else [Path("/")]
    info_path = next((r / data_dir / "dataset_info.json" for r in roots
                      if (r / data_dir / "dataset_info.json").is_file()), None)
    info = {}
    if info_path is not None:
        try:
            info = read_json(info_path)
        except (OSError, ValueError):
            info = {}
    datasets: dict[str, dict] = {}
    for name in names:
        entry = info.get(name) if isinstance(info, dict) else None
        if not isinstance(entry, dict) or info_path is None or not entry.get("file_name"):
            datasets[name] = {"report": None}
            continue
        data_file = info_path.parent / str(entry["file_name"])
        report = read_report(data_file)
        datasets[name] = {"file": str(data_file), "report": str(report_path(data_file)) if report else None,
                          "contaminated": (report or {}).get("contaminated"),
                          "by_benchmark": (report or {}).get("by_benchmark")}
    flagged = sum(d.get("contaminated") or 0 for d in datasets.values())
    unchecked = [n for n, d in datasets.items() if d.get("report") is None]
    out = {"model_dir": str(folder), "datasets": datasets, "contaminated": flagged, "unchecked": unchecked}
    if flagged:
        where = {}
        for d in datasets.values():
            for bench, n in (d.get("by_benchmark") or {}).items():
                if n:
                    where[bench] = where.get(bench, 0) + n
        out["warning"] = (f"trained on {flagged} items that overlap benchmark problems ("
                          + ", ".join(f"{b}: {n}" for b, n in sorted(where.items())) + ")")
    return out

