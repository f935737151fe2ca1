"""Results browser: thousands of rows, filters, sort, search, item view with code and executions."""

from __future__ import annotations

import pytest

from mathbench.core.workspace import open_workspace
from tests.support.tui_runs import VERDICT_CYCLE, make_run, screen_text, wait_until
from mathbench.tui.app import MathbenchApp
from mathbench.tui.widgets.item_list import ItemList


@pytest.fixture(scope="module")
def big_run(tmp_path_factory):
    ws = open_workspace(tmp_path_factory.mktemp("big") / "ws", sample=False)
    return make_run(ws.runs_dir / "big", 5000, errors=4)


async def _results(app, pilot):
    await pilot.press("3")
    screen = app.screen
    await wait_until(pilot, lambda: screen.snapshot is not None and screen.shown)
    return screen


async def test_five_thousand_rows_filter_and_sort(big_run):
    app = MathbenchApp(open_workspace(big_run.parent.parent), run_dir=big_run)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _results(app, pilot)
        table = screen.query_one(ItemList)
        assert table.row_count == 5000
        assert "5,000 of 5,000 shown" in screen_text(app)
        await pilot.press("v")  # verdict=correct
        await pilot.pause()
        expected = sum(1 for i in range(4, 5000) if VERDICT_CYCLE[i % len(VERDICT_CYCLE)] == "correct")
        assert screen.filters["verdict"] == "correct"
        assert table.row_count == expected
        assert all(row[2] == "correct" for row in table.rows)
        await pilot.press("v", "v", "v")  # wrong, uncertain, error
        await pilot.pause()
        assert screen.filters["verdict"] == "error" and table.row_count == 4
        await pilot.press("x", "l")  # clear, then level=1
        await pilot.pause()
        assert screen.filters["level"] == 1 and table.row_count == 1000
        await pilot.press("x", "t", "t", "t", "t", "t", "r")  # sort by latency, descending
        await pilot.pause()
        assert screen.sort_key == "latency" and screen.sort_reverse
        latencies = [float(row[8]) for row in table.rows[:50]]
        assert latencies == sorted(latencies, reverse=True)


async def test_search_then_open_item(tmp_path):
    ws = open_workspace(tmp_path / "ws", sample=False)
    run_dir = make_run(ws.runs_dir / "small", 400)
    app = MathbenchApp(ws, run_dir=run_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _results(app, pilot)
        await pilot.press("slash")
        await pilot.press(*"problem 321:")
        await pilot.press("enter")
        await pilot.pause()
        table = screen.query_one(ItemList)
        assert table.row_count == 1 and table.rows[0][1] == "p-00321"
        assert table.has_focus
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "ItemScreen"
        text = screen_text(app)
        for expected in ("p-00321", "gold", "predicted", "reason", "execution #1", "ok", "x = 321 * 7 % 97"):
            assert expected in text
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


async def test_table_draws_only_visible_rows(big_run):
    app = MathbenchApp(open_workspace(big_run.parent.parent), run_dir=big_run)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await _results(app, pilot)
        table = screen.query_one(ItemList)
        drawn: list[int] = []
        original = table.render_line

        def counting(y: int):
            drawn.append(y)
            return original(y)

        table.render_line = counting
        table.refresh()
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor == 4999
        assert 0 < len(set(drawn)) <= table.size.height
        assert "p-04999" in screen_text(app)


async def test_sample_run_item_shows_every_turn(tmp_path):
    app = MathbenchApp(open_workspace(tmp_path / "ws"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _results(app, pilot)
        await pilot.press("slash", *"gsm-15", "enter")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        text = screen_text(app)
        assert "NameError" in text  # the first block failed ...
        assert "execution #2" in text and "260" in text  # ... and the fix ran


async def test_bad_lines_are_skipped_and_named(tmp_path):
    ws = open_workspace(tmp_path / "ws", sample=False)
    run_dir = make_run(ws.runs_dir / "r", 20)
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    lines.insert(5, '{"id": "broken", "question": ')
    (run_dir / "results.jsonl").write_text("\n".join(lines) + "\n")
    app = MathbenchApp(ws, run_dir=run_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _results(app, pilot)
        assert screen.query_one(ItemList).row_count == 20
        assert any("results.jsonl:6" in str(n.message) for n in app._notifications)


async def test_a_sampled_run_folds_samples_under_their_problem(tmp_path):
    import json

    from mathbench.core.evaluation.rundir import RunDir
    from tests.support.tui_runs import make_sampled_run

    ws = open_workspace(tmp_path / "ws", sample=False)
    run_dir = make_sampled_run(ws.runs_dir / "sampled")
    app = MathbenchApp(ws, start="results", run_dir=run_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.snapshot is not None and screen.shown)
        table = screen.query_one(ItemList)
        assert len(table.rows) == 6 and [row[2] for row in table.rows][:3] == ["0/4 ok", "1/4 ok", "2/4 ok"]
        assert "6 problems (24 of 24 samples) shown" in screen_text(app)
        # A verdict on a folded problem is refused: it would not say which sample.
        table.move_cursor(1)
        await pilot.press("y")
        await pilot.pause()
        assert RunDir(run_dir).load_adjudications() == {}
        await pilot.press("space")
        await wait_until(pilot, lambda: len(table.rows) == 10)
        assert table.rows[1][1].startswith("▾") and [row[1] for row in table.rows[2:6]] == [
            f" └ sample {s}" for s in range(4)]
        table.move_cursor(3)  # problem 1's sample 1: wrong by the grader
        await pilot.press("y")
        await wait_until(pilot, lambda: table.rows[1][2] == "2/4 ok")
        entries = [json.loads(line) for line in (run_dir / "adjudications.jsonl").read_text().splitlines()]
        assert [(e["id"], e.get("sample"), e["verdict"]) for e in entries] == [("p-00001", 1, "correct")]
        await pilot.press("space")
        await wait_until(pilot, lambda: len(table.rows) == 6)
