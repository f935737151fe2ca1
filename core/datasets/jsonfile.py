"""SFT files as text: a JSON array or JSON lines parsed with each item's position, and written back in the file's own layout."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path


class DatasetError(ValueError):
    """Bad input, located: str() reads `FILE:LINE:COL: message` (line/col omitted when unknown)."""

    def __init__(self, path: str | Path | None, message: str, line: int | None = None, col: int | None = None):
        self.path = str(path) if path is not None else "<data>"
        self.message = message
        self.line = line
        self.col = col
        where = self.path + (f":{line}" if line is not None else "") + (f":{col}" if col is not None and line is not None else "")
        super().__init__(f"{where}: {message}")



@dataclass
class Layout:
    """How a file was written, so that saving it back changes nothing but the edits."""

    container: str = "json"  # json (one array) | jsonl (one object a line)
    indent: int | str | None = 2
    ensure_ascii: bool = False
    separators: tuple[str, str] | None = None
    trailing_newline: bool = True



def line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


def _detect_layout(text: str, container: str) -> Layout:
    sample = text[:20000]
    has_non_ascii = any(ord(c) > 127 for c in sample)
    ensure_ascii = (not has_non_ascii) and "\\u" in sample
    trailing = text.endswith("\n")
    if container == "jsonl":
        compact = bool(re.search(r'"\s*:\S', sample.split("\n", 1)[0])) and '": ' not in sample.split("\n", 1)[0]
        return Layout("jsonl", None, ensure_ascii, (",", ":") if compact else None, trailing)
    m = re.match(r"\s*\[\s*?\n([ \t]+)\S", text)
    if m:
        ws = m.group(1)
        indent: int | str | None = len(ws) if set(ws) == {" "} else ws
        return Layout("json", indent, ensure_ascii, None, trailing)
    compact = '":"' in sample or '","' in sample
    return Layout("json", None, ensure_ascii, (",", ":") if compact else None, trailing)


_WS = re.compile(r"[ \t\n\r]*")


def _scan_array(text: str) -> tuple[list, list[int]]:
    """Parse a top-level JSON array in one pass, returning its elements and where each starts.

    Raises json.JSONDecodeError (with line and column) exactly where json.loads would fail.
    """
    dec = json.JSONDecoder()
    ws = _WS.match
    pos = ws(text, 0).end()
    if pos >= len(text) or text[pos] != "[":
        raise json.JSONDecodeError("Expecting '['", text, pos)
    pos = ws(text, pos + 1).end()
    items: list = []
    offsets: list[int] = []
    if pos < len(text) and text[pos] == "]":
        pos += 1
    else:
        while True:
            offsets.append(pos)
            obj, pos = dec.raw_decode(text, pos)
            items.append(obj)
            pos = ws(text, pos).end()
            if pos < len(text) and text[pos] == ",":
                pos = ws(text, pos + 1).end()
                continue
            if pos < len(text) and text[pos] == "]":
                pos += 1
                break
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
    pos = ws(text, pos).end()
    if pos != len(text):
        raise json.JSONDecodeError("Extra data", text, pos)
    return items, offsets


def parse_items(text: str, path: str | Path | None = None) -> tuple[list[dict], Layout, list[int]]:
    """Items, layout and each item's line number from a JSON array or JSONL text; DatasetError when malformed."""
    stripped = text.lstrip("\ufeff")
    first = next((c for c in stripped if not c.isspace()), "")
    if not first:
        raise DatasetError(path, "empty file: expected a JSON array of items or JSON lines", 1, 1)
    jsonl = str(path or "").endswith(".jsonl") or first == "{"
    if first == "[" and not str(path or "").endswith(".jsonl"):
        try:
            data, offsets = _scan_array(stripped)
        except json.JSONDecodeError as exc:
            raise DatasetError(path, f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
        lines = _offsets_to_lines(stripped, offsets)
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise DatasetError(path, f"item {i} is a {type(item).__name__}, expected an object", lines[i],
                                   line_col(stripped, offsets[i])[1])
        return data, _detect_layout(stripped, "json"), lines
    if not jsonl:
        raise DatasetError(path, f"expected '[' (JSON array) or '{{' (JSON lines), found {first!r}",
                           *line_col(stripped, stripped.index(first)))
    dec = json.JSONDecoder()
    items: list[dict] = []
    lines: list[int] = []
    for lineno, line in enumerate(stripped.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj, end = dec.raw_decode(line, len(line) - len(line.lstrip()))
        except json.JSONDecodeError as exc:
            raise DatasetError(path, f"invalid JSON: {exc.msg}", lineno, exc.colno) from None
        if line[end:].strip():
            raise DatasetError(path, "extra data after the object (one JSON object per line)", lineno,
                               end + len(line[end:]) - len(line[end:].lstrip()) + 1)
        if not isinstance(obj, dict):
            raise DatasetError(path, f"line holds a {type(obj).__name__}, expected an object", lineno, 1)
        items.append(obj)
        lines.append(lineno)
    return items, _detect_layout(stripped, "jsonl"), lines


def _offsets_to_lines(text: str, offsets: list[int]) -> list[int]:
    lines, line, last = [], 1, 0
    for off in offsets:
        line += text.count("\n", last, off)
        last = off
        lines.append(line)
    return lines


def dumps_items(items: list[dict], layout: Layout) -> str:
    """Serialise *items* the way *layout* says (the inverse of parse_items)."""
    if layout.container == "jsonl":
        body = "\n".join(json.dumps(it, ensure_ascii=layout.ensure_ascii, separators=layout.separators) for it in items)
    else:
        body = json.dumps(items, ensure_ascii=layout.ensure_ascii, indent=layout.indent, separators=layout.separators)
    return body + ("\n" if layout.trailing_newline or layout.container == "jsonl" else "")

