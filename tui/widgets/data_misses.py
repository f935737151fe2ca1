"""Failures back into data, from a screen: a run's wrong, flipped or uncertain problems written as a pairs
file (core.datasets.from_run), then the Synth screen opened on it. Results and Report share this modal."""

from __future__ import annotations

import time
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static


class PairsWritten(Message):
    """The missed problems were written to *path* (or could not be: *error*)."""

    def __init__(self, path: Path | None, count: int, error: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.count = count
        self.error = error


class MissesScreen(ModalScreen[Path | None]):
    """Asks which misses (w, f, u), writes them under the workspace's datasets/pairs/, then opens Synth on them."""

    DEFAULT_CSS = """
    MissesScreen { align: center middle; }
    MissesScreen > Vertical { width: 72; max-width: 95%; height: auto; border: thick $accent; background: $surface;
                              padding: 1 2; }
    """
    BINDINGS = [
        Binding("w", "write('wrong')", "Wrong", id="misses.wrong", tooltip="The problems the run got wrong"),
        Binding("f", "write('flipped')", "Flipped", id="misses.flipped",
                tooltip="Right in the compared run, not in this one"),
        Binding("u", "write('uncertain')", "Uncertain", id="misses.uncertain", tooltip="Still uncertain"),
        Binding("escape,q", "cancel", "Cancel", id="misses.cancel"),
    ]

    def __init__(self, run_dir: Path, compare: Path | None = None) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.compare = Path(compare) if compare else None
        self.busy = False

    def compose(self) -> ComposeResult:
        against = f" (flipped: against {self.compare.name})" if self.compare else ""
        with Vertical():
            yield Static(f"Write the missed problems of [b]{self.run_dir.name}[/b] with their gold answers as a pairs "
                         f"file, then open Synth on it (scheme 3: a teacher solves them, kept when the executed "
                         f"answer is right).\n\n[b]w[/b] wrong · [b]f[/b] flipped{against} · [b]u[/b] uncertain · "
                         "[b]esc[/b] cancel", id="misses-text")

    def action_write(self, which: str) -> None:
        if self.busy:
            return
        self.busy = True
        self.query_one("#misses-text", Static).update(f"writing the {which} problems …")
        self.write_pairs(which)

    @work(thread=True, exclusive=True, group="misses", exit_on_error=False)
    def write_pairs(self, which: str) -> None:
        from mathbench.core.datasets.from_run import FromRunError, missed_problems, write_pairs
        from mathbench.core.evaluation.layout import RunError

        workspace = self.app.workspace
        out = workspace.datasets_dir / "pairs" / f"{self.run_dir.name}-{which}-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
        try:
            rows = missed_problems(self.run_dir, which, compare=self.compare, workspace=workspace)
            if rows:
                write_pairs(rows, out)
        except (FromRunError, RunError, OSError) as exc:
            self.post_message(PairsWritten(None, 0, str(exc)))
            return
        self.post_message(PairsWritten(out if rows else None, len(rows)))

    def on_pairs_written(self, message: PairsWritten) -> None:
        self.busy = False
        if message.error or message.path is None:
            self.query_one("#misses-text", Static).update(
                f"[red]{message.error}[/]" if message.error else "No such problem in this run: nothing written.")
            return
        self.notify(f"{message.count} problems written to {message.path.name}", title="Pairs")
        self.dismiss(message.path)

    def action_cancel(self) -> None:
        self.dismiss(None)


def open_synth_on_misses(screen, run_dir: Path | None, compare: Path | None = None) -> None:
    """Push the modal from *screen*; when pairs are written, switch to Synth with its form filled in."""
    if run_dir is None:
        screen.notify("No run to take missed problems from.", title="Pairs")
        return
    app = screen.app

    def written(path: Path | None) -> None:
        if path is None:
            return
        app.switch_mode("synth")
        start = getattr(app.screen, "start_on_pairs", None)
        if start is not None:
            start(path)

    app.push_screen(MissesScreen(run_dir, compare), written)
