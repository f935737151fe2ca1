"""A chart sized to its pane, redrawn from an immutable snapshot only when the snapshot or the size changes.

Line charts are drawn by plotext. Bar charts are drawn as one text row per label with the value at the
bar's end, so every label and every number shows even in a 40×8 pane (plotext drops labels there).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual import events
from textual.timer import Timer
from textual.widget import Widget

SERIES_COLORS = ("color(12)", "color(10)", "color(9)", "color(14)", "color(13)", "color(11)")
"""Rich colours of successive series, matching plotext's "simple" theme, for legends drawn outside a chart."""
SERIES_COLOUR_NAMES = ("blue", "green", "red", "cyan", "magenta", "yellow")
"""The same colours by name, for titles that name the series."""
_BLOCKS = " ▏▎▍▌▋▊▉█"


@dataclass(frozen=True)
class Series:
    """One series: a label and its values (x and y for lines; one y per bar label for bars)."""

    label: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]


@dataclass(frozen=True)
class ChartData:
    """What one chart shows (immutable, so a redraw is skipped by comparing snapshots)."""

    title: str = ""
    series: tuple[Series, ...] = ()
    xlabel: str = ""
    kind: str = "line"
    """"line" for series over x, "bar" for one bar per label and series."""
    bar_labels: tuple[str, ...] = ()
    limit: float | None = None
    """The value a full-width bar stands for (bars; default: the largest value)."""
    unit: str = ""
    """Written after each bar's value, e.g. "%"."""


def bar_chart(title: str, labels: tuple[str, ...], *values: tuple[float, ...], names: tuple[str, ...] = (),
              limit: float | None = None, unit: str = "") -> ChartData:
    """A bar chart of one or more series over the same labels."""
    names = names or tuple(f"series {i + 1}" for i in range(len(values)))
    series = tuple(Series(name, tuple(float(i) for i in range(len(labels))), tuple(v)) for name, v in zip(names, values))
    return ChartData(title, series, kind="bar", bar_labels=tuple(str(label) for label in labels), limit=limit, unit=unit)


def downsample(xs: list[float], ys: list[float], limit: int = 400) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """At most *limit* evenly spaced points, always keeping the last one."""
    n = len(xs)
    if n <= limit:
        return tuple(xs), tuple(ys)
    step = n / limit
    picks = sorted({int(i * step) for i in range(limit)} | {n - 1})
    return tuple(xs[i] for i in picks), tuple(ys[i] for i in picks)


def short_label(label: str, width: int) -> str:
    """*label* cut to *width* cells ('Counting & Probability' → 'Counting & Pr…')."""
    label = str(label)
    return label if len(label) <= width else label[: max(0, width - 1)] + "…"


def _value_text(value: float, unit: str) -> str:
    return f"{value:.1f}{unit}" if abs(value) < 1000 else f"{value:,.0f}{unit}"


