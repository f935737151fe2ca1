"""A table that draws only its visible rows (Line API), so 5,000+ items scroll as fast as 50."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip


@dataclass(frozen=True)
class Column:
    """One column: its header, fixed width (None shares the space left) and an optional cell style."""

    label: str
    width: int | None = None
    justify: str = "left"
    style: Callable[[str], str | None] | None = None
    hide_below: int = 0
    """The column is left out when the table is narrower than this."""


class ItemTable(ScrollView, can_focus=True):
    """Rows of short strings with a fixed header line and a row cursor; renders only what is on screen."""

    COMPONENT_CLASSES = {"item-table--header", "item-table--cursor"}
    DEFAULT_CSS = """
    ItemTable { height: 1fr; overflow-x: hidden; }
    ItemTable > .item-table--header { text-style: bold; background: $panel; }
    ItemTable > .item-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    ItemTable:blur > .item-table--cursor { background: $block-cursor-blurred-background; }
    """
    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("down", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False, id="table.page-up"),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False, id="table.page-down"),
        Binding("home,ctrl+home", "jump(0)", "First", show=False, id="table.first"),
        Binding("end,ctrl+end", "jump(-1)", "Last", show=False, id="table.last"),
        Binding("enter", "select", "Open", id="table.open", tooltip="Open the highlighted row", show=False),
    ]

    cursor_row: reactive[int] = reactive(0)
    """Index of the highlighted row."""

    class Highlighted(Message):
        """The cursor moved to row *index*."""

        def __init__(self, table: "ItemTable", index: int) -> None:
            super().__init__()
            self.table = table
            self.index = index

        @property
        def control(self) -> "ItemTable":
            return self.table

    class Selected(Highlighted):
        """Row *index* was chosen (enter or double click)."""

    def __init__(self, columns: Sequence[Column], *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self.rows: list[Sequence[str]] = []
        self._generation = 0
        self._cache: dict[tuple, Strip] = {}

    # -- data -------------------------------------------------------------------------

    def set_rows(self, rows: list[Sequence[str]], *, keep_cursor: bool = True) -> None:
        """Replace every row; the cursor stays on its index (clamped) or goes to the top."""
        self.rows = rows
        self._generation += 1
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(rows) + 1)
        cursor = min(self.cursor_row, len(rows) - 1) if keep_cursor else 0
        self.cursor_row = max(0, cursor)
        self._scroll_cursor_into_view()
        self.refresh()

    @property
    def row_count(self) -> int:
        return len(self.rows)

    # -- drawing ----------------------------------------------------------------------

    def _widths(self, total: int) -> list[int]:
        """Width of each column; 0 for a column hidden at this table width."""
        shown = [c.hide_below <= total for c in self.columns]
        count = sum(shown)
        fixed = sum(c.width or 0 for c, s in zip(self.columns, shown) if s) + count - 1
        flexible = [c for c, s in zip(self.columns, shown) if s and c.width is None]
        share = max(4, (total - fixed) // len(flexible)) if flexible else 0
        return [(c.width if c.width is not None else share) if s else 0 for c, s in zip(self.columns, shown)]

    def _cells(self, values: Sequence[str], widths: list[int], base: Style, header: bool) -> list[Segment]:
        segments: list[Segment] = []
        first = True
        for i, (column, width) in enumerate(zip(self.columns, widths)):
            if width == 0:
                continue
            text = str(values[i]) if i < len(values) else ""
            text = " ".join(text.split())
            if column.justify == "right":
                text = set_cell_size(text, width) if len(text) >= width else text.rjust(width)
            else:
                text = set_cell_size(text, width)
            style = base
            if not header and column.style is not None:
                extra = column.style(values[i] if i < len(values) else "")
                if extra:
                    style = base + Style.parse(extra)
            if not first:
                segments.append(Segment(" ", base))
            first = False
            segments.append(Segment(text, style))
        return segments

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            key = ("header", width, self._generation)
            if key not in self._cache:
                style = self.get_component_rich_style("item-table--header")
                widths = self._widths(width)
                strip = Strip(self._cells([c.label for c in self.columns], widths, style, True))
                self._cache[key] = strip.adjust_cell_length(width, style)
            return self._cache[key]
        index = int(self.scroll_offset.y) + y - 1
        base = self.rich_style
        if index >= len(self.rows):
            return Strip.blank(width, base)
        is_cursor = index == self.cursor_row
        key = (index, is_cursor, width, self._generation, self.has_focus if is_cursor else None)
        strip = self._cache.get(key)
        if strip is None:
            style = base + self.get_component_rich_style("item-table--cursor") if is_cursor else base
            strip = Strip(self._cells(self.rows[index], self._widths(width), style, False))
            strip = strip.adjust_cell_length(width, style)
            if len(self._cache) > 4000:
                self._cache.clear()
            self._cache[key] = strip
        return strip

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.rows) + 1)
        self._cache.clear()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- cursor -----------------------------------------------------------------------

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self.refresh()
        if self.rows:
            self.post_message(self.Highlighted(self, new))

    def _scroll_cursor_into_view(self) -> None:
        visible = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, immediate=True)

    def move_cursor(self, index: int) -> None:
        """Put the cursor on row *index* (clamped)."""
        if self.rows:
            self.cursor_row = max(0, min(index, len(self.rows) - 1))

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor_row + direction * max(1, self.size.height - 2))

    def action_jump(self, where: int) -> None:
        self.move_cursor(0 if where == 0 else len(self.rows) - 1)

    def action_select(self) -> None:
        if self.rows:
            self.post_message(self.Selected(self, self.cursor_row))

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            return
        index = int(self.scroll_offset.y) + event.y - 1
        if 0 <= index < len(self.rows):
            self.move_cursor(index)
            if event.chain >= 2:
                self.action_select()
