"""Every turn of a PoT conversation, code highlighted, each execution's status and output beneath it."""

from __future__ import annotations

import re
from typing import Any, Iterable

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.rule import Rule
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:```|\Z)", re.S)
STATUS_STYLES = {"ok": "green", "error": "red", "timeout": "yellow", "killed": "magenta"}


def split_fences(text: str) -> list[tuple[str, str, str]]:
    """The text as ("text", "", body) and ("code", language, body) pieces, in order."""
    pieces: list[tuple[str, str, str]] = []
    pos = 0
    for match in FENCE.finditer(text):
        if match.start() > pos:
            pieces.append(("text", "", text[pos : match.start()]))
        pieces.append(("code", match.group(1) or "", match.group(2).rstrip("\n")))
        pos = match.end()
    if pos < len(text):
        pieces.append(("text", "", text[pos:]))
    return pieces


def code_block(code: str, language: str = "python") -> RenderableType:
    """*code* highlighted (pygments is imported here, on first use)."""
    from rich.syntax import Syntax

    lexer = "python" if language in ("", "python", "py", "python3") else language
    return Syntax(code, lexer, theme="monokai", line_numbers=True, word_wrap=True, background_color="default")


def render_message_text(text: str) -> list[RenderableType]:
    """Prose as plain text (no markup interpretation), fenced code highlighted."""
    parts: list[RenderableType] = []
    for kind, language, body in split_fences(text or ""):
        if kind == "code":
            if language in ("", "python", "py", "python3"):
                parts.append(code_block(body, language))
            else:
                parts.append(Padding(Text(body, style="cyan"), (0, 0, 0, 2)))
        elif body.strip():
            parts.append(Text(body.strip("\n")))
    return parts


def render_execution(index: int, execution: dict[str, Any]) -> RenderableType:
    """One execution of a model's code: status, time, stdout and stderr."""
    status = str(execution.get("status") or "?")
    duration = execution.get("duration")
    head = Text.assemble(
        ("  ▶ execution ", "bold"), (f"#{index + 1} ", "bold"),
        (status, f"bold {STATUS_STYLES.get(status, 'white')}"),
        (f"  {duration:.3f}s" if isinstance(duration, (int, float)) else "", "dim"),
    )
    parts: list[RenderableType] = [head]
    stdout = (execution.get("stdout") or "").rstrip("\n")
    stderr = (execution.get("stderr") or "").rstrip("\n")
    if stdout:
        parts.append(Padding(Text(stdout), (0, 0, 0, 4)))
    if stderr:
        parts.append(Padding(Text(stderr, style="red"), (0, 0, 0, 4)))
    if not stdout and not stderr:
        parts.append(Padding(Text("(no output)", style="dim"), (0, 0, 0, 4)))
    return Group(*parts)


def render_conversation(record: dict[str, Any]) -> RenderableType:
    """Every message of *record*, with the executions placed after the assistant turns that wrote code."""
    messages: list[dict[str, Any]] = list(record.get("messages") or [])
    executions: list[dict[str, Any]] = list(record.get("executions") or [])
    parts: list[RenderableType] = []
    exec_index = 0
    assistant_round = 0
    for message in messages:
        role = str(message.get("role") or message.get("from") or "?")
        content = message.get("content") if "content" in message else message.get("value")
        if isinstance(content, list):  # OpenAI content parts
            content = "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        content = str(content or "")
        if role == "assistant":
            assistant_round += 1
            title, style = f"assistant · turn {assistant_round}", "bold cyan"
        elif role == "system":
            title, style = "system", "bold dim"
        elif assistant_round:
            title, style = "observation (code output fed back)", "bold yellow"
        else:
            title, style = "user · problem", "bold green"
        parts.append(Rule(Text(title, style=style), align="left", style="dim"))
        parts.extend(render_message_text(content))
        if role == "assistant" and FENCE.search(content) and exec_index < len(executions):
            parts.append(render_execution(exec_index, executions[exec_index]))
            exec_index += 1
    for i in range(exec_index, len(executions)):
        parts.append(render_execution(i, executions[i]))
    if not messages and record.get("final_text"):
        parts.append(Rule(Text("final reply", style="bold cyan"), align="left", style="dim"))
        parts.extend(render_message_text(str(record["final_text"])))
    if record.get("error"):
        parts.append(Text(f"error: {record['error']}", style="bold red"))
    return Group(*parts) if parts else Text("(no conversation recorded)", style="dim")


def final_turn(record: dict[str, Any]) -> RenderableType:
    """The model's last reply and the output of its last execution."""
    parts: list[RenderableType] = []
    executions = record.get("executions") or []
    if executions:
        last = executions[-1]
        parts.append(Rule(Text("last code the model wrote", style="bold cyan"), align="left", style="dim"))
        if last.get("code"):
            parts.append(code_block(str(last["code"])))
        parts.append(render_execution(len(executions) - 1, last))
    text = record.get("final_text")
    if not text:
        for message in reversed(record.get("messages") or []):
            if message.get("role") == "assistant":
                text = message.get("content")
                break
    parts.append(Rule(Text("final reply", style="bold cyan"), align="left", style="dim"))
    parts.extend(render_message_text(str(text or "")) or [Text("(empty)", style="dim")])
    return Group(*parts)


class ConversationView(VerticalScroll):
    """A scrollable view of one item's whole conversation."""

    DEFAULT_CSS = """
    ConversationView { height: 1fr; }
    ConversationView > Static { width: 1fr; }
    """

    def __init__(self, record: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._record = record

    def compose(self) -> Iterable[Static]:
        yield Static(render_conversation(self._record) if self._record else "", id="conversation-body")

    def show(self, record: dict[str, Any]) -> None:
        """Show *record*'s conversation from the top."""
        self._record = record
        self.query_one("#conversation-body", Static).update(render_conversation(record))
        self.scroll_home(animate=False)
