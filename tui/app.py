"""The workbench App: holds the workspace, switches between screens by single keys and the palette."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.markup import escape
from textual.notifications import SeverityLevel
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


def _run_slot(which: str, doc: str) -> property:
    """A property for one of the app's chosen runs; the workspace's runs are listed only when first read."""
    return property(lambda app: app._run(which), lambda app, path: app._runs.__setitem__(which, path), doc=doc)


class MathbenchApp(App):
    """mathbench's workbench: one mode per registry screen, each screen imported when first shown."""

    TITLE = "mathbench"
    CSS_PATH = "styles/app.tcss"
    COMMANDS = App.COMMANDS | {_screens_provider, _actions_provider}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", id="app.help", tooltip="Show every key of this screen"),
        # The footer shows the palette's own "^p Commands" at its right end; this adds ':' without a second entry.
        Binding("colon,ctrl+p", "command_palette", "Commands", id="app.palette",
                tooltip="Search screens and actions", show=False),
        Binding("q", "quit_workbench", "Quit", id="app.quit", show=False,
                tooltip="Quit (asks first only when something unsaved would be lost)"),
        Binding("ctrl+q", "quit_workbench", "Quit", id="app.quit-now", priority=True, show=False,
                tooltip="Quit from anywhere, even a text box"),
        Binding("escape", "leave_input", "Leave input", id="app.leave-input", show=False,
                tooltip="Leave the text box: the screen's keys work again"),
        *_screen_bindings(),
    ]

    def __init__(self, workspace: "Workspace", *, start: str = "home", run_dir: Path | None = None) -> None:
        # The first screen is the start screen itself, not Textual's blank default screen switched away from.
        self.DEFAULT_MODE = start
        super().__init__()
        self.workspace = workspace
        self._runs: dict[str, Path | None] = {"current": Path(run_dir).resolve(), "compare": None} if run_dir else {}
        """The current and compare runs once known; until asked for, the workspace's runs are not listed."""
        self.follow_request: Path | None = None
        """A run the eval screen should follow the next time it shows."""
        self.start_screen = start
        self._preloaded: dict[Path, object] = {}
        """Futures of runs read ahead for the results screen, by path."""
        self.sub_title = str(workspace.root)
        for spec in SCREENS:
            self.add_mode(spec.name, self._factory(spec))

    def _run(self, which: str) -> Path | None:
        if which not in self._runs:
            # Listing the runs reads every manifest: done when first needed, not before the first frame.
            runs = self.newest_runs()
            self._runs.setdefault("current", runs[0] if runs else None)
            self._runs.setdefault("compare", runs[1] if len(runs) > 1 else None)
        return self._runs[which]

    current_run = _run_slot("current", "The run the results, adjudication and report screens show (the newest, "
                                       "until one is chosen).")
    compare_run = _run_slot("compare", "A second run the report screen compares against (the second newest, until "
                                       "one is chosen).")

    def _factory(self, spec: ScreenSpec) -> Callable[[], Screen]:
        """A callable that imports the screen's module only when the screen is first shown."""

        def make() -> Screen:
            screen = build()
            # A new screen is styled as it mounts, with the CSS of this moment. Marked current, Textual
            # (8.2.8) skips the two full restyles of every screen it would otherwise do on a first visit.
            screen._css_update_count = self._css_update_count
            return screen

        def build() -> Screen:
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

    def on_ready(self) -> None:
        # After the first frame: read the current run for the results screen while the user looks around,
        # and build that screen (hidden) so that `3` only has to show it.
        # A moment later, not at once: the first frame's callbacks and the user's first keys come first.
        self.set_timer(0.1, self._warm_up)

    def _warm_up(self) -> None:
        if not self.is_running:
            return  # quitting: a new mode's stack would change the stacks Textual is closing
        self.preload_run()
        if "results" not in self._screen_stacks and self.current_mode != "results":
            self._init_mode("results")  # Textual 8.2.8: builds a mode's screen without switching to it

    PRELOAD_LIMIT = 64 << 20
    """Runs whose results.jsonl is larger than this are read only when shown."""

    def preload_run(self) -> None:
        """Start reading the current run's rows in a thread, for the results screen to take when it shows."""
        import concurrent.futures

        path = self.current_run
        if path is None or path in self._preloaded or self.current_mode == "results":
            return
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._preloaded[path] = future
        self._preload(path, future)

    @work(thread=True, group="preload", exit_on_error=False)
    def _preload(self, path: Path, future) -> None:
        try:
            if (path / "results.jsonl").stat().st_size > self.PRELOAD_LIMIT:
                future.set_result(None)
                return
            from mathbench.tui.screens.results import read_rows

            future.set_result(read_rows(path))
        except Exception as exc:  # noqa: BLE001 - the results screen reads the run itself and says what failed
            future.set_exception(exc)

    def take_preloaded(self, path: Path):
        """The rows read ahead for *path* (waiting for them when still being read), or None; called from a worker."""
        future = self._preloaded.pop(Path(path), None)
        if future is None:
            return None
        try:
            return future.result()
        except Exception:  # noqa: BLE001 - read again by the caller
            return None

    @work(thread=True, exclusive=True, group="keymap", exit_on_error=False)
    def load_keymap(self) -> None:
        """Apply `.mathbench/keymap.json` ({binding id: "key,other key"}) from the workspace, if present."""
        import json

        path = self.workspace.state_dir / "keymap.json"
        if not path.is_file():
            return
        try:
            keymap = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            self.call_from_thread(self.notify, f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}; keymap ignored",
                                  severity="error", timeout=10)
            return
        except OSError as exc:
            self.call_from_thread(self.notify, f"{path}: {exc}; keymap ignored", severity="error", timeout=10)
            return
        if not isinstance(keymap, dict) or not all(isinstance(v, str) for v in keymap.values()):
            self.call_from_thread(self.notify, f"{path}:1: expected an object of binding id to keys; keymap ignored",
                                  severity="error")
            return
        self.call_from_thread(self.set_keymap, keymap)

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

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """A toast whose title leads its one line (app.tcss puts it over the header) instead of standing above it."""
        if title:
            message = f"[b]{escape(title)}:[/b] {message}" if markup else f"{title}: {message}"
        super().notify(message, severity=severity, timeout=timeout, markup=markup)

    def action_leave_input(self) -> None:
        """Take focus out of a text box so that single keys reach the screen again; in a dialog with
        nothing typed into, close it."""
        from textual.screen import ModalScreen
        from textual.widgets import Input, Select, TextArea

        if isinstance(self.focused, (Input, TextArea, Select)):
            self.screen.set_focus(None)
        elif isinstance(self.screen, ModalScreen) and hasattr(self.screen, "action_cancel"):
            self.screen.action_cancel()

    def unsaved_work(self) -> list[str]:
        """What quitting now would lose, one line per screen that holds unsaved work."""
        lost = []
        for screen in self._installed_and_mode_screens():
            describe = getattr(screen, "unsaved_work", None)
            what = describe() if callable(describe) else None
            if what:
                lost.append(what)
        return lost

    def _installed_and_mode_screens(self) -> list[Screen]:
        screens: list[Screen] = []
        for stack in self._screen_stacks.values():
            screens.extend(s for s in stack if s not in screens)
        return screens

    def action_quit_workbench(self) -> None:
        """Quit; detached jobs keep running. Asks first only when unsaved work would be lost."""
        lost = self.unsaved_work()
        if not lost:
            self.exit()
            return
        from mathbench.tui.widgets.confirm import ConfirmScreen

        if isinstance(self.screen, ConfirmScreen):
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmScreen("Quit and lose " + "; ".join(lost) + "?", yes="Quit"), answered)

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
