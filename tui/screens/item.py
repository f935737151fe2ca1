"""One item of a run in full: problem, gold, extracted answer, grader's reason, every turn and execution;
beside it the same problem in a second run when opened from a comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Header, Static

from mathbench.tui.widgets.common import VERDICT_STYLES, WorkbenchFooter
from mathbench.tui.widgets.conversation import ConversationView
from mathbench.tui.widgets.run_data import RunSnapshot, VerdictOverridden, VerdictOverrides


def item_facts(record: dict[str, Any], adjudications: dict[Any, dict] | None, title: str = "") -> Table:
    """The item's key facts as a two-column grid."""
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(ratio=1)
    if title:
        grid.add_row("run", Text(title, style="bold underline"))
    grader = record.get("verdict") or ("error" if record.get("error") else "—")
    verdict = Text(str(grader), style=f"bold {VERDICT_STYLES.get(str(grader), '')}")
    adj = adjudications.get(record.get("id")) if adjudications else None
    if adj and adj.get("verdict"):
        human = str(adj["verdict"])
        verdict.append("  human: ", style="bold")
        verdict.append(human, style=f"bold {VERDICT_STYLES.get(human, '')}")
    if adj and adj.get("note"):
        verdict.append(f"  note: {adj['note']}", style="italic")
    meta = " · ".join(str(x) for x in (record.get("level"), record.get("subject")) if x)
    grid.add_row("id", Text(f"{record.get('id')}" + (f"   {meta}" if meta else "")))
    grid.add_row("verdict", verdict)
    grid.add_row("reason", Text(str(record.get("reason") or "—")))
    grid.add_row("gold", Text(str(record.get("gold_answer") or "—"), style="bold green"))
    grid.add_row("predicted", Text(str(record.get("pred_answer") if record.get("pred_answer") is not None else "—"),
                                   style="bold cyan"))
    usage = record.get("usage") or {}
    latency = record.get("latency")
    stats = []
    if isinstance(latency, (int, float)):
        stats.append(f"{latency:.2f}s")
    if usage:
        stats.append(f"{usage.get('prompt_tokens', '?')}+{usage.get('completion_tokens', '?')} tokens")
    if record.get("rounds") is not None:
        stats.append(f"{record.get('rounds')} code rounds")
    if record.get("endpoint"):
        stats.append(str(record["endpoint"]))
    if stats:
        grid.add_row("stats", Text(" · ".join(stats), style="dim"))
    if record.get("error"):
        grid.add_row("error", Text(str(record["error"]), style="bold red"))
    return grid


class ItemScreen(VerdictOverrides, Screen):
    """Shows one item; left/right step through the list it was opened from; y/n/u set the human verdict."""

    CSS_PATH = "../styles/item.tcss"

    TITLE = "Item"
    BINDINGS = [
        Binding("escape,q,backspace", "close", "Back", id="item.close", tooltip="Back to the list"),
        Binding("right", "step(1)", "Next", id="item.next", tooltip="Next item of the list"),
        Binding("left", "step(-1)", "Prev", id="item.prev", tooltip="Previous item of the list"),
        Binding("y", "verdict('correct')", "Correct", id="item.correct", tooltip="Override: a human says correct"),
        Binding("n", "verdict('wrong')", "Wrong", id="item.wrong", tooltip="Override: a human says wrong"),
        Binding("u", "verdict(None)", "Undo verdict", id="item.undo", tooltip="Take back the last human verdict"),
        Binding("r", "reference", "Gold text", id="item.reference", tooltip="Show or hide the full gold reference"),
    ]

    def __init__(self, records: list[dict[str, Any]], index: int, snapshot: RunSnapshot | None = None, *,
                 others: dict[Any, dict[str, Any] | None] | None = None, other_name: str = "",
                 run_path: Path | None = None, run_name: str = "") -> None:
        super().__init__()
        self.records = records
        self.index = index
        self.snapshot = snapshot
        self.others = others or {}
        """The same problem's record in a second run, by id, shown beside this one."""
        self.other_name = other_name
        self.run_path = run_path or (snapshot.path if snapshot else None)
        """The run whose verdicts y/n/u change (None: read-only)."""
        self.run_name = run_name or (snapshot.name if snapshot else "")
        self.adjudications: dict[Any, dict] = dict(snapshot.adjudications) if snapshot else {}
        self.show_reference = False

    @property
    def record(self) -> dict[str, Any]:
        return self.records[self.index]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="item-panes"):
            with Vertical(id="item-a", classes="item-pane"):
                yield Static(id="item-facts")
                yield Static(id="item-reference")
                yield ConversationView(id="item-conversation")
            if self.others:
                with Vertical(id="item-b", classes="item-pane"):
                    yield Static(id="item-facts-b")
                    yield ConversationView(id="item-conversation-b")
        yield WorkbenchFooter()

    def on_mount(self) -> None:
        self.show_item()
        self.query_one("#item-conversation", ConversationView).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "verdict":
            return self.run_path is not None
        return True

    def show_item(self) -> None:
        record = self.record
        self.sub_title = f"{self.index + 1} of {len(self.records)}"
        title = f"{self.run_name} (A)" if self.others and self.run_name else ""
        self.query_one("#item-facts", Static).update(item_facts(record, self.adjudications, title))
        reference = self.query_one("#item-reference", Static)
        reference.display = self.show_reference
        reference.update(Text(f"gold reference:\n{record.get('gold') or '—'}"))
        self.query_one("#item-conversation", ConversationView).show(record)
        if self.others:
            other = self.others.get(record.get("id"))
            facts_b = self.query_one("#item-facts-b", Static)
            conversation_b = self.query_one("#item-conversation-b", ConversationView)
            if other is None:
                facts_b.update(Text(f"in {self.other_name or 'B'}: this problem was not run", style="dim"))
                conversation_b.show({})
            else:
                facts_b.update(item_facts(other, None, f"in {self.other_name or 'B'} (B)"))
                conversation_b.show(other)

    def action_step(self, delta: int) -> None:
        index = self.index + delta
        if 0 <= index < len(self.records):
            self.index = index
            self.show_item()

    def action_reference(self) -> None:
        self.show_reference = not self.show_reference
        self.show_item()

    def action_verdict(self, verdict: str | None) -> None:
        if self.run_path is not None:
            self.override(self.run_path, self.record, verdict)

    @on(VerdictOverridden)
    def overridden(self, message: VerdictOverridden) -> None:
        self.adjudications = message.adjudications
        if self.snapshot is not None:
            self.snapshot.adjudications = message.adjudications
        human = (message.adjudications.get(message.record_id) or {}).get("verdict")
        self.notify(f"{message.record_id}: human verdict {human or 'taken back (grader stands)'}", title="Verdict")
        self.show_item()

    def action_close(self) -> None:
        self.dismiss(self.index)
