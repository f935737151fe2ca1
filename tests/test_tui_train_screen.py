"""Pilot tests of the training screen: a growing trainer_log.jsonl, the sample run, the launch form."""

from __future__ import annotations

import json

from mathbench.core.workspace import open_workspace
from tests.support.tui_more_text import poll_until_done, shown_text
from tests.support.tui_runs import wait_for_workers, wait_until
from mathbench.tui.app import MathbenchApp


def _line(step: int, total: int = 50, **extra) -> str:
    rec = {"current_steps": step, "total_steps": total, "loss": round(2.0 / step, 4), "lr": 1e-4,
           "epoch": step / 25, "percentage": round(step / total * 100, 2), "elapsed_time": "0:01:00",
           "remaining_time": "0:04:00"}
    rec.update(extra)
    return json.dumps(rec) + "\n"


async def _poll(app, pilot):
    screen = app.screen
    await poll_until_done(screen.poll_training)
    await pilot.pause()


async def test_train_screen_follows_a_growing_trainer_log(tmp_path):
    ws = open_workspace(tmp_path / "ws", sample=False)
    run = tmp_path / "elsewhere" / "run1"
    run.mkdir(parents=True)
    log = run / "trainer_log.jsonl"
    log.write_text(_line(5) + _line(10))
    app = MathbenchApp(ws, start="train")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        screen.follow_run(run)
        await _poll(app, pilot)
        assert screen.view.step == 10 and screen.view.total == 50
        with log.open("a") as fh:
            fh.write(_line(15))
            fh.write(json.dumps({"current_steps": 15, "total_steps": 50, "eval_loss": 0.42, "epoch": 0.6}) + "\n")
            fh.write('{"current_steps": 20, "total_')  # a torn line that is still being written
        await _poll(app, pilot)
        assert screen.view.step == 15
        assert screen.view.eval_loss == 0.42
        stats = shown_text(screen.query_one("#train-stats"))
        assert "15/50" in stats
        with log.open("a") as fh:
            fh.write('steps": 50, "loss": 0.1, "percentage": 40.0}\n')
        (run / "checkpoint-20").mkdir()
        (run / "checkpoint-20" / "trainer_state.json").write_text("{}")
        await _poll(app, pilot)
        assert screen.view.step == 20
        assert screen.view.checkpoints == (20,)
        assert [s.label for s in screen.view.loss_chart.series] == ["loss", "smoothed", "eval_loss"]


async def test_train_screen_opens_the_sample_run(tmp_path):
    ws = open_workspace(tmp_path / "ws")
    app = MathbenchApp(ws, start="train")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.screen.output_dir is not None)  # the newest run, found by a worker
        await _poll(app, pilot)
        view = app.screen.view
        assert view is not None and view.step == view.total
        assert view.finished and len(view.checkpoints) == 2
        await wait_until(pilot, lambda: app.screen.query_one("#train-log").lines)  # the run's log is tailed
        assert view.phase == "finished" and view.eta is None
        assert "recorded" in shown_text(app.screen.query_one("#train-source"))  # no job writes it


async def test_launch_form_reports_a_missing_model(tmp_path):
    ws = open_workspace(tmp_path / "ws", sample=False)
    app = MathbenchApp(ws, start="train")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        assert type(app.screen).__name__ == "TrainLaunchScreen"
        await pilot.press("ctrl+s")
        await wait_for_workers(app)
        await pilot.pause()
        form = app.screen
        assert type(form).__name__ == "TrainLaunchScreen"  # kept open, saying what is missing
        assert "model_path" in shown_text(form.query_one("#launch-error"))
        assert app.focused is form.query_one("#ph-model_path")
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert type(app.screen).__name__ == "TrainScreen"
        assert not list(ws.jobs_dir.glob("*/job.json"))  # nothing started without a model
