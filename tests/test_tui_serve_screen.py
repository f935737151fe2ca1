"""Pilot tests of the server screen: milestones from the sample vLLM log, attach by URL to a live server."""

from __future__ import annotations

import time

import pytest

from mathbench.core.demo.server import DemoServer
from mathbench.core.workspace import open_workspace
from tests.support.tui_more_text import poll_until_done, shown_text
from tests.support.tui_runs import wait_until
from mathbench.tui.app import MathbenchApp


async def _probed(screen, pilot, timeout: float = 30.0) -> None:
    """Poll until a probe of the URL has answered (a timer's poll may be probing at the same moment)."""
    deadline = time.monotonic() + timeout
    while screen.view is None or screen.view.health is None:
        assert time.monotonic() < deadline, "the server was never probed"
        await poll_until_done(screen.poll_server)
        await pilot.pause(0.1)


async def test_serve_screen_shows_milestones_and_stats_from_the_sample_log(tmp_path):
    ws = open_workspace(tmp_path / "ws")
    app = MathbenchApp(ws, start="serve")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.log_path is not None)  # the newest log, found by a worker
        await poll_until_done(screen.poll_server)
        await pilot.pause()
        view = screen.view
        assert view.milestones["ready"] is True
        assert view.milestones["kv_cache_tokens"] == 2_363_792
        assert view.milestones["max_concurrency"]["x"] == 577.1
        assert len(view.throughput_chart.series[1].ys) == 30
        stats = shown_text(screen.query_one("#serve-stats"))
        assert "2,363,792" in stats and "577.1x" in stats
        assert "recorded" in shown_text(screen.query_one("#serve-source"))  # not a live server
        log = screen.query_one("#serve-log")
        await wait_until(pilot, lambda: log.lines)
        log.query_one("Input").value = "KV cache"
        await pilot.pause()
        assert log.shown and all("kv cache" in line.lower() for line in log.shown)


@pytest.mark.parametrize("server_key", [None, "not-the-workspace-key"])
async def test_serve_screen_attaches_to_a_server_by_url(tmp_path, server_key):
    ws = open_workspace(tmp_path / "ws", sample=False)
    with DemoServer(model="pot-demo", api_key=server_key) as server:
        app = MathbenchApp(ws, start="serve")
        async with app.run_test(size=(160, 48)) as pilot:
            screen = app.screen
            screen.follow_server(url=server.base_url)
            await _probed(screen, pilot)
            assert screen.view.health == "ready"
            if server_key is None:
                assert screen.view.models == ("pot-demo",)
                await pilot.press("e")
                assert app.endpoint_url == server.base_url
            else:  # the server wants a key the workspace does not have: said, not hidden
                assert screen.view.models == ()
                assert "API key" in shown_text(screen.query_one("#serve-stats"))
