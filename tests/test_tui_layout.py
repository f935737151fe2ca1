"""Layout at fixed terminal sizes: every screen fits 80x24 and uses 160x48, asserted on regions and text."""

from __future__ import annotations

import pytest

from mathbench.core.workspace import open_workspace
from tests.support.tui_runs import screen_lines, wait_until
from mathbench.tui.app import MathbenchApp
from mathbench.tui.widgets.chart import Chart
from mathbench.tui.widgets.item_list import ItemList

SIZES = [(80, 24), (160, 48)]


def _inside(widget, size) -> bool:
    region = widget.region
    return region.x >= 0 and region.y >= 0 and region.right <= size[0] and region.bottom <= size[1]


@pytest.mark.parametrize("size", SIZES)
async def test_screens_fit_the_terminal(tmp_path, size):
    width, height = size
    app = MathbenchApp(open_workspace(tmp_path / "ws"))
    async with app.run_test(size=size) as pilot:
        home = app.screen
        await wait_until(pilot, lambda: len(home.runs) == 2)
        await pilot.pause()
        lines = screen_lines(app)
        assert len(lines) == height and "Home" in lines[0]
        assert "Help" in lines[-1] or "Commands" in lines[-1]  # the footer is on the last row
        # The workspace panel stays (beside the runs, or under them when narrow) and every number of a run shows.
        assert home.query_one("#home-side").display and _inside(home.query_one("#home-workspace"), size)
        assert _inside(home.query_one(ItemList), size)
        header = lines[home.query_one(ItemList).region.y]
        for column in ("items", "acc", "uncertain", "status"):
            assert column in header

        await pilot.press("3")
        results = app.screen
        await wait_until(pilot, lambda: results.snapshot is not None)
        await pilot.pause()
        table = results.query_one(ItemList)
        assert _inside(table, size) and table.region.height >= height - 6
        header = screen_lines(app)[table.region.y]
        assert "question" in header and ("subject" in header) is (width >= 110)

        await pilot.press("4")
        adjudicate = app.screen
        await wait_until(pilot, lambda: adjudicate.state is not None)
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        for label in ("gold", "predicted", "remaining", "accuracy"):
            assert label in text
        assert _inside(adjudicate.query_one("#adj-body"), size)

        await pilot.press("5")
        report = app.screen
        await wait_until(pilot, lambda: report.summary is not None)
        await pilot.pause(0.3)
        charts = list(report.query("#report-single Chart").results(Chart))
        assert len(charts) == 4
        for chart in charts:
            assert _inside(chart, size)
            assert chart.region.width >= width // 2 - 4 and chart.region.height >= (height - 4) // 2 - 2

        await pilot.press("2")
        evaluation = app.screen
        await wait_until(pilot, lambda: evaluation.live is not None)
        await pilot.pause()
        assert evaluation.query_one("#eval-form").display is (width >= 120)
        assert _inside(evaluation.query_one("#eval-live"), size)
        evaluation.set_focus(None)
        await pilot.press("n")
        await pilot.pause()
        assert evaluation.query_one("#eval-form").display
        assert _inside(evaluation.query_one("#eval-start"), size) or evaluation.query_one("#eval-form").max_scroll_y > 0


@pytest.mark.parametrize("size", SIZES)
async def test_a_toast_is_one_line_over_the_header_and_hides_no_field_or_row(tmp_path, size):
    from textual.widgets._toast import Toast

    app = MathbenchApp(open_workspace(tmp_path / "ws"), start="dataset")
    async with app.run_test(size=size, notifications=True) as pilot:
        await app.workers.wait_for_complete()
        app.notify("3 items repeat a benchmark problem; D drops them.", title="Benchmarks", timeout=30)
        await wait_until(pilot, lambda: len(app.screen.query(Toast)) > 0)
        await pilot.pause()
        toasts = list(app.screen.query(Toast))
        # Toasts stack down from the header row, one line each (the sample's own benchmark notice among them).
        assert [(t.region.y, t.region.height) for t in toasts] == [(y, 1) for y in range(len(toasts))]
        assert any("Benchmarks: 3 items repeat" in line for line in screen_lines(app)[:len(toasts)])
        assert "search" in "\n".join(screen_lines(app)[1:4])  # the search box under it still shows
