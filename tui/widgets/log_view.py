"""A log viewer in the manner of toolong: the file is read by a worker, only the visible rows are drawn,
long lines wrap or scroll sideways, `/` searches (`n`, `N` step through matches), `f` follows the end."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Callable

from rich.cells import cell_len, chop_cells
from rich.segment import Segment
from rich.style import Style
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static
from textual.worker import get_current_worker

READ_EVERY_S = 0.5
MATCH_STYLE = Style(reverse=True)
CURRENT_MATCH_STYLE = Style(bgcolor="yellow", color="black", bold=True)


def line_matcher(pattern: str) -> Callable[[str], bool]:
    """A predicate for log lines: a case-insensitive regex, or a substring when *pattern* is not one."""
    if not pattern:
        return lambda line: True
    try:
        regex = re.compile(pattern, re.IGNORECASE)
        return lambda line: regex.search(line) is not None
    except re.error:
        needle = pattern.lower()
        return lambda line: needle in line.lower()


def search_regex(pattern: str) -> re.Pattern | None:
    """The search as a case-insensitive regex (a plain substring when *pattern* is not a valid regex)."""
    if not pattern:
        return None
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error:
        return re.compile(re.escape(pattern), re.IGNORECASE)


class FileFollower:
    """The lines a log file gains: its tail first, then what core's IncrementalReader reads on each call."""

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


