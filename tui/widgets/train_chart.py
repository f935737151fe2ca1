"""A plotext line chart sized to its widget, redrawn from a snapshot only when the data change."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.widgets import Static


SERIES_COLOUR_NAMES = ("blue", "green", "red", "cyan", "magenta", "yellow")
"""Colours plotext's "simple" theme gives successive series."""


@dataclass(frozen=True)
class Series:
    """One line of a chart: x and y values and a label."""

    label: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]


@dataclass(frozen=True)
class ChartData:
    """An immutable snapshot of what a chart shows."""

    title: str = ""
    series: tuple[Series, ...] = ()
    xlabel: str = ""
    kind: str = "line"
    """"line" for series over x, "bar" for one series of labelled bars (xs are indexes)."""
    bar_labels: tuple[str, ...] = field(default_factory=tuple)


def downsample(xs: list[float], ys: list[float], limit: int = 400) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """At most *limit* evenly spaced points, always keeping the last one."""
    n = len(xs)
    if n <= limit:
        return tuple(xs), tuple(ys)
    step = n / limit
    picks = sorted({int(i * step) for i in range(limit)} | {n - 1})
    return tuple(xs[i] for i in picks), tuple(ys[i] for i in picks)




class LineChart(Static):
    """Draws a ChartData (lines or bars) with plotext at the widget's size; plotext is imported on first draw."""

    DEFAULT_CSS = "LineChart { height: 1fr; min-height: 6; }"

    def __init__(self, data: ChartData | None = None, **kwargs) -> None:
        super().__init__("", **kwargs)
        self._data = data or ChartData()
        self._drawn_for: tuple | None = None

    @property
    def data(self) -> ChartData:
        return self._data

    def show(self, data: ChartData) -> None:
        """Show *data*; redraws only when it differs from what is shown."""
        if data != self._data:
            self._data = data
            self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def on_mount(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        width, height = self.content_size.width, self.content_size.height
        key = (self._data, width, height)
        if width < 10 or height < 4 or key == self._drawn_for:
            return
        self._drawn_for = key
        self.update(Text.from_ansi(self._build(width, height)))

    def _build(self, width: int, height: int) -> str:
        import plotext

        data = self._data
        fig = plotext.figure
        fig.clear()
        fig.theme("simple")
        fig.plot_size(width, height)
        drawn = False
        if data.kind == "bar" and data.series:
            series = data.series[0]
            if series.ys:
                labels = list(data.bar_labels or [str(x) for x in series.xs])
                fig.draw(fig.bar(labels, list(series.ys), labeled=width >= 40))
                drawn = True
        else:
            for series in data.series:
                if not series.xs:
                    continue
                signal = fig.signal(list(series.xs), list(series.ys))
                if len(series.xs) > 1:
                    signal.lines()
                fig.draw(signal)
                drawn = True
        if not drawn:
            return f"{data.title}\n(no data yet)"
        title = data.title
        if data.kind != "bar" and len(data.series) > 1:
            # A legend box would hide the curve's start; the title names the series in plotext's colour order.
            names = [f"{s.label} ({c})" for s, c in zip((s for s in data.series if s.xs), SERIES_COLOUR_NAMES)]
            title = f"{title}: {', '.join(names)}" if title else ", ".join(names)
        if title:
            fig.title(title)
        return fig.build().string()
