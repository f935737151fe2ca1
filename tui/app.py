"""The workbench App: holds the workspace, switches between screens by single keys and the palette."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from mathbench.tui.registry import SCREENS, ScreenSpec

if TYPE_CHECKING:
    from mathbench.core.workspace import Workspace


def _screens_provider():
    """The palette's screen commands (textual.command is imported when the palette first opens)."""
    from mathbench.tui.commands import ScreensProvider

    return ScreensProvider


def _actions_provider():
    """The palette's commands for the current screen's actions."""
    from mathbench.tui.commands import ActionsProvider

    return ActionsProvider


def _screen_bindings() -> list[Binding]:
    """One binding per registry screen: its single key shows that screen."""
    return [
        Binding(spec.key, f"app.show('{spec.name}')", spec.title, show=False, id=f"screen.{spec.name}",
                tooltip=spec.description, group=None)
        for spec in SCREENS
    ]


class MathbenchApp(App):
    """mathbench's workbench: one mode per registry screen, each screen imported when first shown."""

    TITLE = "mathbench"
    CSS_PATH = "styles/app.tcss"
    COMMANDS = App.COMMANDS | {_screens_provider, _actions_provider}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", id="app.help", tooltip="Show every key of this screen"),
        Binding("colon,ctrl+p", "command_palette", "Commands", id="app.palette",
                tooltip="Search screens and actions", show=True),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True, show=False),
        *_screen_bindings(),
    ]

    def __init__(self, workspace: "Workspace", *, start: str = "home", run_dir: Path | None = None) -> None:
        # The first screen is the start screen itself, not Textual's blank default screen switched away from.
        self.DEFAULT_MODE = start
        super().__init__()
        self.workspace = workspace
        self.current_run: Path | None = Path(run_dir).resolve() if run_dir else None
        """The run the results, adjudication and report screens show."""
        self.compare_run: Path | None = None
        """A second run the report screen compares against."""
        self.follow_request: Path | None = None
        """A run the eval screen should follow the next time it shows."""
        self.start_screen = start
        self.sub_title = str(workspace.root)
        for spec in SCREENS:
            self.add_mode(spec.name, self._factory(spec))
        if self.current_run is None:
            runs = self.newest_runs()
            self.current_run = runs[0] if runs else None
            self.compare_run = runs[1] if len(runs) > 1 else None

    @staticmethod
    def _factory(spec: ScreenSpec) -> Callable[[], Screen]:
        """A callable that imports the screen's module only when the screen is first shown."""

        def make() -> Screen:
            module_name, _, class_name = spec.target.partition(":")
            try:
                module = importlib.import_module(module_name)
                screen_class = getattr(module, class_name)
            except ModuleNotFoundError as exc:
                if exc.name and module_name.startswith(exc.name):
                    from mathbench.tui.screens.placeholder import PlaceholderScreen

                    return PlaceholderScreen(spec, "This screen is not built yet.")
                raise
            except (ImportError, AttributeError) as exc:
                # A half-built screen module must not take the whole workbench down.
                from mathbench.tui.screens.placeholder import PlaceholderScreen

                return PlaceholderScreen(spec, f"This screen failed to load: {exc}")
            return screen_class()

        return make

    def on_mount(self) -> None:
        self.load_keymap()

    def load_keymap(self) -> None:
        """Apply `.mathbench/keymap.json` ({binding id: "key,other key"}) from the workspace, if present."""
        import json

        path = self.workspace.state_dir / "keymap.json"
        if not path.is_file():
            return
        try:
            keymap = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            self.notify(f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}; keymap ignored", severity="error", timeout=10)
            return
        except OSError as exc:
            self.notify(f"{path}: {exc}; keymap ignored", severity="error", timeout=10)
            return
        if not isinstance(keymap, dict) or not all(isinstance(v, str) for v in keymap.values()):
            self.notify(f"{path}:1: expected an object of binding id to keys; keymap ignored", severity="error")
            return
        self.set_keymap(keymap)

    def newest_runs(self) -> list[Path]:
        """The workspace's run directories, newest first by the time their manifest records."""
        from mathbench.core.evaluation.listing import find_runs

        return [run.path.resolve() for run in find_runs(self.workspace.root)]

    def spec_for(self, name: str) -> ScreenSpec | None:
        """The registry entry called *name*."""
        return next((spec for spec in SCREENS if spec.name == name), None)

    def action_show(self, name: str) -> None:
        """Show the screen *name* from the registry."""
        if self.current_mode == name:
            # Close any item views opened above this screen's own view.
            while len(self.screen_stack) > 1:
                self.pop_screen()
            return
        self.switch_mode(name)

    def action_help(self) -> None:
        """Open the help screen built from the bindings active on the current screen."""
        from mathbench.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen))

    def select_run(self, run_dir: Path | None, *, compare: Path | None = None) -> None:
        """Make *run_dir* the run the results, adjudication and report screens show."""
        self.current_run = Path(run_dir).resolve() if run_dir else None
        if compare is not None:
            self.compare_run = Path(compare).resolve()
        if self.compare_run == self.current_run:
            self.compare_run = None

    def open_run(self, run_dir: Path, screen: str) -> None:
        """Select *run_dir* and show *screen* with it."""
        self.select_run(run_dir)
        self.action_show(screen)