class LogLines(ScrollView, can_focus=True):
    """The lines that pass the filter, drawn row by row; wraps or scrolls sideways; highlights the search."""

    COMPONENT_CLASSES = {"log-lines--status"}
    DEFAULT_CSS = """
    LogLines { height: 1fr; overflow-x: auto; overflow-y: auto; }
    """
    BINDINGS = [
        # Shown in the log's own status line rather than the footer, which keeps the screen's keys.
        Binding("f", "toggle_follow", "Follow", id="log.follow", show=False, tooltip="Follow the end of the log (or stop)"),
        Binding("w", "toggle_wrap", "Wrap", id="log.wrap", show=False, tooltip="Wrap long lines, or scroll sideways"),
        Binding("slash", "search", "Search", id="log.search", show=False, tooltip="Search the log (text or regex)"),
        Binding("n", "next_match(1)", "Next match", id="log.next", show=False,
                tooltip="Go to the next line that matches the search"),
        Binding("N", "next_match(-1)", "Prev match", id="log.previous", show=False,
                tooltip="Go to the previous line that matches the search"),
        Binding("escape", "clear_search", "Clear search", id="log.clear-search", show=False,
                tooltip="Forget the search"),
        Binding("up", "scroll_by(-1)", "Up", show=False, id="log.up"),
        Binding("down", "scroll_by(1)", "Down", show=False, id="log.down"),
        Binding("pageup", "scroll_page(-1)", "Page up", show=False, id="log.page-up"),
        Binding("pagedown", "scroll_page(1)", "Page down", show=False, id="log.page-down"),
        Binding("home", "first", "First", show=False, id="log.first"),
        Binding("end", "last", "Last", show=False, id="log.last"),
        Binding("left", "sideways(-8)", "Left", show=False, id="log.left"),
        Binding("right", "sideways(8)", "Right", show=False, id="log.right"),
    ]

    following: reactive[bool] = reactive(True)
    """Stay at the end as lines arrive."""
    wrap: reactive[bool] = reactive(False)
    """Wrap long lines instead of scrolling sideways."""

    class StateChanged(Message):
        """Follow, wrap or the search changed: the status line should say so."""

    class SearchRequested(Message):
        """The user pressed `/`."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.shown_lines: list[str] = []
        """The lines that pass the filter, oldest first."""
        self._rows: list[tuple[int, int, int]] | None = None
        self._rows_width = 0
        self._widest = 0
        self.search = ""
        self._regex: re.Pattern | None = None
        self.match_line: int | None = None
        """Index in `shown_lines` of the line the last n/N landed on."""

    # -- content ------------------------------------------------------------------------

    def set_lines(self, lines: list[str]) -> None:
        """Show *lines* (already filtered) instead of what was shown."""
        self.shown_lines = list(lines)
        self._widest = max((cell_len(line) for line in self.shown_lines), default=0)
        self.match_line = None
        self._reflow()

    def add_lines(self, lines: list[str]) -> None:
        """Append *lines* (already filtered)."""
        if not lines:
            return
        start = len(self.shown_lines)
        self.shown_lines.extend(lines)
        self._widest = max(self._widest, max(cell_len(line) for line in lines))
        if self._rows is not None and self.wrap:
            self._rows.extend(self._wrap_rows(start, self._rows_width))
        self._resize_virtual()
        if self.following:
            self._follow_end()
        self.refresh()

    def _follow_end(self) -> None:
        # The new height counts only after the next layout: scroll once it has happened.
        self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)

    def drop_oldest(self, count: int) -> None:
        """Forget the *count* oldest shown lines (the keep limit was reached)."""
        if count <= 0:
            return
        del self.shown_lines[:count]
        if self.match_line is not None:
            self.match_line = self.match_line - count if self.match_line >= count else None
        self._reflow()

    def _wrap_rows(self, start: int, width: int) -> list[tuple[int, int, int]]:
        rows = []
        for index in range(start, len(self.shown_lines)):
            line = self.shown_lines[index]
            if cell_len(line) <= width:
                rows.append((index, 0, len(line)))
                continue
            offset = 0
            for chunk in chop_cells(line, width):
                rows.append((index, offset, offset + len(chunk)))
                offset += len(chunk)
        return rows

    def _reflow(self) -> None:
        width = max(1, self.scrollable_content_region.width or self.size.width)
        self._rows = self._wrap_rows(0, width) if self.wrap else None
        self._rows_width = width
        self._resize_virtual()
        if self.following:
            self._follow_end()
        self.refresh()

    def _resize_virtual(self) -> None:
        if self.wrap and self._rows is not None:
            self.virtual_size = Size(self._rows_width, len(self._rows))
        else:
            self.virtual_size = Size(self._widest + 1, len(self.shown_lines))

    def on_resize(self) -> None:
        width = max(1, self.scrollable_content_region.width or self.size.width)
        if self.wrap and width != self._rows_width:
            self._reflow()
        elif self.following:
            self._follow_end()  # a smaller pane moves the end further down

    # -- drawing ------------------------------------------------------------------------

    def _row(self, y: int) -> tuple[int, int, int] | None:
        if self.wrap and self._rows is not None:
            return self._rows[y] if 0 <= y < len(self._rows) else None
        if 0 <= y < len(self.shown_lines):
            return (y, 0, len(self.shown_lines[y]))
        return None

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        row = self._row(scroll_y + y)
        if row is None:
            return Strip.blank(width, base)
        index, start, end = row
        line = self.shown_lines[index]
        text = line[start:end]
        segments: list[Segment] = []
        if self._regex is not None:
            style = CURRENT_MATCH_STYLE if index == self.match_line else MATCH_STYLE
            position = 0
            for match in self._regex.finditer(line):
                a, b = max(match.start(), start), min(match.end(), end)
                if b <= a or b <= start:
                    continue
                if a - start > position:
                    segments.append(Segment(text[position:a - start]))
                segments.append(Segment(text[a - start:b - start], style))
                position = b - start
            segments.append(Segment(text[position:]))
        else:
            segments.append(Segment(text))
        strip = Strip(segments).apply_style(base)
        if not self.wrap:
            strip = strip.crop(int(scroll_x), int(scroll_x) + width)
        return strip.adjust_cell_length(width, base)

    # -- actions ------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next_match", "clear_search"):
            # Without a search these keys belong to the screen (n: new run, Esc: leave).
            return self._regex is not None
        return True

    def on_mount(self) -> None:
        self.anchor(self.following)

    def watch_following(self, following: bool) -> None:
        # Anchored, every layout keeps the end in view: a resize, a new scrollbar or a style reload included.
        if self.is_mounted:
            self.anchor(following)
        if following:
            self._follow_end()
        self.post_message(self.StateChanged())

    def watch_wrap(self) -> None:
        self.scroll_to(x=0, animate=False, immediate=True)
        self._reflow()
        self.post_message(self.StateChanged())

    def action_toggle_follow(self) -> None:
        self.following = not self.following

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap

    def action_search(self) -> None:
        self.post_message(self.SearchRequested())

    def set_search(self, pattern: str) -> None:
        """Highlight *pattern* (text or regex) and go to its first match from the top of the view."""
        self.search = pattern
        self._regex = search_regex(pattern)
        self.match_line = None
        self.refresh()
        if self._regex is not None:
            self._jump(self._top_line() - 1, 1)
        self.post_message(self.StateChanged())

    def action_clear_search(self) -> None:
        self.set_search("")

    def action_next_match(self, direction: int) -> None:
        start = self.match_line if self.match_line is not None else self._top_line() - (1 if direction > 0 else 0)
        self._jump(start, direction)

    def _top_line(self) -> int:
        row = self._row(int(self.scroll_offset.y))
        return row[0] if row else 0

    def _jump(self, start: int, direction: int) -> None:
        """Go to the next line after *start* (before it when *direction* < 0) that matches, wrapping around."""
        count = len(self.shown_lines)
        if self._regex is None or not count:
            return
        for step in range(1, count + 1):
            index = (start + direction * step) % count
            if self._regex.search(self.shown_lines[index]):
                self.match_line = index
                self.following = False
                self._show_line(index)
                self.post_message(self.StateChanged())
                return
        self.match_line = None
        self.post_message(self.StateChanged())

    def _show_line(self, index: int) -> None:
        y = index
        if self.wrap and self._rows is not None:
            y = next((i for i, row in enumerate(self._rows) if row[0] == index), 0)
        top = max(0, y - self.scrollable_content_region.height // 3)
        self.scroll_to(y=top, animate=False, immediate=True)
        if not self.wrap and self._regex is not None:
            match = self._regex.search(self.shown_lines[index])
            if match is not None:
                column = cell_len(self.shown_lines[index][:match.start()])
                width = self.scrollable_content_region.width
                if not (self.scroll_x <= column < self.scroll_x + width - 4):
                    self.scroll_to(x=max(0, column - width // 3), animate=False, immediate=True)
        self.refresh()

    def match_count(self) -> int:
        return sum(1 for line in self.shown_lines if self._regex.search(line)) if self._regex is not None else 0

    def action_scroll_by(self, delta: int) -> None:
        if delta < 0:
            self.following = False
        self.scroll_to(y=self.scroll_y + delta, animate=False, immediate=True)

    def action_scroll_page(self, direction: int) -> None:
        if direction < 0:
            self.following = False
        self.scroll_to(y=self.scroll_y + direction * max(1, self.scrollable_content_region.height - 1),
                       animate=False, immediate=True)

    def action_first(self) -> None:
        self.following = False
        self.scroll_home(animate=False, immediate=True)

    def action_last(self) -> None:
        self.following = True

    def action_sideways(self, delta: int) -> None:
        if not self.wrap:
            self.scroll_to(x=max(0, self.scroll_x + delta), animate=False, immediate=True)


class LogView(Vertical):
    """A followed log file: a filter box and a status line above the lines, a search box below when asked for."""

    DEFAULT_CSS = """
    LogView { height: 1fr; }
    LogView > .log-bar { height: 1; }
    LogView > .log-bar > Input { width: 1fr; height: 1; margin: 0 0 0 1; }
    LogView > .log-bar > .log-status { width: auto; max-width: 50%; height: 1; color: $text-muted; padding: 0 1; }
    LogView > .log-search-bar { height: 1; display: none; }
    LogView.-searching > .log-search-bar { display: block; }
    LogView > .log-search-bar > Input { width: 1fr; height: 1; margin: 0 0 0 1; }
    """

    class LinesRead(Message):
        """The followed file gained *lines* (or, when *fresh*, these are its last lines on opening)."""

        def __init__(self, path: Path | None, lines: list[str], fresh: bool) -> None:
            super().__init__()
            self.path = path
            self.lines = lines
            self.fresh = fresh

    def __init__(self, *, keep: int = 5000, placeholder: str = "filter the log (text or regex)", **kwargs) -> None:
        super().__init__(**kwargs)
        self.keep = keep
        self._lines: list[str] = []
        self._placeholder = placeholder
        self._match = line_matcher("")
        self.path: Path | None = None
        """The file followed (None: nothing)."""

    def compose(self) -> ComposeResult:
        with Horizontal(classes="log-bar"):
            yield Input(placeholder=self._placeholder, classes="log-filter", compact=True)
            yield Static("", classes="log-status")
        yield LogLines(classes="log-lines")
        with Horizontal(classes="log-search-bar"):
            yield Input(placeholder="search (text or regex), enter goes to the first match", classes="log-search",
                        compact=True)

    @property
    def lines(self) -> list[str]:
        """Every kept line, filter or not."""
        return list(self._lines)

    @property
    def shown(self) -> list[str]:
        """The lines the filter lets through."""
        return list(self.query_one(LogLines).shown_lines)

    def follow(self, path: Path | None) -> None:
        """Follow *path* from its last lines on, dropping what was shown (None: show nothing)."""
        self.path = Path(path) if path else None
        self._lines.clear()
        self.query_one(LogLines).set_lines([])
        self._show_status()
        if self.path is None:
            self.workers.cancel_group(self, "log-read")
        else:
            self._read(self.path)

    @work(thread=True, exclusive=True, group="log-read", exit_on_error=False)
    def _read(self, path: Path) -> None:
        """Read the file's tail, then what it gains, until another file is followed."""
        worker = get_current_worker()
        follower = FileFollower(path)
        first = True
        while not worker.is_cancelled:
            lines = follower.read_new()
            if lines or first:
                self.post_message(self.LinesRead(path, lines, first))
                first = False
            time.sleep(READ_EVERY_S)

    @on(LinesRead)
    def _lines_read(self, message: LinesRead) -> None:
        message.stop()
        if message.path != self.path:
            return
        self.append(message.lines)

    def append(self, lines: list[str]) -> None:
        """Add *lines*, showing the ones that match the filter."""
        self._lines.extend(lines)
        view = self.query_one(LogLines)
        view.add_lines([line for line in lines if self._match(line)])
        overflow = len(self._lines) - self.keep
        if overflow > self.keep // 10:
            dropped, self._lines = self._lines[:overflow], self._lines[overflow:]
            view.drop_oldest(sum(1 for line in dropped if self._match(line)))
        self._show_status()

    @on(Input.Changed, ".log-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._match = line_matcher(event.value.strip())
        self.query_one(LogLines).set_lines([line for line in self._lines if self._match(line)])
        self._show_status()

    @on(Input.Submitted, ".log-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(LogLines).focus()

    @on(LogLines.SearchRequested)
    def _open_search(self, message: LogLines.SearchRequested) -> None:
        message.stop()
        self.add_class("-searching")
        search = self.query_one(".log-search", Input)
        search.value = self.query_one(LogLines).search
        search.focus()

    @on(Input.Submitted, ".log-search")
    def _search_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.remove_class("-searching")
        lines = self.query_one(LogLines)
        lines.focus()
        lines.set_search(event.value.strip())

    def on_descendant_blur(self) -> None:
        # The search box closes when it loses focus (Esc, tab) without a search.
        if self.has_class("-searching") and not self.query_one(".log-search", Input).has_focus:
            self.remove_class("-searching")

    @on(LogLines.StateChanged)
    def _state_changed(self, message: LogLines.StateChanged) -> None:
        message.stop()
        self._show_status()

    def _show_status(self) -> None:
        view = self.query_one(LogLines)
        parts = []
        if view.search:
            parts.append(f"/{view.search}: {view.match_count()} lines · n N")
        else:
            parts.append("/ search")
        parts.append(f"{len(view.shown_lines):,}" + (f" of {len(self._lines):,}" if len(view.shown_lines) != len(self._lines) else "")
                     + " lines")
        parts.append("[b]following[/b] (f)" if view.following else "f follows")
        parts.append("wrapped (w)" if view.wrap else "w wraps")
        self.query_one(".log-status", Static).update(" · ".join(parts))
