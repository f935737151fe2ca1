"""Pilot tests of the jobs screen against real detached jobs."""

from __future__ import annotations

import sys

import pytest

from mathbench.core import jobs
from mathbench.core.workspace import open_workspace

pytest.importorskip("textual")

from tests.support.tui_more_text import poll_until_done, shown_text
from mathbench.tui.app import MathbenchApp
from tests.support.tui_runs import wait_for_workers, wait_until  # noqa: E402

SLEEPER = "import time, sys; print('job says hello', flush=True); time.sleep(120)"


async def _settle(app, pilot) -> None:
    await wait_for_workers(app)
    await pilot.pause()


async def test_jobs_screen_lists_and_stops_a_job(tmp_path):
    ws = open_workspace(tmp_path / "ws", sample=False)
    job = jobs.start_job(ws, "synth", [sys.executable, "-c", SLEEPER], meta={"title": "sleeper"})
    try:
        app = MathbenchApp(ws, start="jobs")
        async with app.run_test(size=(160, 48)) as pilot:
            screen = app.screen
            await poll_until_done(screen.read_jobs)
            await pilot.pause()
            table = screen.query_one("#jobs-table")
            assert table.row_count == 1
            assert screen.selected_job_id == job.id
            await pilot.press("s")
            await pilot.pause()
            assert type(app.screen).__name__ == "ConfirmScreen"
            await pilot.press("y")
            await pilot.pause()
            await wait_for_workers(app)
            await pilot.pause()
            assert jobs.get_job(ws, job.id).state == "stopped"
            await poll_until_done(screen.read_jobs)
            await pilot.pause()
            assert "stopped" in str(table.get_row(job.id)[2])
    finally:
        jobs.kill_job(ws, job.id)


async def test_jobs_screen_shows_the_selected_jobs_log(tmp_path):
    ws = open_workspace(tmp_path / "ws", sample=False)
    job = jobs.start_job(ws, "eval", [sys.executable, "-c", "print('line one'); print('line two')"])
    jobs.wait_job(ws, job.id, timeout=30)
    app = MathbenchApp(ws, start="jobs")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await poll_until_done(screen.read_jobs)
        await pilot.pause()
        log = screen.query_one("#jobs-log")
        await wait_until(pilot, lambda: "line two" in log.lines)
        log.query_one("Input").value = "one"
        await pilot.pause()
        assert log.shown == ["line one"]


async def test_jobs_screen_says_when_there_are_no_jobs(tmp_path):
    ws = open_workspace(tmp_path / "ws", sample=False)
    app = MathbenchApp(ws, start="jobs")
    async with app.run_test(size=(80, 24)) as pilot:
        await poll_until_done(app.screen.read_jobs)
        await pilot.pause()
        assert "No jobs yet" in shown_text(app.screen.query_one("#jobs-summary"))
