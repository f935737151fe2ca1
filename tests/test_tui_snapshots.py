"""Every screen of the workbench as a picture, at 80×24 and 160×48, compared with the committed SVGs.

Deterministic: the sample workspace, a fixed title, UTC, a fixed run name for a new eval, no GPU, and each
screen photographed only once what it reads has arrived. Update after reviewing the report:
`.venv/bin/python -m pytest tests/test_tui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import time

import pytest

from mathbench.core.jobs import gpu
from mathbench.core.workspace import open_workspace
from mathbench.tui.app import MathbenchApp
from mathbench.tui.widgets import eval_form
from tests.support.tui_runs import screen_text, wait_until

SIZES = {"80x24": (80, 24), "160x48": (160, 48)}


def _log_settled(screen, log_id: str) -> bool:
    """The log view has its lines and has scrolled to their end (it follows)."""
    from mathbench.tui.widgets.log_view import LogLines

    view = screen.query_one(log_id)
    lines = view.query_one(LogLines)
    return bool(view.lines) and lines.size.height > 0 and int(lines.scroll_offset.y) == lines.max_scroll_y


def _charts_drawn(screen) -> bool:
    """Every chart on *screen* shows its latest data (a chart redraws at most twice a second)."""
    from mathbench.tui.widgets.chart import Chart

    return all(chart.drawn for chart in screen.query(Chart))


def _unready(screen) -> str:
    """What a screen that never became ready shows: its charts' and log views' states."""
    from mathbench.tui.widgets.chart import Chart
    from mathbench.tui.widgets.log_view import LogLines, LogView

    charts = [(c.id, tuple(c.content_size), c.drawn) for c in screen.query(Chart)]
    logs = [(v.id, len(v.lines), tuple(v.query_one(LogLines).size), v.query_one(LogLines).scroll_offset.y,
             v.query_one(LogLines).max_scroll_y) for v in screen.query(LogView)]
    return f"charts {charts}; logs (id, lines, size, y, max y) {logs}; view {getattr(screen, 'view', None) is not None}"


def _ready(app, key: str) -> bool:
    """True when the screen shown after pressing *key* has read what it shows and drawn it."""
    screen = app.screen
    checks = {
        "1": lambda: "demo-pot-v2" in screen_text(app) and bool(getattr(screen, "runs", None)),
        "2": lambda: screen.live is not None and screen.live["done"] == 40,
        "3": lambda: screen.snapshot is not None and bool(screen.shown),
        "4": lambda: screen.state is not None,
        "5": lambda: screen.summary is not None and screen.comparison is not None,
        "6": lambda: ("of 31" in screen_text(app) and bool(screen.clusters) and bool(screen.hits)
                      and str(screen.query_one("#data-progress-text").content) == "done"),
        "7": lambda: "Problem" in screen_text(app),
        "8": lambda: "No synthesis yet" in screen_text(app),
        "9": lambda: screen.view is not None and _log_settled(screen, "#train-log"),
        "0": lambda: screen.view is not None and _log_settled(screen, "#serve-log"),
        "j": lambda: "No jobs yet" in screen_text(app),
        "g": lambda: "no NVIDIA GPU" in screen_text(app),
    }
    return checks[key]() and _charts_drawn(screen)


VIEWS = [
    ("home", ["1"]), ("eval", ["2"]), ("results", ["3"]), ("adjudicate", ["4"]), ("report", ["5"]),
    ("report-compare", ["5", "v"]), ("item", ["3", "enter"]), ("data", ["6"]), ("compose", ["7"]),
    ("synth", ["8"]), ("train", ["9"]), ("serve", ["0"]), ("jobs", ["j"]), ("gpu", ["g"]), ("help", ["1", "question_mark"]),
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return open_workspace(tmp_path_factory.mktemp("snapshots") / "workspace")


@pytest.fixture
def steady(monkeypatch):
    """What would differ from run to run or machine to machine: the clock's zone, a new run's name, the GPU."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(eval_form, "new_run_name", lambda: "eval-20250101-120000")
    monkeypatch.setattr(gpu, "snapshot", lambda: gpu.GpuSnapshot(0.0, False, reason=gpu.NO_GPU))
    yield
    time.tzset()


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
@pytest.mark.parametrize("name,keys", VIEWS, ids=[name for name, _ in VIEWS])
def test_screen(snap_compare, workspace, steady, name, keys, size):
    app = MathbenchApp(workspace)
    app.sub_title = "sample workspace"

    async def show(pilot) -> None:
        await wait_until(pilot, lambda: _ready(app, "1"))
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
            if key in "1234567890jg" and key != "1":
                try:
                    await wait_until(pilot, lambda key=key: _ready(app, key), limit=120)
                except AssertionError:
                    raise AssertionError(f"{app.screen!r} after {key!r} not ready: {_unready(app.screen)}") from None
        await pilot.pause(0.3)
        await wait_until(pilot, lambda: _charts_drawn(app.screen))
        await pilot.wait_for_scheduled_animations()

    assert snap_compare(app, terminal_size=SIZES[size], run_before=show)
