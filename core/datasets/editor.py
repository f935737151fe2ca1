"""Editing an item's turns as plain text: the text form, its parser, and the round trip through $EDITOR."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mathbench.core.datasets.dataset import Dataset
from mathbench.core.datasets.items import ROLES, Turn
from mathbench.core.datasets.jsonfile import DatasetError

_MARKER = re.compile(r"^<<<(?P<role>[A-Za-z_?]*)>>>[ \t]*$")
_EDITOR_HEADER = (
    "# mathbench item {index}: edit the turns below, then save and quit.\n"
    "# A line <<<role>>> starts a turn; roles: human, gpt, observation, function_call, system.\n"
    "# Lines starting with '#' before the first turn are ignored. Empty the file to cancel.\n"
)


def turns_to_text(turns: list[Turn], index: int | str = "") -> str:
    """The editable text form of *turns* (what $EDITOR shows)."""
    out = [_EDITOR_HEADER.format(index=index)]
    for t in turns:
        out.append(f"<<<{t.role}>>>\n{t.content}\n")
    return "".join(out)


def text_to_turns(text: str, path: str | Path | None = None) -> list[Turn]:
    """Parse the editable text form back into turns; DatasetError naming FILE:LINE on a mistake."""
    turns: list[Turn] = []
    role: str | None = None
    body: list[str] = []
    for lineno, line in enumerate(text.split("\n"), 1):
        m = _MARKER.match(line)
        if m:
            if role is not None:
                turns.append(Turn(role, "\n".join(body)))
            role, body = m.group("role"), []
            if role not in ROLES:
                raise DatasetError(path, f"unknown role {role!r} (use one of {', '.join(ROLES)})", lineno, 4)
            continue
        if role is None:
            if line.strip() and not line.startswith("#"):
                raise DatasetError(path, "text before the first <<<role>>> line", lineno, 1)
            continue
        body.append(line)
    if role is not None:
        if body and body[-1] == "":
            body.pop()  # the newline that ends the file
        turns.append(Turn(role, "\n".join(body)))
    return turns


@dataclass
class EditOutcome:
    """What came back from $EDITOR: new turns, or None with the reason (cancelled, unchanged or an error)."""

    turns: list[Turn] | None
    error: str | None = None
    changed: bool = False


def edit_turns_in_editor(turns: list[Turn], *, index: int | str = "", editor: str | None = None) -> EditOutcome:
    """Open *turns* in $VISUAL/$EDITOR (blocking; a TUI suspends itself around this) and parse the result.

    On a parse error the text is kept and the message names FILE:LINE; the caller may call again.
    """
    editor = editor or os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    original = turns_to_text(turns, index)
    fd, tmp = tempfile.mkstemp(prefix=f"mathbench-item-{index}-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(original)
        try:
            rc = subprocess.call(shlex.split(editor) + [tmp])
        except OSError as exc:
            return EditOutcome(None, f"cannot run editor {editor!r}: {exc}")
        if rc != 0:
            return EditOutcome(None, f"editor {editor!r} exited with status {rc}; nothing changed")
        text = Path(tmp).read_text(encoding="utf-8")
        if not text.strip():
            return EditOutcome(None, "cancelled (empty file)")
        if text == original:
            return EditOutcome(list(turns), None, changed=False)
        try:
            new = text_to_turns(text, tmp)
        except DatasetError as exc:
            return EditOutcome(None, f"{exc} (your text is kept in {_keep_private(text, index)})")
        if not new:
            return EditOutcome(None, "no turns left; nothing changed")
        return EditOutcome(new, None, changed=new != list(turns))
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _keep_private(text: str, index: int | str) -> str:
    """Save rejected editor text to a new file only this user can read; mkstemp never follows a planted link."""
    fd, path = tempfile.mkstemp(prefix=f"mathbench-item-{index}-rejected-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def edit_item_in_editor(ds: Dataset, index: int, *, editor: str | None = None) -> EditOutcome:
    """Open item *index* of *ds* in the editor and apply the result as one undoable edit when it changed."""
    outcome = edit_turns_in_editor(ds.turns(index), index=index, editor=editor)
    if outcome.turns is not None and outcome.changed:
        try:
            ds.set_turns(index, outcome.turns)
        except ValueError as exc:
            return EditOutcome(None, str(exc))
    return outcome

