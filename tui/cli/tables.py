"""Tables for the command line: on a terminal as wide as it allows, the least important columns left out first
and no number ever cut; piped, every value whole."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Sequence

PIPED_WIDTH = 10_000
"""Console width when stdout is not a terminal: lines are as long as their values."""


@dataclass(frozen=True)
class Col:
    """A column: its header, alignment, how long it stays when space is short, whether it may be cut."""

    name: str
    justify: str = "left"
    keep: int = 5
    """Columns with the lowest `keep` are left out first when the table is wider than the terminal."""
    shrink: bool = False
    """Free text that may be cut with an ellipsis (on a terminal only) rather than dropping a column."""


def console():
    """A rich Console for stdout: the terminal's width, or unlimited width when piped."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console()
    return Console(width=PIPED_WIDTH, soft_wrap=False)


def _build(title: str, columns: Sequence[Col], rows: Sequence[Sequence[Any]], shown: list[int], shrink_to: int | None):
    from rich import box
    from rich.table import Table

    table = Table(title=title or None, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for i in shown:
        col = columns[i]
        table.add_column(col.name, justify=col.justify, no_wrap=True,
                         overflow="ellipsis" if col.shrink else "fold",
                         max_width=shrink_to if col.shrink and shrink_to else None)
    for row in rows:
        table.add_row(*(row[i] if isinstance(row[i], str) or hasattr(row[i], "__rich__") else str(row[i])
                        for i in shown))
    return table


def fit_table(out, title: str, columns: Sequence[Col], rows: Sequence[Sequence[Any]]):
    """A table of *rows* that fits *out*'s width: shrinkable text is cut first (to 12 cells at the least),
    then the columns with the lowest `keep` are left out, one at a time."""
    from rich.measure import Measurement

    shown = list(range(len(columns)))

    unbounded = out.options.update_width(PIPED_WIDTH)

    def width(table) -> int:
        return Measurement.get(out, unbounded, table).maximum

    while True:
        table = _build(title, columns, rows, shown, None)
        excess = width(table) - out.width
        if excess <= 0:
            return table
        shrinkable = [i for i in shown if columns[i].shrink]
        if shrinkable:
            longest = max((len(str(r[shrinkable[0]])) for r in rows), default=0)
            target = longest - excess
            while target >= 12:
                table = _build(title, columns, rows, shown, target)
                over = width(table) - out.width
                if over <= 0:
                    return table
                target -= over
        droppable = [i for i in shown if not columns[i].shrink] if len(shown) > 1 else []
        if not droppable:
            return _build(title, columns, rows, shown, 12)
        shown.remove(min(droppable, key=lambda i: (columns[i].keep, -i)))
