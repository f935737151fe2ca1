"""Pilot test of the compose screen against the loopback demo server: solve, edit, save an item."""

from __future__ import annotations

import json

from textual.widgets import Input, TextArea

from mathbench.core.demo.server import DemoServer
from mathbench.core.workspace import open_workspace
from tests.support.tui_more_text import shown_text
from mathbench.tui.app import MathbenchApp


async def test_compose_solves_with_the_demo_server_and_saves_an_item(tmp_path):
    ws = open_workspace(tmp_path / "ws", sample=False)
    with DemoServer() as server:
        app = MathbenchApp(ws, start="compose")
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            screen = app.screen
            screen.query_one("#compose-url", Input).value = server.base_url
            screen.query_one("#compose-problem", TextArea).load_text("一个盒子里有3排鸡蛋，每排4个，一共有多少个鸡蛋？")
            await pilot.press("ctrl+r")
            await app.workers.wait_for_complete()
            await pilot.pause()
            parts = screen.parts
            assert parts.code and "print" in parts.code
            assert parts.output  # the tool really ran the code
            assert parts.output.strip() in parts.final  # the demo model boxes whatever output it was shown
            screen.query_one("#compose-final", TextArea).load_text("因此，一共有\\boxed{12}个鸡蛋。")
            await pilot.press("ctrl+s")
            await app.workers.wait_for_complete()
            await pilot.pause()
    saved = json.loads((ws.datasets_dir / "composed.json").read_text(encoding="utf-8"))
    assert len(saved) == 1
    turns = saved[0]["conversations"]
    assert [t["from"] for t in turns] == ["human", "gpt", "human", "gpt"]
    assert "鸡蛋" in turns[0]["value"]
    assert "```python" in turns[1]["value"]
    assert parts.output.strip() in turns[2]["value"]
    assert turns[3]["value"] == "因此，一共有\\boxed{12}个鸡蛋。"


async def test_compose_says_what_is_missing(tmp_path):
    ws = open_workspace(tmp_path / "ws", sample=False)
    app = MathbenchApp(ws, start="compose")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        assert app.focused is app.screen.query_one("#compose-problem")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert "problem" in shown_text(app.screen.query_one("#compose-status")).lower()
