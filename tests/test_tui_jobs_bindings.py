"""Every binding of the data/train/serve/jobs/gpu screens and their forms has an id and a description, no Esc chord."""

from __future__ import annotations

import pytest
from textual.binding import Binding

from mathbench.core.workspace import open_workspace
from mathbench.tui.app import MathbenchApp
from mathbench.tui.widgets.data_item_list import ItemList
from mathbench.tui.widgets.data_synth_form import SynthFormScreen
from mathbench.tui.widgets.jobs_confirm import ConfirmScreen
from mathbench.tui.widgets.jobs_path_prompt import PromptScreen
from mathbench.tui.widgets.serve_launch import ServeLaunchScreen
from mathbench.tui.widgets.train_launch import TrainLaunchScreen

SCREENS = ("dataset", "compose", "synth", "train", "serve", "jobs", "gpu")
APP_KEYS = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "j", "g", "question_mark", "colon"}


def _check(owner: str, bindings) -> None:
    for binding in bindings:
        assert isinstance(binding, Binding)
        assert binding.id, f"{owner}: {binding.key} has no id"
        assert binding.description, f"{binding.id} has no description"
        for key in binding.key.split(","):
            # A bare Esc is one key (it leaves inputs and dialogs); Esc-prefixed chords are what tmux delays.
            assert not key.startswith(("alt+", "meta+", "escape+")), f"{binding.id}: {key} is an Esc chord"


@pytest.mark.parametrize("name", SCREENS)
async def test_screen_bindings_are_described_and_leave_the_screen_keys_alone(tmp_path, name):
    app = MathbenchApp(open_workspace(tmp_path / "ws"), start=name)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert type(screen).__name__ != "PlaceholderScreen"
        _check(type(screen).__name__, type(screen).BINDINGS)
        keys = {key for binding in type(screen).BINDINGS for key in binding.key.split(",")}
        assert not keys & APP_KEYS, f"{name} shadows the app's screen keys: {keys & APP_KEYS}"


def test_widget_and_form_bindings_are_described():
    for cls in (ItemList, ConfirmScreen, PromptScreen, TrainLaunchScreen, ServeLaunchScreen, SynthFormScreen):
        _check(cls.__name__, cls.BINDINGS)
    item_keys = {key for binding in ItemList.BINDINGS for key in binding.key.split(",")}
    assert not item_keys & APP_KEYS
