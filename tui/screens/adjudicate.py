"""Adjudication: one uncertain item per screen; a key decides, the verdict is fsynced, the next item shows."""

from __future__ import annotations

import queue
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, ProgressBar, Static
from textual.worker import get_current_worker

from mathbench.tui.widgets.common import VERDICT_STYLES, WorkbenchScreen, pct
from mathbench.tui.widgets.conversation import final_turn


@dataclass(frozen=True)
class QueueState:
    """What the screen shows of an adjudication session at one moment."""

    run_path: Path
    run_name: str
    include_wrong: bool
    record: dict[str, Any] | None
    adjudication: dict[str, Any] | None
    position: int | None
    total: int
    reviewed: int
    remaining: int
    accuracy: float | None
    ci95: tuple[float, float] | None
    grader_accuracy: float | None
    can_undo: bool


def _state(session: Any) -> QueueState:
    summary = session.summary()
    return QueueState(
        run_path=session.run.path, run_name=session.run.name, include_wrong=session.include_wrong,
        record=session.current, adjudication=session.adjudication() if session.current else None,
        position=session.index, total=session.total, reviewed=session.reviewed, remaining=session.remaining,
        accuracy=summary["accuracy"], ci95=tuple(summary["ci95"]) if summary.get("ci95") else None,
        grader_accuracy=summary["grader"]["accuracy"], can_undo=session.can_undo,
    )


class QueueChanged(Message):
    """The session's state after a command; *event* names what happened."""

    def __init__(self, state: QueueState, event: str, detail: str = "") -> None:
        super().__init__()
        self.state = state
        self.event = event
        self.detail = detail


class QueueLoaded(QueueChanged):
    """The run's review queue was read."""


class VerdictRecorded(QueueChanged):
    """A human verdict was appended to adjudications.jsonl and fsynced."""


class ItemSkipped(QueueChanged):
    """The item was left unreviewed and the next one shown."""


class DecisionUndone(QueueChanged):
    """The session's last decision was taken back (an undo entry was fsynced)."""


class NoteAdded(QueueChanged):
    """A note was appended for the item."""


