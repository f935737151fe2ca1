"""A bar chart drawn by plotext inside a widget, sized to its pane and redrawn from a snapshot on a timer."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.widget import Widget

SERIES_COLORS = ("color(12)", "color(10)", "color(9)", "color(14)")
"""Rich colours matching plotext's 'simple' theme sequence, for legends drawn outside the chart."""


@dataclass(frozen=True)
class BarChartData:
    """What one chart shows: bars per label, one series per run (immutable, so it can be compared cheaply)."""

    title: str
    labels: tuple[str, ...]
    series: tuple[tuple[float, ...], ...]
    names: tuple[str, ...] = ()
    horizontal: bool = False
    limit: float = 100.0


def short_label(label: str, width: int = 14) -> str:
    """A category label cut to *width* characters ('Counting & Probability' → 'Counting & Pr…')."""
    label = str(label)
    return label if len(label) <= width else label[: width - 1] + "…"


def build_chart(data: BarChartData, width: int, height: int) -> Text:
    """The chart as styled text of exactly the given size (plotext is imported here, on first use)."""
    import plotext

    fig = plotext.figure
    fig.clear()
    fig.theme("simple")
    fig.plot_size(max(20, width), max(6, height))
    labels = [short_label(label) for label in data.labels]
    values = [list(s) for s in data.series]
    if not labels:
        return Text("no data", style="dim")
    heights = values[0] if len(values) == 1 else values
    signal = fig.bar(labels, heights, orientation="h" if data.horizontal else "v",
                     labeled=len(values) == 1 and width >= 40)
    fig.draw(signal)
    fig.ruler("x" if data.horizontal else "y").lim(0, data.limit)
    if data.title:
        fig.title(data.title)
    return Text.from_ansi(fig.build().string(), no_wrap=True, end="")


class PlotextChart(Widget):
    """Shows a BarChartData; set `data` as often as you like, the chart redraws at most once per tick."""

    DEFAULT_CSS = """
    PlotextChart { height: 1fr; min-height: 6; }
    """

    def __init__(self, data: BarChartData | None = None, *, interval: float = 0.5, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data = data
        """The snapshot to draw next."""
        self.interval = interval
        self._drawn_key: tuple | None = None
        self._text: Text = Text("")

    def on_mount(self) -> None:
        self.set_interval(self.interval, self.redraw_if_stale)
        self.call_after_refresh(self.redraw_if_stale)

    def on_resize(self, event: events.Resize) -> None:
        self.redraw_if_stale()

    def show(self, data: BarChartData | None) -> None:
        """Draw *data* at the next tick (immediately when nothing is drawn yet)."""
        self.data = data
        if self._drawn_key is None:
            self.call_after_refresh(self.redraw_if_stale)

    def redraw_if_stale(self) -> None:
        width, height = self.content_size.width, self.content_size.height
        key = (self.data, width, height)
        if key == self._drawn_key or width <= 0 or height <= 0:
            return
        self._drawn_key = key
        self._text = build_chart(self.data, width, height) if self.data else Text("no data", style="dim")
        self.refresh()

    def render(self) -> Text:
        return self._text
