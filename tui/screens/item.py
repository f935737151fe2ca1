"""One item of a run in full: problem, gold, extracted answer, grader's reason, every turn and execution."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from mathbench.tui.widgets.common import VERDICT_STYLES
from mathbench.tui.widgets.conversation import ConversationView
from mathbench.tui.widgets.run_data import RunSnapshot


def item_facts(record: dict[str, Any], snapshot: RunSnapshot | None) -> Table:
    """The item's key facts as a two-column grid."""
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(ratio=1)
    grader = record.get("verdict") or ("error" if record.get("error") else "—")
    verdict = Text(str(grader), style=f"bold {VERDICT_STYLES.get(str(grader), '')}")
    adj = snapshot.adjudications.get(record.get("id")) if snapshot else None
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


class ItemScreen(Screen):
    """Shows one item; left/right (or n/p) step through the list it was opened from."""

    TITLE = "Item"
    BINDINGS = [
        Binding("escape,q,backspace", "close", "Back", id="item.close", tooltip="Back to the list"),
        Binding("right,n", "step(1)", "Next", id="item.next", tooltip="Next item of the list"),
        Binding("left,p", "step(-1)", "Prev", id="item.prev", tooltip="Previous item of the list"),
        Binding("r", "reference", "Gold text", id="item.reference", tooltip="Show or hide the full gold reference"),
    ]

    def __init__(self, records: list[dict[str, Any]], index: int, snapshot: RunSnapshot | None = None, *,
                 others: dict[Any, dict[str, Any] | None] | None = None, other_name: str = "") -> None:
        super().__init__()
        self.records = records
        self.index = index
        self.snapshot = snapshot
        self.others = others or {}
        """The same problem's record in a second run, by id, shown beside this one's facts."""
        self.other_name = other_name
        self.show_reference = False

    @property
    def record(self) -> dict[str, Any]:
        return self.records[self.index]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="item-facts")
        yield Static(id="item-reference")
        yield ConversationView(id="item-conversation")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.show_item()
        self.query_one(ConversationView).focus()

    def show_item(self) -> None:
        record = self.record
        self.sub_title = f"{self.index + 1} of {len(self.records)}"
        facts = item_facts(record, self.snapshot)
        other = self.others.get(record.get("id"))
        if other is not None:
            verdict = str(other.get("verdict") or "error")
            facts.add_row(f"in {self.other_name or 'B'}", Text.assemble(
                (verdict, f"bold {VERDICT_STYLES.get(verdict, '')}"),
                f"  predicted {other.get('pred_answer')}  ({other.get('reason') or '—'})",
            ))
        self.query_one("#item-facts", Static).update(facts)
        reference = self.query_one("#item-reference", Static)
        reference.display = self.show_reference
        reference.update(Text(f"gold reference:\n{record.get('gold') or '—'}"))
        self.query_one(ConversationView).show(record)

    def action_step(self, delta: int) -> None:
        index = self.index + delta
        if 0 <= index < len(self.records):
            self.index = index
            self.show_item()

    def action_reference(self) -> None:
        self.show_reference = not self.show_reference
        self.show_item()

    def action_close(self) -> None:
        self.dismiss(self.index)
