"""The workbench shell: single keys, lazy screens, help built from bindings, palette, light start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mathbench.core.workspace import open_workspace
from tests.support.tui_runs import screen_text, wait_until
from mathbench.tui.app import MathbenchApp
from mathbench.tui.registry import SCREENS

MY_SCREENS = {"home": "HomeScreen", "eval": "EvalScreen", "results": "ResultsScreen",
              "adjudicate": "AdjudicateScreen", "report": "ReportScreen"}


@pytest.fixture
def workspace(tmp_path):
    return open_workspace(tmp_path / "ws")


async def test_opens_on_home_with_newest_run_selected(workspace):
    app = MathbenchApp(workspace)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: "demo-pot-v2" in screen_text(app))
        assert type(app.screen).__name__ == "HomeScreen"
        assert app.current_run.name == "demo-pot-v2"
        assert app.compare_run.name == "demo-pot-v1"


async def test_every_registry_key_shows_its_screen(workspace):
    from mathbench.tui.screens.placeholder import PlaceholderScreen

    app = MathbenchApp(workspace)
    for spec in SCREENS:
        if spec.name not in MY_SCREENS:
            # Other parts of the project test their own screens; here only the key routing counts.
            app._modes[spec.name] = lambda spec=spec: PlaceholderScreen(spec, "stand-in")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        for spec in SCREENS:
            app.set_focus(None)
            await pilot.press(spec.key)
            await pilot.pause()
            assert app.current_mode == spec.name
            expected = MY_SCREENS.get(spec.name, "PlaceholderScreen")
            assert type(app.screen).__name__ == expected


async def test_missing_screen_module_shows_placeholder(workspace, monkeypatch):
    from mathbench.tui import registry
    from mathbench.tui.registry import ScreenSpec

    ghost = ScreenSpec("ghost", "z", "Ghost", "mathbench.tui.screens.no_such_screen:GhostScreen", "not built")
    monkeypatch.setattr(registry, "SCREENS", (*registry.SCREENS, ghost))
    app = MathbenchApp(workspace)
    app.add_mode("ghost", app._factory(ghost))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.action_show("ghost")
        await pilot.pause()
        assert type(app.screen).__name__ == "PlaceholderScreen"
        assert "not built yet" in screen_text(app)


async def test_help_lists_the_screens_bindings_with_ids(workspace):
    app = MathbenchApp(workspace, start="adjudicate")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        text = screen_text(app)
        for binding_id in ("adjudicate.correct", "adjudicate.wrong", "adjudicate.skip", "adjudicate.undo",
                           "adjudicate.note", "app.help", "screen.report"):
            assert binding_id in text
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "AdjudicateScreen"


async def test_palette_offers_every_screen_and_the_screens_actions(workspace):
    from mathbench.tui.commands import ActionsProvider, ScreensProvider

    app = MathbenchApp(workspace, start="results")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        screens = [hit.text async for hit in ScreensProvider(app.screen).discover()]
        assert screens == [f"screen: {spec.title}" for spec in SCREENS]
        actions = [hit.text async for hit in ActionsProvider(app.screen).discover()]
        assert "results: verdict" in actions and "results: sort" in actions
        assert not any("scroll" in title for title in actions)
        hits = [hit async for hit in ScreensProvider(app.screen).search("adjud")]
        assert hits and hits[0].text == "screen: Adjudicate"
        app.call_later(hits[0].command)
        await pilot.pause()
        assert app.current_mode == "adjudicate"


async def test_bindings_have_ids_descriptions_and_no_escape_chords(workspace):
    app = MathbenchApp(workspace)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        nodes = [app]
        for name in MY_SCREENS:
            app.action_show(name)
            await pilot.pause()
            nodes.append(app.screen)
        from textual.binding import Binding

        for node in nodes:
            for binding in type(node).BINDINGS:  # the workbench's own, not Textual's focus keys
                assert isinstance(binding, Binding)
                assert binding.id, f"{type(node).__name__}: {binding.key} has no id"
                assert binding.description, f"{binding.id} has no description"
                for key in binding.key.split(","):
                    assert not key.startswith(("alt+", "escape+", "meta+")), f"{binding.id}: {key} is an Esc chord"


def test_startup_imports_no_heavy_library(repo_root, tmp_path):
    code = (
        "import sys, asyncio\n"
        "from mathbench.core.workspace import open_workspace\n"
        "from mathbench.tui.app import MathbenchApp\n"
        f"app = MathbenchApp(open_workspace({str(tmp_path / 'ws')!r}))\n"
        "async def main():\n"
        "    async with app.run_test(size=(120, 40)) as pilot:\n"
        "        await pilot.pause()\n"
        "asyncio.run(main())\n"
        "heavy = ('pandas', 'plotext', 'sympy', 'openai', 'math_verify', 'pygments')\n"
        "print(','.join(sorted({k.split('.')[0] for k in sys.modules if k.split('.')[0] in heavy})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1:] in ([], [""]), f"start-up imported: {out.stdout.strip()}"


def test_adjudicate_command_refuses_a_folder_that_is_no_run(tmp_path):
    from mathbench.tui.cli import main

    (tmp_path / "empty").mkdir()
    assert main(["adjudicate", str(tmp_path / "empty")]) == 2


async def test_workspace_keymap_rebinds_by_id(tmp_path):
    workspace = open_workspace(tmp_path / "ws")  # its own: other tests here adjudicate in the shared one
    (workspace.state_dir / "keymap.json").write_text('{"adjudicate.correct": "k"}', encoding="utf-8")
    app = MathbenchApp(workspace, start="adjudicate")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.state is not None)
        await wait_until(pilot, lambda: app._keymap.get("adjudicate.correct") == "k")  # read by a worker
        await pilot.press("k")
        await wait_until(pilot, lambda: screen.state.reviewed == 1)
        assert (app.current_run / "adjudications.jsonl").read_text().count('"correct"') == 1


async def test_bad_keymap_is_reported_with_its_place(workspace):
    (workspace.state_dir / "keymap.json").write_text('{"adjudicate.correct": }', encoding="utf-8")
    app = MathbenchApp(workspace)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: any("keymap.json:1:" in str(n.message) for n in app._notifications))


async def test_empty_workspace_every_screen_says_what_to_do(tmp_path):
    app = MathbenchApp(open_workspace(tmp_path / "empty", sample=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        expected = {"3": "No run yet", "4": "No run to adjudicate", "5": "No run to report", "2": "Not following"}
        for key, text in expected.items():
            await pilot.press(key)
            await wait_until(pilot, lambda: text in screen_text(app))
        await pilot.press("1")
        await pilot.pause()
        assert app.current_run is None and type(app.screen).__name__ == "HomeScreen"
