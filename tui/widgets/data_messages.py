"""Messages of the Data screen: what its workers found, carried to the handlers that change the screen."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from textual.message import Message

from mathbench.tui.widgets.data_stats import StatsFigures


class DatasetLoaded(Message):
    """A dataset file was read into memory (or could not be: *error*)."""

    def __init__(self, dataset, error: str | None = None, sources: Counter | None = None) -> None:
        super().__init__()
        self.dataset = dataset
        self.error = error
        self.sources = sources or Counter()


class ClustersFound(Message):
    """Duplicate clusters of the loaded dataset: cluster number (1-based) per item index, and the clusters."""

    def __init__(self, dataset, mapping: dict[int, int], clusters: list) -> None:
        super().__init__()
        self.dataset = dataset
        self.mapping = mapping
        self.clusters = clusters


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


class ValidationProgressed(Message):
    """Validate-all has checked `done` of `total` items."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done = done
        self.total = total

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ValidationProgressed)


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
