"""Help: every key active on the screen beneath, read from the bindings themselves."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from mathbench.tui.registry import SCREENS


def binding_rows(screen: Screen) -> list[tuple[str, str, str, str, str]]:
    """(group, keys, description, tooltip, id) for the workbench's bindings active on *screen*: screen, widget, global, screens."""
    app = screen.app
    groups: dict[str, list[tuple[str, str, str, str, str]]] = {}
    seen: set[tuple[int, str]] = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        # Only the workbench's own bindings carry ids; Textual's scrolling and focus keys stay out.
        if not binding.id or binding.id.startswith("screen."):
            continue
        key = (id(active.node), binding.action)
        if key in seen:
            continue
        seen.add(key)
        keys = [app.get_key_display(b) for b in _bindings_of(active.node) if b.action == binding.action]
        if active.node is app:
            group = "Global"
        elif active.node is screen:
            group = getattr(screen, "TITLE", None) or type(screen).__name__
        else:
            group = f"{type(active.node).__name__} (focused)"
        groups.setdefault(group, []).append(
            (group, " ".join(dict.fromkeys(keys or [app.get_key_display(binding)])),
             binding.description or binding.action, binding.tooltip, binding.id)
        )
    screen_title = getattr(screen, "TITLE", None) or type(screen).__name__
    order = sorted(groups, key=lambda g: (g != screen_title, g == "Global", g))
    rows = [row for group in order for row in groups[group]]
    for spec in SCREENS:
        rows.append(("Screens", spec.key, spec.title, spec.description, f"screen.{spec.name}"))
    return rows


def _bindings_of(node) -> list[Binding]:
    return [binding for _, binding in node._bindings]


class HelpScreen(ModalScreen):
    """Lists the keys of the screen it was opened over, grouped by where they are bound."""

    BINDINGS = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, base: Screen) -> None:
        super().__init__()
        self.base = base

    def compose(self) -> ComposeResult:
        table = Table(expand=True, box=None, pad_edge=False, show_edge=False)
        table.add_column("keys", style="bold cyan", no_wrap=True)
        table.add_column("action", style="bold", no_wrap=True)
        table.add_column("what it does", ratio=1)
        narrow = self.app.size.width < 100
        if not narrow:
            table.add_column("id", style="dim", no_wrap=True)
        last_group = None
        for group, keys, description, tooltip, binding_id in binding_rows(self.base):
            if group != last_group:
                if last_group is not None:
                    table.add_row()
                table.add_row(Text(group, style="bold underline"))
                last_group = group
            table.add_row(keys, description, tooltip, *([] if narrow else [binding_id]))
        with VerticalScroll(id="help-body"):
            yield Static("[b]Keys[/b]  [dim](esc/q/? closes · the palette, ':' or ctrl+p, searches them too)[/dim]")
            yield Static(table, id="help-table")

    def action_dismiss(self) -> None:
        self.dismiss()
