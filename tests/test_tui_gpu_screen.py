"""The GPU screen says plainly when there is no GPU and draws a snapshot with processes when there is."""

from __future__ import annotations

from mathbench.core.jobs import gpu
from mathbench.core.workspace import open_workspace
from tests.support.tui_more_text import poll_until_done, shown_text
from mathbench.tui.app import MathbenchApp
from mathbench.tui.widgets.gpu_panel import GpuPanel, sparkline


async def test_gpu_screen_without_nvml_says_no_gpu(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu, "snapshot", lambda: gpu.GpuSnapshot(0.0, False, reason=gpu.NO_GPU))
    ws = open_workspace(tmp_path / "ws", sample=False)
    app = MathbenchApp(ws, start="gpu")
    async with app.run_test(size=(80, 24)) as pilot:
        await poll_until_done(app.screen.sample)
        await pilot.pause()
        assert "no NVIDIA GPU" in shown_text(app.screen.query_one(GpuPanel))


async def test_gpu_panel_draws_gpus_history_and_processes(tmp_path, monkeypatch):
    snap = gpu.GpuSnapshot(1.0, True, [gpu.GpuInfo(
        0, "NVIDIA H100 80GB HBM3", util=87.0, mem_used=61 * 2**30, mem_total=80 * 2**30, temperature=71.0,
        power=312.0, power_limit=700.0, processes=[gpu.GpuProcess(4242, 60 * 2**30, "python")])], driver="570.1")
    monitor = gpu.GpuMonitor(history=10)
    monitor.add(snap)
    # The screen's own sampler must not replace the snapshot drawn here with this machine's (no GPU).
    monkeypatch.setattr(gpu, "snapshot", lambda: snap)
    ws = open_workspace(tmp_path / "ws", sample=False)
    app = MathbenchApp(ws, start="gpu")
    async with app.run_test(size=(160, 48)) as pilot:
        panel = app.screen.query_one(GpuPanel)
        panel.show(snap, monitor)
        await pilot.pause()
        text = shown_text(panel)
        assert "H100" in text and "87%" in text and "61.0/80.0 GiB" in text and "4242" in text


def test_sparkline_scales_to_the_top():
    assert sparkline([0, 50, 100], 100) == "▁▅█"
    assert sparkline([None, 100], 100) == " █"