def _bar(fraction: float, width: int) -> str:
    """A bar of *width* cells filled to *fraction*, in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (_BLOCKS[part] if part else "")).ljust(width)


def _paired_bar(a: float, b: float, width: int, style_a: Style, style_b: Style) -> Text:
    """Two bars in one row: series A in the upper half of each cell, series B in the lower half."""
    fill_a, fill_b = round(max(0.0, min(1.0, a)) * width), round(max(0.0, min(1.0, b)) * width)
    text = Text()
    for cell in range(width):
        on_a, on_b = cell < fill_a, cell < fill_b
        if on_a and on_b:
            text.append("▀", Style(color=style_a.color, bgcolor=style_b.color))
        elif on_a:
            text.append("▀", style_a)
        elif on_b:
            text.append("▄", style_b)
        else:
            text.append(" ")
    return text


def build_bars(data: ChartData, width: int, height: int) -> Text:
    """Bar chart as text: a title row, then per label one row per series (or one shared row when short of height)."""
    labels = data.bar_labels
    series = [s for s in data.series if s.ys]
    out = Text(no_wrap=True, overflow="crop", end="")
    if data.title:
        out.append(short_label(data.title, width) + "\n", style="bold")
        height -= 1
    if not labels or not series:
        out.append("no data", style="dim")
        return out
    top = data.limit or max((max(s.ys) for s in series), default=0.0) or 1.0
    values_width = max(len(_value_text(v, data.unit)) for s in series for v in s.ys)
    label_width = min(max(len(str(label)) for label in labels), max(6, width * 2 // 5))
    paired = len(series) == 2 and len(labels) * 2 > height
    if paired:
        values_width = values_width * 2 + 1
    bar_width = max(4, width - label_width - values_width - 2)
    styles = [Style.parse(SERIES_COLORS[i % len(SERIES_COLORS)]) for i in range(len(series))]
    rows: list[Text] = []
    for i, label in enumerate(labels):
        name = short_label(label, label_width).ljust(label_width)
        if paired:
            a, b = (s.ys[i] if i < len(s.ys) else 0.0 for s in series)
            row = Text(name + " ")
            row.append_text(_paired_bar(a / top, b / top, bar_width, styles[0], styles[1]))
            row.append(" ")
            row.append(_value_text(a, data.unit), styles[0])
            row.append("/")
            row.append(_value_text(b, data.unit), styles[1])
            rows.append(row)
            continue
        for k, s in enumerate(series):
            value = s.ys[i] if i < len(s.ys) else 0.0
            row = Text((name if k == 0 else " " * label_width) + " ")
            row.append(_bar(value / top, bar_width), styles[k])
            row.append(" " + _value_text(value, data.unit).rjust(values_width), "bold" if k == 0 else "")
            rows.append(row)
    out.append(Text("\n").join(rows))
    return out


def build_lines(data: ChartData, width: int, height: int) -> Text:
    """Line chart drawn by plotext (imported here, on first use) at exactly *width*×*height*."""
    import plotext

    fig = plotext.figure
    fig.clear()
    fig.theme("simple")
    fig.plot_size(width, height)
    drawn = [s for s in data.series if s.xs]
    if not drawn:
        return Text(f"{data.title}\n(no data yet)", style="dim")
    for series in drawn:
        signal = fig.signal(list(series.xs), list(series.ys))
        if len(series.xs) > 1:
            signal.lines()
        fig.draw(signal)
    title = data.title
    if len(drawn) > 1:
        # A legend box would hide the curve's start; the title names the series in plotext's colour order.
        names = [f"{s.label} ({c})" for s, c in zip(drawn, SERIES_COLOUR_NAMES)]
        title = f"{title}: {', '.join(names)}" if title else ", ".join(names)
    if title:
        fig.title(title)
    return Text.from_ansi(fig.build().string(), no_wrap=True, end="")


class Chart(Widget):
    """Shows a ChartData; `show()` as often as you like, the chart redraws at most once per `interval`."""

    DEFAULT_CSS = """
    Chart { height: 1fr; min-height: 4; }
    """

    def __init__(self, data: ChartData | None = None, *, interval: float = 0.5, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data = data or ChartData()
        """The snapshot drawn (or about to be)."""
        self.interval = interval
        self._drawn_key: tuple | None = None
        self._drawn_at = 0.0
        self._timer: Timer | None = None
        self._text = Text("")

    @property
    def drawn(self) -> bool:
        """Whether what is on screen is the latest snapshot at the pane's size (no redraw is pending)."""
        width, height = self.content_size.width, self.content_size.height
        return width <= 0 or height <= 0 or self._drawn_key == (self.data, width, height)

    def on_mount(self) -> None:
        self.call_after_refresh(self.redraw_if_stale)

    def on_resize(self, event: events.Resize) -> None:
        self.redraw_if_stale()

    def show(self, data: ChartData) -> None:
        """Draw *data* now, or at the end of the current interval when the chart was drawn just now."""
        if data == self.data:
            return
        self.data = data
        if self._timer is not None or not self.is_mounted:
            return
        wait = self._drawn_at + self.interval - time.monotonic()
        if wait > 0:
            self._timer = self.set_timer(wait, self.redraw_if_stale)
        else:
            self.redraw_if_stale()

    def redraw_if_stale(self) -> None:
        """Draw the snapshot when it or the pane's size differs from what is drawn."""
        self._timer = None
        width, height = self.content_size.width, self.content_size.height
        key = (self.data, width, height)
        if key == self._drawn_key or width <= 0 or height <= 0:
            return
        self._drawn_key = key
        self._drawn_at = time.monotonic()
        build = build_bars if self.data.kind == "bar" else build_lines
        self._text = build(self.data, width, height) if width >= 10 and height >= 2 else Text("")
        self.refresh()

    def render(self) -> Text:
        return self._text
