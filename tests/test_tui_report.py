"""Report screen: plotext charts of the run, the comparison with flips, and exports."""

from __future__ import annotations

from mathbench.core.evaluation.compare import compare
from mathbench.core.workspace import open_workspace
from tests.support.tui_runs import screen_text, wait_until
from mathbench.tui.app import MathbenchApp
from mathbench.tui.widgets.chart import Chart
from mathbench.tui.widgets.item_list import ItemList


async def test_charts_comparison_flips_and_export(tmp_path):
    ws = open_workspace(tmp_path / "ws")
    app = MathbenchApp(ws, start="report")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.summary is not None)
        chart = screen.query_one("#chart-0", Chart)
        await wait_until(pilot, lambda: "Accuracy by level" in chart._text.plain)
        assert "L5" in chart._text.plain
        # Every level has its row and its value, drawn to the pane's width.
        level_rows = [line for line in chart._text.plain.splitlines() if line.startswith("L")]
        assert len(level_rows) == 5 and all(line.rstrip().endswith("%") for line in level_rows)
        assert max(len(line) for line in level_rows) == chart.content_size.width
        expected = compare(app.current_run, app.compare_run)
        await pilot.press("v")
        await pilot.pause()
        flips = screen.query_one("#report-flips", ItemList)
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

    from mathbench.tui.widgets.chart import bar_chart

    class One(App):
        def compose(self):
            yield Chart(bar_chart("t", ("a", "b"), (10.0, 20.0)), interval=0.05)

    app = One()
    async with app.run_test(size=(60, 20)) as pilot:
        chart = app.query_one(Chart)
        await wait_until(pilot, lambda: chart._drawn_key is not None)
        drawn = chart._text
        await pilot.pause(0.2)
        assert chart._text is drawn  # same snapshot, same size: not rebuilt on the timer
        chart.show(bar_chart("t", ("a", "b"), (10.0, 30.0)))
        await wait_until(pilot, lambda: chart._text is not drawn)
        redrawn = chart._text
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: chart._text is not redrawn)


async def test_a_run_with_samples_charts_pass_and_maj_at_k(tmp_path):
    from mathbench.core.evaluation.report import summarize
    from mathbench.core.evaluation.rundir import RunDir
    from tests.support.tui_runs import make_sampled_run

    ws = open_workspace(tmp_path / "ws", sample=False)
    run = RunDir(make_sampled_run(ws.runs_dir / "sampled"))
    expected = summarize(run)
    assert expected["samples"] == 4 and expected["pass_at_k"]["1"] < expected["pass_at_k"]["4"]
    app = MathbenchApp(ws, start="report", run_dir=run.path)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.summary is not None)
        data = screen.query_one("#chart-3", Chart).data
        assert data.title.startswith("pass@k and maj@k") and data.bar_labels == ("k=1", "k=2", "k=4")
        passes, majs = (series.ys for series in data.series)
        assert passes == tuple(round(100 * expected["pass_at_k"][k], 1) for k in ("1", "2", "4"))
        assert majs == tuple(round(100 * expected["maj_at_k"][k], 1) for k in ("1", "2", "4"))
        await wait_until(pilot, lambda: "pass@k" in screen_text(app))


async def test_a_chart_says_whether_it_shows_its_latest_data():
    from textual.app import App

    from mathbench.tui.widgets.chart import bar_chart

    class One(App):
        def compose(self):
            yield Chart(bar_chart("t", ("a", "b"), (10.0, 20.0)), interval=0.5, id="c")

    app = One()
    async with app.run_test(size=(60, 20)) as pilot:
        chart = app.query_one(Chart)
        await wait_until(pilot, lambda: chart.drawn)
        chart.show(bar_chart("t", ("a", "b"), (10.0, 30.0)))  # within the half second: drawn on its timer
        assert not chart.drawn
        await wait_until(pilot, lambda: chart.drawn)
        chart.styles.min_height = 0
        chart.styles.height = 0  # no room: nothing to draw, nothing pending
        chart.show(bar_chart("t", ("a",), (5.0,)))
        await wait_until(pilot, lambda: chart.content_size.height == 0)
        assert chart.drawn
