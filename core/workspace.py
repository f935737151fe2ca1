"""A workspace: the folder that holds a user's runs, datasets, jobs and logs."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from mathbench.core.resources import SAMPLE_WORKSPACE_DIR

MARKER = Path(".mathbench") / "workspace.json"
SUBDIRS = ("runs", "datasets", "benchmarks", "jobs", "train", "logs", "exports", "synth")


@dataclass(frozen=True)
class Workspace:
    """Paths inside one workspace folder."""

    root: Path

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def benchmarks_dir(self) -> Path:
        return self.root / "benchmarks"

    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    @property
    def train_dir(self) -> Path:
        return self.root / "train"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def synth_dir(self) -> Path:
        return self.root / "synth"

    @property
    def state_dir(self) -> Path:
        return self.root / ".mathbench"

    def remembered(self, name: str) -> dict:
        """The values last kept under *name* (a form's fields); {} when none were kept or the file is unreadable."""
        from mathbench.core.storage import read_json

        try:
            values = read_json(self.state_dir / f"{name}.json")
        except (OSError, ValueError):
            return {}
        return values if isinstance(values, dict) else {}

    def remember(self, name: str, values: dict) -> None:
        """Keep *values* under *name* in the workspace's .mathbench folder (written atomically)."""
        from mathbench.core.storage import atomic_write_json

        atomic_write_json(self.state_dir / f"{name}.json", values)

    def run_dirs(self) -> list[Path]:
        """Run directories (those holding a manifest.json), newest first."""
        if not self.runs_dir.is_dir():
            return []
        runs = [p for p in self.runs_dir.iterdir() if (p / "manifest.json").is_file()]
        return sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)


class WorkspaceError(OSError):
    """A workspace folder that cannot be made (not writable, a file in the way), said in one line."""


def is_workspace(path: Path) -> bool:
    """True when *path* already holds a mathbench workspace."""
    return (Path(path) / MARKER).is_file()


def open_workspace(path: Path | str, *, sample: bool = True) -> Workspace:
    """Open the workspace at *path*, creating it (filled with the sample data when *sample*) if absent."""
    root = Path(path).expanduser().resolve()
    ws = Workspace(root)
    if is_workspace(root):
        return ws
    try:
        root.mkdir(parents=True, exist_ok=True)
        if sample and SAMPLE_WORKSPACE_DIR.is_dir():
            # Copied, never linked: the user's edits must not touch the shipped sample.
            shutil.copytree(SAMPLE_WORKSPACE_DIR, root, dirs_exist_ok=True)
        for name in SUBDIRS:
            (root / name).mkdir(exist_ok=True)
        marker = root / MARKER
        marker.parent.mkdir(exist_ok=True)
        info = {"version": 1, "created": time.time(), "sample": bool(sample and SAMPLE_WORKSPACE_DIR.is_dir())}
        marker.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:  # shutil.Error (a copy that failed part way) is an OSError too
        raise WorkspaceError(f"{root}: cannot make a workspace here ({_reason(exc)}); "
                             "choose a writable folder with --workspace DIR") from None
    return ws


def _reason(exc: OSError) -> str:
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        first = exc.args[0][0]  # (source, destination, why) of the first file that failed
        return f"{len(exc.args[0])} files could not be copied, e.g. {first[1]}: {first[2]}"
    return exc.strerror or str(exc)
