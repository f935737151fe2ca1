"""Pilot test of the synthesis screen: a real synthesis job against the loopback teacher, watched live."""

from __future__ import annotations

import json

from mathbench.core import jobs
from mathbench.core.demo.server import DemoServer, PotScript
from mathbench.core.datasets.synth import sidecar_paths
from mathbench.core.workspace import open_workspace
from tests.support.tui_more_text import poll_until_done, shown_text
from mathbench.tui.app import MathbenchApp
from tests.support.tui_runs import wait_for_workers

PAIRS = [
    {"question": "A farmer has 12 cows and buys 7 more. How many cows does he have?", "answer": "#### 19"},
    {"question": "Sara reads 15 pages a day for 4 days. How many pages does she read?", "answer": "#### 60"},
    {"question": "A box holds 6 eggs. How many eggs are in 9 boxes?", "answer": "#### 54"},
    {"question": "Tim had 40 marbles and lost 13. How many are left?", "answer": "#### 27"},
]


async def test_synth_screen_starts_a_job_and_shows_counts_and_items(tmp_path):
    ws = open_workspace(tmp_path / "ws", sample=False)
    pairs = ws.benchmarks_dir / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p) + "\n" for p in PAIRS), encoding="utf-8")
    key = {p["question"]: p["answer"] for p in PAIRS}
    with DemoServer(script=PotScript(answer_key=key)) as server:
        app = MathbenchApp(ws, start="synth")
        async with app.run_test(size=(160, 48)) as pilot:
            screen = app.screen
            await pilot.press("n")
            await pilot.pause()
            form = app.screen
            assert type(form).__name__ == "SynthFormScreen"
            form.query_one("#synth-pairs").value = "benchmarks/pairs.jsonl"
            form.query_one("#synth-base_url").value = server.base_url
            form.query_one("#synth-model").value = "demo-pot"
            form.query_one("#synth-out").value = "synth/test.jsonl"
            await pilot.press("ctrl+s")
            await wait_for_workers(app)
            await pilot.pause()
            assert screen.job_id is not None
            job = jobs.wait_job(ws, screen.job_id, timeout=120)
            assert job.state == "succeeded", jobs.tail_log(job, 20)
            await poll_until_done(screen.poll_synth)
            await pilot.pause()
            view = screen.view
            accepted = [json.loads(line) for line in sidecar_paths(ws.synth_dir / "test.jsonl")["log"].read_text().splitlines()]
            assert view.accepted == len(accepted) > 0
            assert view.accepted + view.rejected + view.errors == len(PAIRS)
            assert screen.query_one("#synth-accepted").row_count == view.accepted
            assert f"accepted {view.accepted}" in shown_text(screen.query_one("#synth-counts"))


async def test_synth_screen_without_any_synthesis_says_how_to_start(tmp_path):
    ws = open_workspace(tmp_path / "ws", sample=False)
    app = MathbenchApp(ws, start="synth")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "No synthesis yet" in shown_text(app.screen.query_one("#synth-source"))