class AdjudicationFailed(Message):
    """A command could not be carried out; nothing moved."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class NoteDialog(ModalScreen[str | None]):
    """Asks for a one-line note about the item."""

    CSS_PATH = "../styles/adjudicate.tcss"

    BINDINGS = [Binding("escape,ctrl+g", "cancel", "Cancel", id="note.cancel")]

    def __init__(self, current: str | None) -> None:
        super().__init__()
        self.current = current or ""

    def compose(self) -> ComposeResult:
        with Vertical(id="note-dialog"):
            yield Static("[b]Note[/b] [dim](enter saves · esc cancels)[/dim]")
            yield Input(value=self.current, placeholder="why this verdict…", id="note-input")

    @on(Input.Submitted)
    def save(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AdjudicateScreen(WorkbenchScreen):
    """Shows the grader's uncertain items (and wrong ones on request) one at a time for a human verdict."""

    CSS_PATH = "../styles/adjudicate.tcss"

    TITLE = "Adjudicate"
    BINDINGS = [
        Binding("y,c", "command('correct')", "Correct", id="adjudicate.correct",
                tooltip="Accept the answer as correct and move on"),
        Binding("n,x", "command('wrong')", "Wrong", id="adjudicate.wrong", tooltip="Mark the answer wrong and move on"),
        Binding("s,space", "command('skip')", "Skip", id="adjudicate.skip", tooltip="Leave it unreviewed, show the next"),
        Binding("u,ctrl+z", "command('undo')", "Undo", id="adjudicate.undo",
                tooltip="Take back this session's last decision (unlimited)"),
        Binding("m", "note", "Note", id="adjudicate.note", tooltip="Add a note to this item"),
        Binding("enter,v", "conversation", "Full", id="adjudicate.conversation",
                tooltip="Show the whole conversation of this item"),
        Binding("w", "toggle_wrong", "+Wrong", id="adjudicate.include-wrong",
                tooltip="Also queue every item the grader marked wrong"),
        Binding("o", "pick_run", "Run…", id="adjudicate.pick-run", tooltip="Choose the run to adjudicate"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state: QueueState | None = None
        self.include_wrong = False
        self._commands: queue.Queue = queue.Queue()
        self._serving: Path | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("loading…", id="adj-status")
        yield ProgressBar(show_eta=False, show_percentage=True, id="adj-progress")
        yield Static(id="adj-facts")
        with VerticalScroll(id="adj-body"):
            yield Static(id="adj-question")
            yield Static(id="adj-final")

    def on_screen_resume(self) -> None:
        wanted = self.app.current_run
        if wanted is None:
            self.query_one("#adj-status", Static).update("No run to adjudicate: choose one with o.")
            return
        if self._serving != wanted:
            self.start_session(wanted)
        else:
            self._commands.put(("resume", None))

    def on_unmount(self) -> None:
        self._commands.put(None)

    # -- the session worker -------------------------------------------------------------

    def start_session(self, path: Path) -> None:
        """Open *path*'s review queue in the session worker (replacing any earlier session)."""
        self._commands.put(None)
        self._commands = queue.Queue()
        self._serving = path
        self.state = None
        self.query_one("#adj-status", Static).update(f"loading {path.name}…")
        self.serve(path, self.include_wrong, self._commands)

    @work(thread=True, exclusive=True, group="adjudication", exit_on_error=False, name="adjudication")
    def serve(self, path: Path, include_wrong: bool, commands: queue.Queue) -> None:
        """Run the session's commands one at a time, in order; each reports what happened by a message."""
        from mathbench.core.evaluation.adjudication import AdjudicationSession, first_unreviewed

        worker = get_current_worker()
        try:
            session = AdjudicationSession(path, include_wrong=include_wrong)
        except (OSError, ValueError) as exc:
            self.post_message(AdjudicationFailed(f"{path}: {exc}"))
            return
        self.post_message(QueueLoaded(_state(session), "loaded"))
        while not worker.is_cancelled:
            try:
                command = commands.get(timeout=0.5)
            except queue.Empty:
                continue
            if command is None:
                return
            name, arg = command
            try:
                if name in ("correct", "wrong"):
                    if session.current is None:
                        continue
                    record_id = session.current["id"]
                    session.decide(name)
                    self.post_message(VerdictRecorded(_state(session), name, str(record_id)))
                elif name == "skip":
                    if session.current is None:
                        continue
                    record_id = session.current["id"]
                    session.skip()
                    self.post_message(ItemSkipped(_state(session), "skip", str(record_id)))
                elif name == "undo":
                    if not session.can_undo:
                        self.post_message(AdjudicationFailed("nothing to undo in this session"))
                        continue
                    session.undo()
                    self.post_message(DecisionUndone(_state(session), "undo"))
                elif name == "note":
                    session.note(arg)
                    self.post_message(NoteAdded(_state(session), "note"))
                elif name == "resume":
                    session.reload()
                    session.index = first_unreviewed(session.queue, session.adjudications)
                    self.post_message(QueueLoaded(_state(session), "resumed"))
            except (OSError, ValueError, LookupError) as exc:
                self.post_message(AdjudicationFailed(str(exc)))

    # -- showing ------------------------------------------------------------------------

    @on(QueueChanged)
    def show_state(self, message: QueueChanged) -> None:
        if message.state.run_path != self._serving:
            return
        self.state = message.state
        with self.app.batch_update():
            self.render_state()

    @on(AdjudicationFailed)
    def failed(self, message: AdjudicationFailed) -> None:
        self.notify(message.reason, severity="warning")

    def render_state(self) -> None:
        state = self.state
        if state is None:
            return
        ci = f" [dim](95% CI {pct(state.ci95[0], 0)}–{pct(state.ci95[1], 0)})[/dim]" if state.ci95 else ""
        queue_kind = "uncertain + wrong" if state.include_wrong else "uncertain"
        self.query_one("#adj-status", Static).update(
            f"[b]{state.run_name}[/b] · queue: {queue_kind} · [b]reviewed {state.reviewed}[/b] / "
            f"[b]remaining {state.remaining}[/b] of {state.total} · accuracy [b]{pct(state.accuracy)}[/b]{ci}"
            f" · grader alone {pct(state.grader_accuracy)}"
        )
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, state.total), progress=state.reviewed)
        record = state.record
        facts = self.query_one("#adj-facts", Static)
        if record is None:
            if state.total == 0:
                kind = "uncertain or wrong" if state.include_wrong else "uncertain"
                message = (f"[b]Nothing to adjudicate:[/] {state.run_name} has no {kind} items; "
                           "the grader was sure of every answer.")
            else:
                message = f"[b green]Queue done:[/] all {state.total} items have a human verdict."
            facts.update(Text.from_markup(
                message
                + ("" if state.include_wrong else "  Press [b]w[/b] to also review the items graded wrong.")
                + ("  [b]u[/b] undoes the last decision." if state.can_undo else "")
                + "  [b]o[/b] picks another run."
            ))
            self.query_one("#adj-question", Static).update("")
            self.query_one("#adj-final", Static).update("")
            return
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(ratio=1)
        grader = str(record.get("verdict") or "error")
        where = f"item {state.position + 1} of {state.total}" if state.position is not None else ""
        meta = " · ".join(str(x) for x in (record.get("level") and f"Level {record.get('level')}",
                                           record.get("subject")) if x)
        grid.add_row("id", Text(f"{record.get('id')}  ", style="bold").append(f"{where}  {meta}", style="dim"))
        line = Text(grader, style=f"bold {VERDICT_STYLES.get(grader, '')}")
        line.append(f"  because {record.get('reason') or '—'}", style="")
        adj = state.adjudication
        if adj and adj.get("verdict"):
            line.append("   human: ", style="bold")
            line.append(str(adj["verdict"]), style=f"bold {VERDICT_STYLES.get(str(adj['verdict']), '')}")
        if adj and adj.get("note"):
            line.append(f"   note: {adj['note']}", style="italic")
        grid.add_row("grader", line)
        grid.add_row("gold", Text(str(record.get("gold_answer") or "—"), style="bold green"))
        pred = record.get("pred_answer")
        grid.add_row("predicted", Text(str(pred) if pred is not None else "— (no answer found)", style="bold cyan"))
        facts.update(grid)
        self.query_one("#adj-question", Static).update(
            Group(Text("problem", style="bold underline"), Text(str(record.get("question") or "")))
        )
        self.query_one("#adj-final", Static).update(final_turn(record))
        self.query_one("#adj-body", VerticalScroll).scroll_home(animate=False)

    # -- actions --------------------------------------------------------------------------

    def action_command(self, name: str) -> None:
        if self.state is None:
            return
        self._commands.put((name, None))

    def action_note(self) -> None:
        if self.state is None or self.state.record is None:
            return
        current = (self.state.adjudication or {}).get("note")

        def saved(text: str | None) -> None:
            if text:
                self._commands.put(("note", text))

        self.app.push_screen(NoteDialog(current), saved)

    def action_conversation(self) -> None:
        from mathbench.tui.screens.item import ItemScreen

        if self.state is None or self.state.record is None:
            return
        self.app.push_screen(ItemScreen([self.state.record], 0))

    def action_toggle_wrong(self) -> None:
        self.include_wrong = not self.include_wrong
        if self._serving is not None:
            self.start_session(self._serving)

    def action_pick_run(self) -> None:
        from mathbench.tui.widgets.run_picker import RunPicker

        def picked(path: Path | None) -> None:
            if path is not None:
                self.app.select_run(path)
                self.start_session(self.app.current_run)

        self.app.push_screen(RunPicker("Adjudicate run", self.app.current_run), picked)
