"""Pieces every workbench screen shares: the screen frame, verdict colours, number formats."""

from __future__ import annotations

import math
from pathlib import Path

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header
from textual.widgets._footer import FooterKey

VERDICT_STYLES = {
    "correct": "green",
    "wrong": "red",
    "uncertain": "yellow",
    "error": "magenta",
}
"""Rich style of each verdict wherever a verdict is shown."""

VERDICT_MARKS = {"correct": "✓", "wrong": "✗", "uncertain": "?", "error": "!"}


class WorkbenchFooter(Footer):
    """The footer of the keys in force, leaving out the last ones that do not fit its width (`?` lists them all);
    drawn again only when what it would show changes."""

    KEEP = ("help",)
    """Actions shown whatever the width."""

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._shown: tuple | None = None

    @staticmethod
    def _width(key_display: str, description: str) -> int:
        return cell_len(key_display) + (cell_len(description) + 1 if description else 0) + 1

    def _wanted(self, screen: Screen) -> tuple:
        """What the footer would show now: the width and each shown binding's key, label, action and state."""
        keys = tuple(
            (binding.key, self.app.get_key_display(binding), binding.description, binding.action, enabled)
            for (_, binding, enabled, _) in screen.active_bindings.values() if binding.show
        )
        return (self.size.width or self.app.size.width, keys)

    def bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen and self._bindings_ready and self._wanted(screen) == self._shown:
            return  # the same keys again (focus moved within the screen): no need to build the footer anew
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._shown = self._wanted(self.screen)
        widgets = list(super().compose())
        if any(not isinstance(w, FooterKey) for w in widgets):
            yield from widgets  # grouped keys: shown as Textual lays them out
            return
        palette = [w for w in widgets if w.has_class("-command-palette")]
        keys = [w for w in widgets if not w.has_class("-command-palette")]
        budget = (self.size.width or self.app.size.width) - sum(self._width(w.key_display, w.description) + 1
                                                               for w in palette)
        budget -= sum(self._width(w.key_display, w.description) for w in keys if w.action in self.KEEP)
        shown = []
        for key in keys:
            width = self._width(key.key_display, key.description)
            if key.action in self.KEEP:
                shown.append(key)
            elif width <= budget:
                shown.append(key)
                budget -= width
            else:
                budget = -1  # keep the order: once one key is left out, so are the ones after it
        self.styles.grid_size_columns = len(shown) + len(palette)
        yield from shown
        yield from palette

    def on_resize(self) -> None:
        if self._bindings_ready and self._wanted(self.screen) != self._shown:
            self.call_after_refresh(self.recompose)


class WorkbenchScreen(Screen):
    """A top-level workbench screen: header, the screen's body, footer of its keys."""

    TITLE = "mathbench"
    AUTO_FOCUS = ""
    """Nothing takes focus by itself: single keys reach the screen until the user moves into a box."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield from self.compose_body()
        yield WorkbenchFooter()

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets, between header and footer."""
        return iter(())

    def unsaved_work(self) -> str | None:
        """What quitting now would lose on this screen (None: nothing)."""
        return None

    @property
    def workspace(self):
        """The app's workspace (core.workspace.Workspace)."""
        return self.app.workspace


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage string; an em dash when unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{100 * value:.{digits}f}%"


def short_path(path: Path | None, root: Path | None = None) -> str:
    """*path* relative to *root* when inside it, else as is."""
    if path is None:
        return "—"
    if root is not None:
        try:
            return str(Path(path).relative_to(root))
        except ValueError:
            pass
    return str(path)


def duration(seconds: float | None) -> str:
    """Seconds as h:mm:ss or m:ss."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "—"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def one_line(text: object, limit: int | None = None) -> str:
    """*text* with its whitespace folded to single spaces, cut to *limit* characters."""
    flat = " ".join(str(text or "").split())
    if limit is not None and len(flat) > limit:
        return flat[: max(0, limit - 1)] + "…"
    return flat
