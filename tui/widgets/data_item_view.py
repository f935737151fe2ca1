"""The Data screen's item view (one SFT item's turns with highlighted code, and what the checks found about it)
and the one-line rows of its item list."""

from __future__ import annotations

import re

from rich.console import Group
from rich.rule import Rule
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from mathbench.tui.widgets.common import one_line

STATUS_MARKS = {"match": ("✓", "green"), "mismatch": ("✗", "red"), "error": ("!", "magenta"),
                "timeout": ("⧗", "yellow"), "no_code": ("·", "dim"), "schema": ("§", "bold red")}
ROLE_STYLES = {"human": "bold cyan", "gpt": "bold green", "observation": "bold yellow", "system": "bold magenta"}
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


def turn_renderables(content: str) -> list:
    """A turn as text with its fenced blocks shown as highlighted code (cheaper than full Markdown)."""
    from rich.syntax import Syntax

    out: list = []
    position = 0
    for match in _FENCE.finditer(content):
        before = content[position:match.start()].strip("\n")
        if before:
            out.append(Text(before))
        language = match.group(1).lower() or "text"
        code = match.group(2).rstrip("\n")
        out.append(Syntax(code, "python" if language in ("python", "py", "python3") else "text",
                          theme="monokai", word_wrap=True, background_color="default"))
        position = match.end()
    rest = content[position:].strip("\n")
    if rest:
        out.append(Text(rest))
    return out


def row_text(index: int, problem: str, turns: int, code: bool, *, status: str | None = None, flagged: bool = False,
             cluster: int | None = None) -> Text:
    """One line of the item list: number, validation mark, benchmark flag, turns, code, duplicate cluster, problem."""
    mark, style = STATUS_MARKS.get(status, (" ", ""))
    text = Text(f"{index + 1:>6} ", style="dim")
    text.append(mark, style=style)
    text.append("⚑" if flagged else " ", style="bold red")
    text.append(f"{turns:>2}t ", style="dim")
    text.append("py " if code else "   ", style="cyan")
    if cluster is not None:
        text.append(f"≈{cluster} ", style="yellow")
    text.append(one_line(problem, 200))
    return text


def _check_lines(check) -> list[Text]:
    """What validation found wrong with an item (core.datasets.checks.ItemCheck)."""
    lines = [Text(f"  {problem}", style="red") for problem in list(check.schema_errors) + list(check.warnings)]
    for rnd in check.rounds:
        if rnd.result != "match":
            lines.append(Text(f"  turn {rnd.turn}: {rnd.result} {rnd.how}".rstrip(), style="yellow"))
            ran = rnd.stdout.strip() or rnd.error_tail.strip()
            lines.append(Text(f"    ran:      {one_line(ran, 200)}", style="dim"))
            if rnd.recorded is not None:
                lines.append(Text(f"    recorded: {one_line(rnd.recorded, 200)}", style="dim"))
    if check.answer_status == "inconsistent":
        lines.append(Text(f"  answer {check.answer}: {check.answer_reason}", style="yellow"))
    return lines


def item_renderable(dataset, index: int, *, status: str | None = None, cluster_number: int | None = None,
                    cluster=None, check=None, hit=None) -> Group:
    """Item *index* of *dataset*: where it is, its status, the benchmark problem it repeats, duplicates,
    validation findings, then every turn."""
    parts: list = []
    line = dataset.line_of(index, wait=False)  # a big file's lines may still be being found
    where = f"{dataset.path.name}:{line}" if dataset.path and line else ""
    parts.append(Text(f"item {index + 1}  {where}  status: {status or 'not validated'}", style="bold"))
    if hit is not None:
        parts.append(Text(f"  ⚑ repeats {hit.benchmark} {hit.id} ({hit.kind}, {hit.score:.2f}): "
                          f"{one_line(hit.question, 300)}", style="bold red"))
    if cluster is not None:
        others = ", ".join(str(m + 1) for m in cluster.members if m != index)
        parts.append(Text(f"  {cluster.kind} duplicate (cluster ≈{cluster_number}, similarity "
                          f"{cluster.similarity:.2f}) of item {others}", style="yellow"))
    if check is not None:
        parts.extend(_check_lines(check))
    for number, turn in enumerate(dataset.turns(index)):
        parts.append(Rule(f"{number} {turn.role}", style=ROLE_STYLES.get(turn.role, "red"), align="left"))
        parts.extend(turn_renderables(turn.content))
    extra = {k: v for k, v in dataset[index].items() if k not in ("conversations", "messages")}
    if extra:
        parts.append(Rule("other fields", style="dim", align="left"))
        parts.append(Text(one_line(extra, 400), style="dim"))
    return Group(*parts)


class DataItemView(VerticalScroll):
    """A scrolling view of one item."""

    def compose(self) -> ComposeResult:
        yield Static("", id="data-item")

    def show(self, renderable=None) -> None:
        """Show *renderable* (an item_renderable), or nothing."""
        self.query_one("#data-item", Static).update(renderable if renderable is not None else "")
