"""Stand-in for a registry screen whose module is not there (yet) or failed to import."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.widgets import Static

from mathbench.tui.registry import ScreenSpec
from mathbench.tui.widgets.common import WorkbenchScreen


class PlaceholderScreen(WorkbenchScreen):
    """Says which screen this would be and why it is empty."""

    def __init__(self, spec: ScreenSpec, reason: str) -> None:
        super().__init__()
        self.spec = spec
        self.reason = reason
        self.TITLE = spec.title

    def compose_body(self) -> ComposeResult:
        with Middle(id="placeholder"):
            with Center():
                yield Static(
                    f"[b]{self.spec.title}[/b] — {self.spec.description}\n\n{self.reason}\n\n"
                    f"[dim]({self.spec.target})  Press 1 for Home, ? for help.[/dim]",
                    id="placeholder-text",
                )
