"""A list with a row cursor that draws only the rows on screen (Line API), fluid at 100,000+ rows.

Rows are any values: with columns, each row is a sequence of cell strings under a header line; without,
a row renderer turns each value (a dataset's item index, say) into one line of text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

RowRenderer = Callable[[Any], Text]
"""Makes the one-line text of a row value."""

_KEEP_POSITION = object()


@dataclass(frozen=True)
class Column:
    """One column: its header, fixed width (None shares the space left) and an optional cell style."""

    label: str
    width: int | None = None
    justify: str = "left"
    style: Callable[[str], str | None] | None = None
    hide_below: int = 0
    """The column is left out when the list is narrower than this."""


class ItemList(ScrollView, can_focus=True):
    """Rows of values under an optional column header; each visible row is rendered on demand and cached."""

    COMPONENT_CLASSES = {"item-list--header", "item-list--cursor"}
    DEFAULT_CSS = """
    ItemList { height: 1fr; overflow-x: hidden; }
    ItemList > .item-list--header { text-style: bold; background: $panel; }
    ItemList > .item-list--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    ItemList:blur > .item-list--cursor { background: $block-cursor-blurred-background; }
    """
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False, id="list.up"),
        Binding("down", "move(1)", "Down", show=False, id="list.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="list.page-up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="list.page-down"),
        Binding("home,ctrl+home", "jump(0)", "First", show=False, id="list.first"),
        Binding("end,ctrl+end", "jump(-1)", "Last", show=False, id="list.last"),
        Binding("enter", "select", "Open", show=False, id="list.open", tooltip="Open the highlighted row"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)
    """Position of the highlighted row."""

    class Highlighted(Message):
        """The cursor moved onto row value `row` at position `cursor` (`row` is None when the list is empty)."""

        def __init__(self, item_list: "ItemList", cursor: int, row: Any) -> None:
            super().__init__()
            self.item_list = item_list
            self.cursor = cursor
            self.row = row

        @property
        def control(self) -> "ItemList":
            return self.item_list

        def can_replace(self, message: Message) -> bool:
            return type(message) is type(self) and message.item_list is self.item_list

    class Selected(Highlighted):
        """Row value `row` at position `cursor` was chosen (enter or double click)."""

        def can_replace(self, message: Message) -> bool:
            return False

    def __init__(self, render_row: RowRenderer | None = None, *, columns: Sequence[Column] = (),
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self._render_row = render_row
        self._rows: Sequence[Any] = ()
        self._cache: dict[tuple, Strip] = {}

    # -- data -------------------------------------------------------------------------

    @property
    def rows(self) -> Sequence[Any]:
        """The row values shown, in order."""
        return self._rows

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def current(self) -> Any:
        """The row value under the cursor (None when the list is empty)."""
        return self._rows[self.cursor] if 0 <= self.cursor < len(self._rows) else None

    @property
    def _header_height(self) -> int:
        return 1 if self.columns else 0

    def set_rows(self, rows: Sequence[Any], *, keep: Any = _KEEP_POSITION, cursor: int | None = None) -> None:
        """Show *rows*: the cursor goes to the row equal to *keep* (the top when absent), to position *cursor*,
        or stays where it is (clamped)."""
        before_row, before_cursor = self.current, self.cursor
        self._rows = rows
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(rows) + self._header_height)
        if keep is not _KEEP_POSITION:
            try:
                position = rows.index(keep) if keep is not None else 0  # type: ignore[attr-defined]
            except (ValueError, AttributeError):
                position = 0
        elif cursor is not None:
            position = cursor
        else:
            position = self.cursor
        self.cursor = max(0, min(position, len(rows) - 1))
        if self.cursor == before_cursor and self.current != before_row:
            # Same position, another row under it: the watcher does not run, so say it here.
            self.post_message(self.Highlighted(self, self.cursor, self.current))
        self.refresh()

    def invalidate(self, row: Any = None) -> None:
        """Draw the rows again (their text changed); *row* is accepted for callers that know which one."""
        self._cache.clear()
        self.refresh()

    # -- drawing ----------------------------------------------------------------------

    def _widths(self, total: int) -> list[int]:
        """Width of each column; 0 for a column hidden at this width."""
        shown = [c.hide_below <= total for c in self.columns]
        count = sum(shown)
        fixed = sum(c.width or 0 for c, s in zip(self.columns, shown) if s) + count - 1
        flexible = [c for c, s in zip(self.columns, shown) if s and c.width is None]
        share = max(4, (total - fixed) // len(flexible)) if flexible else 0
        return [(c.width if c.width is not None else share) if s else 0 for c, s in zip(self.columns, shown)]

    def _cells(self, values: Sequence[Any], widths: list[int], header: bool) -> list[Segment]:
        segments: list[Segment] = []
        for i, (column, width) in enumerate(zip(self.columns, widths)):
            if width == 0:
                continue
            value = str(values[i]) if i < len(values) else ""
            text = " ".join(value.split())
            if column.justify == "right" and len(text) < width:
                text = text.rjust(width)
            else:
                text = set_cell_size(text, width)
            style = None
            if not header and column.style is not None:
                extra = column.style(value)
                style = Style.parse(extra) if extra else None
            if segments:
                segments.append(Segment(" "))
            segments.append(Segment(text, style))
        return segments

    def _row_strip(self, position: int, width: int) -> Strip:
        """The unstyled-background strip of the row at *position* (cached until the rows change)."""
        key = (position, width)
        strip = self._cache.get(key)
        if strip is None:
            value = self._rows[position]
            if self.columns:
                segments = self._cells(value, self._widths(width), False)
            else:
                text = self._render_row(value) if self._render_row else Text(str(value))
                text = text.copy()
                text.truncate(width, pad=True)
                segments = list(text.render(self.app.console))
            strip = Strip(segments).adjust_cell_length(width)
            if len(self._cache) > 4000:
                self._cache.clear()
            self._cache[key] = strip
        return strip

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self.columns and y == 0:
            style = self.get_component_rich_style("item-list--header")
            strip = Strip(self._cells([c.label for c in self.columns], self._widths(width), True))
            return strip.adjust_cell_length(width).apply_style(style)
        position = int(self.scroll_offset.y) + y - self._header_height
        base = self.rich_style
        if position >= len(self._rows):
            return Strip.blank(width, base)
        if position == self.cursor:
            base = base + self.get_component_rich_style("item-list--cursor")
        return self._row_strip(position, width).apply_style(base)

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self._rows) + self._header_height)
        self._cache.clear()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- cursor -----------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        top = int(self.scroll_offset.y)
        self._scroll_cursor_into_view()
        if int(self.scroll_offset.y) == top:
            # Only the two rows that changed are redrawn; a scroll redraws everything anyway.
            offset, width = self._header_height - top, self.size.width
            self.refresh(Region(0, old + offset, width, 1), Region(0, new + offset, width, 1))
        self.post_message(self.Highlighted(self, new, self.current))

    def _scroll_cursor_into_view(self) -> None:
        visible = max(1, self.size.height - self._header_height)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def move_cursor(self, position: int) -> None:
        """Put the cursor on row *position* (clamped)."""
        if self._rows:
            self.cursor = max(0, min(position, len(self._rows) - 1))

    def action_move(self, delta: int) -> None:
        self.move_cursor(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor + direction * max(1, self.size.height - self._header_height - 1))

    def action_jump(self, where: int) -> None:
        self.move_cursor(0 if where == 0 else len(self._rows) - 1)

    def action_select(self) -> None:
        if self._rows:
            self.post_message(self.Selected(self, self.cursor, self.current))

    def on_click(self, event: events.Click) -> None:
        if event.y < self._header_height:
            return
        position = int(self.scroll_offset.y) + event.y - self._header_height
        if 0 <= position < len(self._rows):
            self.move_cursor(position)
            if event.chain >= 2:
                self.action_select()
