"""The tail of a growing log file with a filter box; only new bytes are read on each poll."""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Log


class FileFollower:
    """The lines a log file gains: its tail first, then what core's IncrementalReader reads on each poll."""

    def __init__(self, path: Path | None, *, backlog: int = 500) -> None:
        self.path = Path(path) if path else None
        self._backlog = backlog
        self._reader = None

    def read_new(self) -> list[str]:
        """Lines added since the previous call; the first call returns the file's last lines."""
        from mathbench.core.jobs.registry import IncrementalReader, tail_file

        if self.path is None:
            return []
        if self._reader is None:
            try:
                size = self.path.stat().st_size
            except OSError:
                return []
            self._reader = IncrementalReader(self.path, offset=size)
            return tail_file(self.path, self._backlog, end=size)
        return self._reader.read_lines()


def line_matcher(pattern: str):
    """A predicate for log lines: a case-insensitive regex, or a substring when *pattern* is not one."""
    if not pattern:
        return lambda line: True
    try:
        regex = re.compile(pattern, re.IGNORECASE)
        return lambda line: regex.search(line) is not None
    except re.error:
        needle = pattern.lower()
        return lambda line: needle in line.lower()


class LogTail(Vertical):
    """Keeps the last `keep` lines; shows those matching the filter in a bounded Log."""

    DEFAULT_CSS = """
    LogTail { height: 1fr; }
    LogTail > Input { height: 1; margin: 0 0 0 1; }
    LogTail > Log { height: 1fr; }
    """

    def __init__(self, *, keep: int = 5000, placeholder: str = "filter the log (text or regex)", **kwargs) -> None:
        super().__init__(**kwargs)
        self._lines: deque[str] = deque(maxlen=keep)
        self._placeholder = placeholder
        self._match = line_matcher("")
        self.follower: FileFollower | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder=self._placeholder, classes="log-filter", compact=True)
        yield Log(max_lines=self._lines.maxlen, classes="log-lines")

    @property
    def lines(self) -> list[str]:
        """Every kept line, filter or not."""
        return list(self._lines)

    @property
    def shown(self) -> list[str]:
        """The lines the filter lets through."""
        return [line for line in self._lines if self._match(line)]

    def follow(self, path: Path | None) -> None:
        """Start following *path* from its tail, dropping what was shown."""
        self.follower = FileFollower(path)
        self._lines.clear()
        self.query_one(Log).clear()
        self.poll()

    def poll(self) -> int:
        """Read what the followed file gained; returns the number of new lines."""
        if self.follower is None:
            return 0
        new = self.follower.read_new()
        if new:
            self.append(new)
        return len(new)

    def append(self, lines: list[str]) -> None:
        """Add *lines*, showing the ones that match the filter."""
        self._lines.extend(lines)
        matching = [line for line in lines if self._match(line)]
        if matching:
            self.query_one(Log).write_lines(matching)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._match = line_matcher(event.value.strip())
        log = self.query_one(Log)
        log.clear()
        log.write_lines(self.shown)
