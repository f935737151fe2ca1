"""A list of dataset items that draws only the visible rows, fluid at 100k items."""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Sequence

from rich.segment import Segment
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

RowRenderer = Callable[[int], Text]
"""Makes the one-line text of the item at a source index."""


class ItemList(ScrollView, can_focus=True):
    """Rows are indices into a source; each row's text is made on demand and cached."""

    COMPONENT_CLASSES = {"item-list--cursor"}
    DEFAULT_CSS = """
    ItemList { height: 1fr; }
    ItemList > .item-list--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    ItemList:blur > .item-list--cursor { background: $block-cursor-blurred-background; }
    """
    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False, id="itemlist.up"),
        Binding("down", "cursor_down", "Down", show=False, id="itemlist.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="itemlist.pageup"),
        Binding("pagedown", "page_down", "Page down", show=False, id="itemlist.pagedown"),
        Binding("home", "first", "First", show=False, id="itemlist.first"),
        Binding("end", "last", "Last", show=False, id="itemlist.last"),
        Binding("enter", "select", "Open", show=False, id="itemlist.open"),
    ]

    cursor: reactive[int] = reactive(0)
    """Position of the highlighted row in the current rows."""

    class Highlighted(Message):
        """The cursor moved onto the item at source index `index` (None when the list is empty)."""

        def __init__(self, index: int | None) -> None:
            super().__init__()
            self.index = index

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ItemList.Highlighted)

    class Chosen(Message):
        """The user pressed enter on the item at source index `index`."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, render_row: RowRenderer, *, cache_size: int = 2000, **kwargs) -> None:
        super().__init__(**kwargs)
        self._render_row = render_row
        self._rows: Sequence[int] = ()
        self._cache: OrderedDict[int, Text] = OrderedDict()
        self._cache_size = cache_size

    @property
    def rows(self) -> Sequence[int]:
        """Source indices shown, in order."""
        return self._rows

    @property
    def current(self) -> int | None:
        """Source index under the cursor."""
        if 0 <= self.cursor < len(self._rows):
            return self._rows[self.cursor]
        return None

    def set_rows(self, rows: Sequence[int], *, keep: int | None = None) -> None:
        """Show *rows*; keep the cursor on source index *keep* when it is still shown."""
        self._rows = rows
        self.virtual_size = Size(self.size.width, len(rows))
        position = 0
        if keep is not None:
            try:
                position = list(rows).index(keep) if len(rows) < 200_000 else 0
            except ValueError:
                position = 0
        self.cursor = min(position, max(0, len(rows) - 1))
        self._scroll_cursor_into_view()
        self.refresh()
        self.post_message(self.Highlighted(self.current))

    def invalidate(self, index: int | None = None) -> None:
        """Forget the cached text of source *index* (or every row) and redraw."""
        if index is None:
            self._cache.clear()
        else:
            self._cache.pop(index, None)
        self.refresh()

    def _row_text(self, index: int) -> Text:
        text = self._cache.get(index)
        if text is None:
            text = self._render_row(index)
            self._cache[index] = text
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(index)
        return text

    def render_line(self, y: int) -> Strip:
        scroll_y = int(self.scroll_offset.y)
        position = scroll_y + y
        width = self.size.width
        if position >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        text = self._row_text(self._rows[position]).copy()
        text.truncate(width, pad=True)
        style = self.rich_style
        if position == self.cursor:
            style = style + self.get_component_rich_style("item-list--cursor")
        segments = [Segment(seg.text, style + seg.style if seg.style else style) for seg in text.render(self.app.console)]
        return Strip(segments, width).crop(0, width)

    def watch_cursor(self, old: int, new: int) -> None:
        top = int(self.scroll_offset.y)
        self._scroll_cursor_into_view()
        if int(self.scroll_offset.y) == top:
            # Only the two rows that changed are redrawn; a scroll redraws everything anyway.
            width = self.size.width
            self.refresh(Region(0, old - top, width, 1), Region(0, new - top, width, 1))
        self.post_message(self.Highlighted(self.current))

    def _scroll_cursor_into_view(self) -> None:
        height = max(1, self.size.height)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)

    def _move(self, delta: int) -> None:
        if self._rows:
            self.cursor = max(0, min(len(self._rows) - 1, self.cursor + delta))

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_page_up(self) -> None:
        self._move(-max(1, self.size.height - 1))

    def action_page_down(self) -> None:
        self._move(max(1, self.size.height - 1))

    def action_first(self) -> None:
        self._move(-len(self._rows))

    def action_last(self) -> None:
        self._move(len(self._rows))

    def action_select(self) -> None:
        if self.current is not None:
            self.post_message(self.Chosen(self.current))

    def on_click(self, event) -> None:
        position = int(self.scroll_offset.y) + event.y
        if 0 <= position < len(self._rows):
            self.cursor = position
