"""Review and compare: the compare table with its intervals, a flip opened in both runs, verdicts set from the
results table and the item view, the run picker's backlog, an empty queue said plainly."""

from __future__ import annotations

import json

from textual.widgets import OptionList

from mathbench.core.evaluation.rundir import RunDir
from mathbench.core.workspace import open_workspace
from mathbench.tui.app import MathbenchApp
from mathbench.tui.widgets.item_list import ItemList
from tests.support.tui_more_text import shown_text
from tests.support.tui_runs import make_run, screen_text, wait_until


async def test_compare_view_has_the_table_and_a_flip_opens_both_runs(tmp_path):
    ws = open_workspace(tmp_path / "ws")
    app = MathbenchApp(ws, start="report")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.comparison is not None, limit=120)
        await pilot.press("v")
        await pilot.pause()
        table = shown_text(screen.query_one("#report-compare-table"))
        for label in ("all (paired)", "Level 5", "Counting & Probability", "95% CI", "p"):
            assert label in table
        paired = screen.comparison
        assert f"{100 * paired['diff']:+.1f}" in table and f"{paired['mcnemar_p']:.3f}" in table
        flips = screen.query_one("#report-flips", ItemList)
        first = flips.rows[0][1]
        await pilot.press("enter")
        await pilot.pause()
        item = app.screen
        assert type(item).__name__ == "ItemScreen"
        facts_b = shown_text(item.query_one("#item-facts-b"))
        assert first in screen_text(app) and "demo-pot-v1" in facts_b
        other = screen.other_records[first]
        assert str(other.get("pred_answer")) in facts_b  # B's own answer beside A's
        assert item.query_one("#item-conversation-b").region.x > item.query_one("#item-conversation").region.x


async def test_verdicts_are_set_from_the_results_table_and_the_item_view(tmp_path):
    ws = open_workspace(tmp_path / "ws", sample=False)
    run_dir = make_run(ws.runs_dir / "r", 30)
    app = MathbenchApp(ws, run_dir=run_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("3")
        screen = app.screen
        await wait_until(pilot, lambda: screen.snapshot is not None and screen.shown)
        table = screen.query_one(ItemList)
        table.move_cursor(2)  # p-00002: graded wrong
        await pilot.press("y")
        await wait_until(pilot, lambda: table.rows[2][2] == "correct*")
        assert RunDir(run_dir).load_adjudications()["p-00002"]["verdict"] == "correct"
        await pilot.press("u")
        await wait_until(pilot, lambda: table.rows[2][2] == "wrong")
        assert "p-00002" not in RunDir(run_dir).load_adjudications()
        await pilot.press("enter")
        await pilot.pause()
        item = app.screen
        await pilot.press("n")
        await wait_until(pilot, lambda: "human: wrong" in shown_text(item.query_one("#item-facts")))
        assert RunDir(run_dir).load_adjudications()["p-00002"]["verdict"] == "wrong"
        lines = (run_dir / "adjudications.jsonl").read_text().splitlines()
        assert [json.loads(line)["verdict"] for line in lines] == ["correct", None, "wrong"]
        await pilot.press("escape")
        await wait_until(pilot, lambda: screen.query_one(ItemList).rows[2][2] == "wrong*")


async def test_the_run_picker_shows_what_each_run_has_left_to_adjudicate(tmp_path):
    ws = open_workspace(tmp_path / "ws")
    app = MathbenchApp(ws, start="adjudicate")
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.screen.state is not None)
        await pilot.press("o")
        options = app.screen.query_one(OptionList)
        await wait_until(pilot, lambda: options.option_count == 2)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(2)]
        assert any("demo-pot-v2" in label and "3 uncertain left" in label for label in labels)


async def test_an_empty_queue_says_so(tmp_path):
    ws = open_workspace(tmp_path / "ws", sample=False)
    run = RunDir(ws.runs_dir / "sure")
    run.write_manifest({"name": "sure", "benchmark": "b", "model": "m", "total": 1})
    with run.open_writer() as writer:
        writer.append({"id": "a", "question": "1+1", "gold": "2", "gold_answer": "2", "pred_answer": "2",
                       "verdict": "correct", "reason": "exact"})
    app = MathbenchApp(ws, start="adjudicate", run_dir=run.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "Nothing to adjudicate" in screen_text(app))
