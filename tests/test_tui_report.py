"""Report screen: plotext charts of the run, the comparison with flips, and exports."""

from __future__ import annotations

from mathbench.core.evaluation.compare import compare
from mathbench.core.workspace import open_workspace
from tests.support.tui_runs import screen_text, wait_until
from mathbench.tui.app import MathbenchApp
from mathbench.tui.widgets.chart import PlotextChart
from mathbench.tui.widgets.item_table import ItemTable


async def test_charts_comparison_flips_and_export(tmp_path):
    ws = open_workspace(tmp_path / "ws")
    app = MathbenchApp(ws, start="report")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.summary is not None)
        chart = screen.query_one("#chart-0", PlotextChart)
        await wait_until(pilot, lambda: "Accuracy by level" in chart._text.plain)
        assert "L5" in chart._text.plain
        assert chart._text.cell_len >= chart.content_size.width  # drawn to the pane's size
        expected = compare(app.current_run, app.compare_run)
        await pilot.press("v")
        await pilot.pause()
        flips = screen.query_one("#report-flips", ItemTable)
        n_flips = len(expected["flips"]["right_to_wrong"]) + len(expected["flips"]["wrong_to_right"])
        assert flips.row_count == n_flips > 0
        assert "Flipped problems" in screen_text(app)
        first_id = flips.rows[0][1]
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "ItemScreen"
        assert first_id in screen_text(app) and "in demo-pot-v1" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("x")
        await wait_until(pilot, lambda: any(ws.exports_dir.glob("*/compare_flips.csv")), limit=60)
        folder = next(ws.exports_dir.glob("*/report.md")).parent
        assert "demo-pot-v1" in (folder / "report.md").read_text()
        assert (folder / "by_level.csv").is_file() and (folder / "compare_flips.csv").is_file()


async def test_chart_redraws_only_when_its_snapshot_or_size_changes(tmp_path):
    from textual.app import App

    from mathbench.tui.widgets.chart import BarChartData

    class One(App):
        def compose(self):
            yield PlotextChart(BarChartData("t", ("a", "b"), ((10.0, 20.0),)), interval=0.05)

    app = One()
    async with app.run_test(size=(60, 20)) as pilot:
        chart = app.query_one(PlotextChart)
        await wait_until(pilot, lambda: chart._drawn_key is not None)
        drawn = chart._text
        await pilot.pause(0.2)
        assert chart._text is drawn  # same snapshot, same size: not rebuilt on the timer
        chart.show(BarChartData("t", ("a", "b"), ((10.0, 30.0),)))
        await wait_until(pilot, lambda: chart._text is not drawn)
        redrawn = chart._text
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: chart._text is not redrawn)
