"""End to end through the screens: launch training and a server from their forms (stand-in executables on PATH)."""

from __future__ import annotations

import time

from mathbench.core import jobs
from tests.standins import standins, ws  # noqa: F401  (fixtures)
from tests.support.tui_more_text import poll_until_done, shown_text
from mathbench.tui.app import MathbenchApp
from tests.support.tui_runs import wait_for_workers


async def _until(pilot, predicate, poll, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            screen = pilot.app.screen
            job = jobs.get_job(screen.workspace, screen.job_id) if getattr(screen, "job_id", None) else None
            tail = "\n".join(jobs.tail_log(job, 30)) if job else ""
            v = getattr(screen, "view", None)
            seen = {k: getattr(v, k, None) for k in ("health", "models", "probe_error", "job_state", "shutdown")}
            raise AssertionError(f"timed out; the screen shows {seen}\n"
                                 f"job={job and job.state} exit={job and job.exit_code}\n{tail}")
        await poll_until_done(poll)
        await pilot.pause(0.1)


async def test_train_screen_launches_a_job_and_follows_it_to_the_end(ws, standins, monkeypatch):  # noqa: F811
    monkeypatch.setenv("STANDIN_STEPS", "20")
    monkeypatch.setenv("MATHBENCH_GPUS", "1")  # the first template is full SFT with DeepSpeed: a GPU box
    app = MathbenchApp(ws, start="train")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        form.query_one("#ph-model_path").value = "Qwen/Qwen2.5-0.5B-Instruct"
        form.query_one("#ph-epochs").value = "2"
        await pilot.press("ctrl+s")
        await wait_for_workers(app)
        await pilot.pause()
        assert screen.job_id is not None
        job = jobs.get_job(ws, screen.job_id)
        assert job.kind == "train" and job.output_dir
        await _until(pilot, lambda: screen.view is not None and screen.view.step == 20, screen.poll_training)
        jobs.wait_job(ws, job.id, timeout=30)
        await _until(pilot, lambda: screen.view.job_state == "succeeded", screen.poll_training)
        assert screen.view.total == 20 and screen.view.loss is not None
        assert "succeeded" in shown_text(screen.query_one("#train-stats"))
        await pilot.pause(1.2)  # one tick of the log tail
        assert screen.query_one("#train-log").lines

        # The jobs screen lists it, and attaching opens the train screen on it.
        await pilot.press("j")
        await pilot.pause()
        jobs_screen = app.screen
        await poll_until_done(jobs_screen.read_jobs)
        await pilot.pause()
        assert jobs_screen.selected_job_id == job.id
        await pilot.press("a")
        await pilot.pause()
        assert app.current_mode == "train" and app.screen.job_id == job.id


async def test_serve_screen_launches_vllm_and_sees_it_ready(ws, standins):  # noqa: F811
    app = MathbenchApp(ws, start="serve")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        form.query_one("#serve-model").value = "/models/qwen-pot"
        form.query_one("#serve-served_model_name").value = "qwen-pot"
        form.query_one("#serve-port").value = str(jobs.free_port())
        await pilot.press("ctrl+s")
        await wait_for_workers(app)
        await pilot.pause()
        assert screen.job_id is not None
        try:
            await _until(pilot, lambda: screen.view is not None and screen.view.health == "ready"
                         and screen.view.milestones.get("max_concurrency") and screen.view.models, screen.poll_server)
            assert screen.view.models == ("qwen-pot",)
            assert screen.view.milestones["kv_cache_tokens"] == 1_048_576
            assert "yes" in _ready_row(screen)
            await pilot.press("s")
            await pilot.pause()
            await pilot.press("y")
            await wait_for_workers(app)
            assert jobs.get_job(ws, screen.job_id).state == "stopped"
            await _until(pilot, lambda: screen.view.health == "down" and screen.view.job_state == "stopped",
                         screen.poll_server)
            assert "yes" not in _ready_row(screen)  # never `ready yes` beside `/health down`
        finally:
            jobs.kill_job(ws, screen.job_id)


def _ready_row(screen) -> str:
    stats = shown_text(screen.query_one("#serve-stats"))
    return next(line for line in stats.splitlines() if line.strip().startswith("ready"))


async def test_the_launch_form_previews_the_command_and_what_blocks_it(ws, standins, monkeypatch):  # noqa: F811
    monkeypatch.setenv("MATHBENCH_GPUS", "0")
    app = MathbenchApp(ws, start="train")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        form.query_one("#ph-model_path").value = "/models/q"
        deadline = time.monotonic() + 30
        while "DeepSpeed" not in shown_text(form.query_one("#launch-preview")):
            assert time.monotonic() < deadline, shown_text(form.query_one("#launch-preview"))
            await app.workers.wait_for_complete()
            await pilot.pause(0.1)
        preview = shown_text(form.query_one("#launch-preview"))
        assert "llamafactory-cli train" in preview and "use_cpu: true added" in preview
        assert "cannot launch: DeepSpeed needs GPUs" in preview and "deepspeed=null" in preview
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not any(p.is_dir() for p in ws.jobs_dir.iterdir()) if ws.jobs_dir.is_dir() else True
        assert any("DeepSpeed needs GPUs" in n.message for n in app._notifications)
