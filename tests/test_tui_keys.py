"""Keys never trap: no screen puts the cursor in a text box by itself, Esc leaves one, q quits (asking only when
something would be lost), and the footer fits 80 columns with Help and the palette on it."""

from __future__ import annotations

import pytest
from textual.widgets import Input, TextArea

from mathbench.core.workspace import open_workspace
from mathbench.tui.app import MathbenchApp
from mathbench.tui.registry import SCREENS
from tests.support.tui_runs import screen_lines, wait_until


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return open_workspace(tmp_path_factory.mktemp("keys") / "ws")


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("spec", SCREENS, ids=[s.name for s in SCREENS])
async def test_every_screen_leaves_single_keys_to_the_screen_and_its_footer_fits(workspace, spec, size):
    app = MathbenchApp(workspace, start=spec.name)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.5)
        assert not isinstance(app.focused, (Input, TextArea)), f"{spec.name} opened in {app.focused}"
        footer = screen_lines(app)[-1].rstrip()
        assert "? Help" in footer and footer.endswith("^p Commands"), footer
        other = next(s for s in SCREENS if s.name != spec.name)
        await pilot.press(other.key)
        await wait_until(pilot, lambda: app.current_mode == other.name)


async def test_esc_leaves_a_text_box_and_the_screen_keys_work_again(workspace):
    app = MathbenchApp(workspace, start="eval")
    async with app.run_test(size=(160, 48)) as pilot:
        model = app.screen.query_one("#eval-model", Input)
        model.focus()
        await pilot.press("3")
        assert model.value.endswith("3") and app.current_mode == "eval"  # typed into the box
        await pilot.press("escape")
        assert app.focused is None
        await pilot.press("3")
        await wait_until(pilot, lambda: app.current_mode == "results")


async def test_a_narrow_form_closes_when_esc_leaves_it(workspace):
    app = MathbenchApp(workspace, start="eval")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await pilot.press("n")
        assert screen.has_class("-form-open") and isinstance(app.focused, Input)
        await pilot.press("escape")
        await pilot.pause()
        assert not screen.has_class("-form-open") and app.focused is None
        assert screen.query_one("#eval-live").display


async def test_q_quits_at_once_when_nothing_would_be_lost(workspace):
    app = MathbenchApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0


async def test_q_asks_first_when_a_composed_item_is_not_saved(workspace):
    app = MathbenchApp(workspace, start="compose")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p", *"2+2?", "escape")
        await pilot.press("q")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmScreen" and app.return_code is None
        assert "composed item" in str(app.screen.question)
        await pilot.press("n")
        await pilot.pause()
        assert type(app.screen).__name__ == "ComposeScreen" and app.return_code is None
        await pilot.press("q", "y")
        await pilot.pause()
        assert app.return_code == 0
