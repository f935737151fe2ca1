"""A run's misses back into data from the Results and Report screens: pairs written, Synth opened on them."""

from __future__ import annotations

import json

from mathbench.core.evaluation.rundir import RunDir, effective_verdict
from mathbench.core.workspace import open_workspace
from mathbench.tui.app import MathbenchApp


async def _settle(app, pilot):
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def _ids(run: RunDir, verdicts: set) -> set:
    adjudications = run.load_adjudications()
    return {r["id"] for r in run.load_results() if effective_verdict(r, adjudications) in verdicts}


async def _misses(tmp_path, start: str, key: str) -> tuple:
    ws = open_workspace(tmp_path / "ws")
    app = MathbenchApp(ws, start=start)
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(app, pilot)
        await pilot.press("m")
        await _settle(app, pilot)
        await pilot.press(key)
        await _settle(app, pilot)
        await _settle(app, pilot)
        assert app.current_mode == "synth"
        form = app.screen
        pairs = form.query_one("#synth-pairs").value
        out = form.query_one("#synth-out").value
        rows = [json.loads(line) for line in open(pairs, encoding="utf-8")]
        return ws, app, pairs, out, rows


async def test_results_writes_the_wrong_problems_and_opens_synth_on_them(tmp_path):
    ws, app, pairs, out, rows = await _misses(tmp_path, "results", "w")
    run = RunDir(app.current_run)
    assert pairs.startswith(str(ws.datasets_dir / "pairs" / f"{run.name}-wrong-"))
    assert {r["id"] for r in rows} == _ids(run, {"wrong"}) and all(r["answer"] for r in rows)
    assert out.startswith("synth/") and out.endswith("-items.jsonl")


async def test_report_writes_the_flipped_problems_against_the_compared_run(tmp_path):
    ws, app, pairs, out, rows = await _misses(tmp_path, "report", "f")
    run, other = RunDir(app.current_run), RunDir(app.compare_run)
    assert {r["id"] for r in rows} == _ids(other, {"correct"}) & _ids(run, {"wrong", "uncertain"})
    assert rows and all(r["source_run"] == run.name for r in rows)
