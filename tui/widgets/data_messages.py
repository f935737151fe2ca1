"""Messages of the Data screen: what its workers found, carried to the handlers that change the screen."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from textual.message import Message

from mathbench.tui.widgets.data_stats import StatsFigures


class DatasetLoaded(Message):
    """The file at *path* was read into memory (or could not be: *error*)."""

    def __init__(self, dataset, error: str | None = None, sources: Counter | None = None,
                 path: Path | None = None) -> None:
        super().__init__()
        self.dataset = dataset
        self.error = error
        self.sources = sources or Counter()
        self.path = path


class LinesFound(Message):
    """Where each item of a big file starts in it was found, after its rows were shown."""

    def __init__(self, dataset) -> None:
        super().__init__()
        self.dataset = dataset


class ClustersFound(Message):
    """Duplicate clusters of the loaded dataset: cluster number (1-based) per item index, and the clusters;
    *near* says whether near duplicates were looked for (exact ones always are)."""

    def __init__(self, dataset, mapping: dict[int, int], clusters: list, near: bool) -> None:
        super().__init__()
        self.dataset = dataset
        self.mapping = mapping
        self.clusters = clusters
        self.near = near


class RowsFiltered(Message):
    """The search and filters picked these item indices (or the search was a bad regex: *error*)."""

    def __init__(self, rows: list[int], query: str, error: str | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.query = query
        self.error = error

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RowsFiltered)


class DatasetSaved(Message):
    """The dataset was written to disk (atomically, by core)."""

    def __init__(self, path: Path, label: str, error: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.label = label
        self.error = error


class ValidationFinished(Message):
    """Validate-all finished: a status and an ItemCheck per item index, and the counts."""

    def __init__(self, statuses: dict[int, str], counts: dict[str, int], checks: dict | None = None,
                 error: str | None = None) -> None:
        super().__init__()
        self.statuses = statuses
        self.counts = counts
        self.checks = checks or {}
        self.error = error


class StatsComputed(Message):
    """The stats pane's figures for the loaded dataset."""

    def __init__(self, figures: StatsFigures) -> None:
        super().__init__()
        self.figures = figures


class TaskProgressed(Message):
    """Background work on the dataset got `done` of `total` steps along (label says which work)."""

    def __init__(self, label: str, done: int, total: int, group: str = "") -> None:
        super().__init__()
        self.label = label
        self.done = done
        self.total = total
        self.group = group  # the worker group doing the work

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TaskProgressed) and message.label == self.label


class ContaminationFound(Message):
    """The loaded dataset checked against the workspace's benchmarks: the report (None: nothing to check against)."""

    def __init__(self, dataset, report, against: list[str], problems: list[str]) -> None:
        super().__init__()
        self.dataset = dataset
        self.report = report
        self.against = against
        self.problems = problems


class FilesListed(Message):
    """The dataset files in the workspace's datasets folder now."""

    def __init__(self, files: list[Path]) -> None:
        super().__init__()
        self.files = files
