"""Adjudication by keyboard: each verdict is on disk before the next item shows; undo, notes, resume."""

from __future__ import annotations

import json

import pytest

from mathbench.core.evaluation.report import summarize
from mathbench.core.evaluation.rundir import RunDir
from mathbench.core.workspace import open_workspace
from tests.support.tui_runs import make_run, screen_text, wait_until
from mathbench.tui.app import MathbenchApp


def _log(run_dir) -> list[dict]:
    path = run_dir / "adjudications.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def run_dir(tmp_path):
    ws = open_workspace(tmp_path / "ws", sample=False)
    return make_run(ws.runs_dir / "r1", 30)


async def _open(run_dir, size=(160, 48)):
    app = MathbenchApp(open_workspace(run_dir.parent.parent), start="adjudicate", run_dir=run_dir)
    return app


async def test_accept_writes_the_verdict_then_advances(run_dir):
    app = await _open(run_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.state is not None)
        first = screen.state.record["id"]
        queue_size = screen.state.total
        assert queue_size == sum(1 for r in RunDir(run_dir).load_results() if r["verdict"] == "uncertain")
        accuracy_before = screen.state.accuracy
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.state.reviewed == 1)
        assert _log(run_dir)[-1]["id"] == first and _log(run_dir)[-1]["verdict"] == "correct"
        assert screen.state.record["id"] != first
        assert screen.state.remaining == queue_size - 1
        assert screen.state.accuracy > accuracy_before
        assert screen.state.accuracy == summarize(run_dir)["accuracy"]
        assert "reviewed 1" in screen_text(app)


async def test_wrong_skip_undo_and_note(run_dir):
    app = await _open(run_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.state is not None)
        ids = []
        ids.append(screen.state.record["id"])
        await pilot.press("n")
        await wait_until(pilot, lambda: screen.state.reviewed == 1)
        ids.append(screen.state.record["id"])
        await pilot.press("s")  # skip: nothing written, next item shows
        await wait_until(pilot, lambda: screen.state.record["id"] != ids[1])
        assert len(_log(run_dir)) == 1
        await pilot.press("c")
        await wait_until(pilot, lambda: screen.state.reviewed == 2)
        # Undo twice: back through the session, each undo fsynced as its own entry.
        await pilot.press("u")
        await wait_until(pilot, lambda: screen.state.reviewed == 1)
        await pilot.press("u")
        await wait_until(pilot, lambda: screen.state.reviewed == 0)
        assert screen.state.record["id"] == ids[0]
        assert RunDir(run_dir).load_adjudications() == {}
        assert [e["verdict"] for e in _log(run_dir)] == ["wrong", "correct", None, None]
        await pilot.press("m")
        await pilot.pause()
        await pilot.press(*"close call")
        await pilot.press("enter")
        await wait_until(pilot, lambda: (screen.state.adjudication or {}).get("note") == "close call")
        assert _log(run_dir)[-1]["note"] == "close call"


async def test_leaving_and_coming_back_resumes_at_first_unreviewed(run_dir):
    app = await _open(run_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.state is not None)
        queue_ids = [r["id"] for r in RunDir(run_dir).load_results() if r["verdict"] == "uncertain"]
        await pilot.press("s")  # skip the first: it stays unreviewed
        await wait_until(pilot, lambda: screen.state.record["id"] == queue_ids[1])
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.state.reviewed == 1)
        await pilot.press("1")
        await pilot.pause()
        await pilot.press("4")
        await wait_until(pilot, lambda: app.screen is screen and screen.state.record["id"] == queue_ids[0])
        assert screen.state.reviewed == 1


async def test_queue_can_include_wrong_items_and_shows_done(tmp_path):
    ws = open_workspace(tmp_path / "ws", sample=False)
    run_dir = make_run(ws.runs_dir / "r1", 7)
    app = MathbenchApp(ws, start="adjudicate", run_dir=run_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.state is not None)
        assert screen.state.total == 1
        await pilot.press("w")
        await wait_until(pilot, lambda: screen.state is not None and screen.state.include_wrong)
        assert screen.state.total == 3
        for _ in range(3):
            before = screen.state.reviewed
            await pilot.press("n")
            await wait_until(pilot, lambda: screen.state.reviewed == before + 1)
        assert screen.state.record is None
        assert "Queue done" in screen_text(app)


async def test_full_conversation_is_one_key_away(run_dir):
    app = await _open(run_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.state is not None)
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "ItemScreen"
        text = screen_text(app)
        assert "execution #1" in text and "print(x)" in text
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


async def test_human_verdicts_reach_results_and_report(tmp_path):
    ws = open_workspace(tmp_path / "ws")
    app = MathbenchApp(ws)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("3")
        results = app.screen
        await wait_until(pilot, lambda: results.snapshot is not None)
        await pilot.press("5")
        report = app.screen
        await wait_until(pilot, lambda: report.summary is not None)
        before = report.summary["accuracy"]
        await pilot.press("4")
        adjudicate = app.screen
        await wait_until(pilot, lambda: adjudicate.state is not None)
        decided = adjudicate.state.record["id"]
        await pilot.press("y")
        await wait_until(pilot, lambda: adjudicate.state.reviewed == 1)
        await pilot.press("5")
        await wait_until(pilot, lambda: report.summary is not None and report.summary["accuracy"] > before)
        assert report.summary["human"]["reviewed"] == 1
        await pilot.press("3")
        await wait_until(pilot, lambda: any(row[1] == decided and row[2] == "correct*" for row in results.rows))
