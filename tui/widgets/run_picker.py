"""A modal list of the workspace's runs; dismisses with the chosen run's path."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from mathbench.tui.widgets.common import pct


class RunPicker(ModalScreen[Path | None]):
    """Choose one run of the workspace, or type any run directory's path."""

    CSS_PATH = "../styles/run_picker.tcss"

    BINDINGS = [Binding("escape,ctrl+g", "cancel", "Cancel", id="picker.cancel")]

    class RunsListed(Message):
        """The workspace's runs were read (each with how many uncertain items it has left to adjudicate)."""

        def __init__(self, infos: list) -> None:
            super().__init__()
            self.infos = infos

    def __init__(self, title: str = "Open run", current: Path | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(f"[b]{self.title_text}[/b]  [dim]enter opens · esc cancels[/dim]")
            yield OptionList(id="picker-list")
            yield Input(placeholder="…or a run directory path, then enter", id="picker-path")

    def on_mount(self) -> None:
        self.query_one(OptionList).loading = True
        self.query_one(OptionList).focus()
        self.list_runs()

    @work(thread=True, exclusive=True, group="picker", exit_on_error=False)
    def list_runs(self) -> None:
        from mathbench.core.evaluation.listing import list_runs

        self.post_message(self.RunsListed(list_runs(self.app.workspace.root)))

    @on(RunsListed)
    def show_runs(self, message: RunsListed) -> None:
        options = self.query_one(OptionList)
        options.loading = False
        highlight = None
        for i, info in enumerate(message.infos):
            left = None if info.error else info.pending
            label = Text.assemble(
                (f"{info.name}", "bold"),
                (f"  {info.benchmark or '?'} · {info.model or '?'} · {info.total} items · {pct(info.accuracy)}", "dim"),
                (f" · {left} uncertain left" if left else " · nothing to adjudicate" if left == 0 else "",
                 "yellow" if left else "dim"),
                (" · running" if info.running else "", "bold yellow"),
            )
            options.add_option(Option(label, id=str(info.path)))
            if self.current and Path(info.path) == Path(self.current):
                highlight = i
        if not message.infos:
            options.add_option(Option(Text("no runs in this workspace yet", style="dim"), disabled=True))
        if highlight is not None:
            options.highlighted = highlight

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(Path(event.option.id))

    @on(Input.Submitted, "#picker-path")
    def typed(self, event: Input.Submitted) -> None:
        path = Path(event.value).expanduser()
        if not ((path / "results.jsonl").is_file() or (path / "manifest.json").is_file()):
            self.notify(f"{path}: not a run directory", severity="error")
            return
        self.dismiss(path.resolve())

    def action_cancel(self) -> None:
        self.dismiss(None)
