"""Home screen: the workspace's runs; keys open a run's results, adjudication, report or comparison."""

from __future__ import annotations

from mathbench.core.evaluation.report import summarize
from mathbench.core.workspace import open_workspace
from tests.support.tui_runs import screen_text, wait_until
from mathbench.tui.app import MathbenchApp
from mathbench.tui.widgets.item_list import ItemList


async def test_runs_listed_and_opened(tmp_path):
    app = MathbenchApp(open_workspace(tmp_path / "ws"))
    async with app.run_test(size=(160, 48)) as pilot:
        home = app.screen
        await wait_until(pilot, lambda: len(home.runs) == 2)
        table = home.query_one(ItemList)
        assert [row[0] for row in table.rows] == ["demo-pot-v2", "demo-pot-v1"]
        pending = summarize(app.workspace.runs_dir / "demo-pot-v2")["human"]["pending"]
        assert table.rows[0][5] == str(pending or "")  # uncertain items waiting for a human
        await pilot.press("down", "c")  # v1 becomes the comparison run ...
        assert app.compare_run is None or app.compare_run.name == "demo-pot-v1"
        await pilot.press("up", "enter")  # ... and v2 opens in the results browser
        await pilot.pause()
        assert app.current_mode == "results" and app.current_run.name == "demo-pot-v2"
        await pilot.press("1")
        await pilot.pause()
        await pilot.press("down", "a")
        await pilot.pause()
        assert app.current_mode == "adjudicate" and app.current_run.name == "demo-pot-v1"
        assert "Workspace" not in screen_text(app)
