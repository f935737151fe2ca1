"""SFT files as text: a JSON array or JSON lines parsed with each item's position, and written back in the file's own layout."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from json.decoder import scanstring
from pathlib import Path

from mathbench.core.datasets.fastparse import fast_items
from mathbench.core.storage import JsonlError, parse_jsonl


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
    bom: bool = False  # the file starts with a UTF-8 byte order mark
    newline: str = "\n"  # or "\r\n"


def line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


def _detect_layout(text: str, container: str, trailing: bool | None = None) -> Layout:
    """The layout of a file whose text starts with *text* (all of it, or its first 20,000 characters)."""
    sample = text[:20000]
    has_non_ascii = any(ord(c) > 127 for c in sample)
    ensure_ascii = (not has_non_ascii) and "\\u" in sample
    trailing = text.endswith("\n") if trailing is None else trailing
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
_CHUNK = 1 << 22  # progress is reported about every 4 MB


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates)


def _duplicate_key_at(text: str, pos: int) -> tuple[str, int] | None:
    """The first key repeated within one object of the JSON value at *pos* (valid JSON), and where it stands."""
    ws = _WS.match

    class _Found(Exception):
        def __init__(self, key: str, where: int) -> None:
            super().__init__(key)
            self.key, self.where = key, where

    def value(pos: int) -> int:
        pos = ws(text, pos).end()
        c = text[pos]
        if c == '"':
            return scanstring(text, pos + 1)[1]
        if c not in "{[":
            return json.JSONDecoder().raw_decode(text, pos)[1]
        close = "}" if c == "{" else "]"
        seen: set[str] = set()
        pos = ws(text, pos + 1).end()
        while text[pos] != close:
            if c == "{":
                key, after = scanstring(text, pos + 1)
                if key in seen:
                    raise _Found(key, pos)
                seen.add(key)
                pos = ws(text, after).end() + 1  # past the ':'
            pos = ws(text, value(pos)).end()
            if text[pos] == ",":
                pos = ws(text, pos + 1).end()
        return pos + 1

    try:
        value(pos)
    except _Found as found:
        return found.key, found.where
    return None


def _decode_at(text: str, pos: int) -> tuple[object, int]:
    """raw_decode that refuses an object holding a key twice (JSONDecodeError at the second one)."""
    try:
        return _DECODER.raw_decode(text, pos)
    except _DuplicateKey as exc:
        found = _duplicate_key_at(text, pos)
        key, where = found if found is not None else (exc.key, pos)
        raise json.JSONDecodeError(f"duplicate key {key!r} (JSON would keep only its last value)", text, where) from None


def _loads_line(line: str) -> object:
    start = len(line) - len(line.lstrip())
    obj, end = _decode_at(line, start)
    if line[end:].strip():
        raise json.JSONDecodeError("Extra data", line, end + len(line[end:]) - len(line[end:].lstrip()))
    return obj


def _scan_array(text: str, on_progress: Callable[[int, int], None] | None = None) -> tuple[list, list[int]]:
    """Parse a top-level JSON array in one pass, returning its elements and where each starts.

    Raises json.JSONDecodeError (with line and column) exactly where json.loads would fail, and at a
    key repeated within an object. *on_progress(done, total)* hears about every 4 MB, in characters.
    """
    ws = _WS.match
    pos = ws(text, 0).end()
    if pos >= len(text) or text[pos] != "[":
        raise json.JSONDecodeError("Expecting '['", text, pos)
    pos = ws(text, pos + 1).end()
    items: list = []
    offsets: list[int] = []
    report = _CHUNK
    if pos < len(text) and text[pos] == "]":
        pos += 1
    else:
        while True:
            offsets.append(pos)
            obj, pos = _decode_at(text, pos)
            items.append(obj)
            if on_progress is not None and pos >= report:
                on_progress(pos, len(text))
                report = pos + _CHUNK
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


def _not_an_object(record: object, path: Path, line: int) -> None:
    if not isinstance(record, dict):
        raise JsonlError(path, line, f"line holds a {type(record).__name__}, expected an object", col=1)


def _parse_lines(text: str, path: str | Path | None,
                 on_progress: Callable[[int, int], None] | None) -> tuple[list[dict], list[int]]:
    """Items and line numbers of JSON lines, through core.storage, about 4 MB at a time."""
    data = text.encode("utf-8", errors="surrogatepass")
    where = Path(str(path or "<data>"))
    items: list[dict] = []
    lines: list[int] = []
    start, line = 0, 1
    while True:
        end = data.find(b"\n", min(len(data), start + _CHUNK))
        end = len(data) if end < 0 else end + 1
        final = end >= len(data)
        try:
            parsed = parse_jsonl(where, data[start:end], start_line=line, final=final, check=_not_an_object,
                                 loads=_loads_line)
        except JsonlError as exc:
            message = exc.message.replace("malformed JSON: ", "invalid JSON: ")
            if message.startswith("invalid JSON: Extra data"):
                message = "extra data after the object (one JSON object per line)"
            elif message.startswith("invalid JSON: duplicate key"):
                message = message.removeprefix("invalid JSON: ")
            raise DatasetError(path, message, exc.line, exc.col) from None
        if parsed.torn:
            tail = parsed.torn.decode("utf-8", errors="surrogateescape")
            try:
                _loads_line(tail)
            except json.JSONDecodeError as exc:
                raise DatasetError(path, f"invalid JSON: {exc.msg}", parsed.torn_line, exc.colno) from None
            raise DatasetError(path, "expected an object", parsed.torn_line, 1)
        for number, record in parsed.records:
            items.append(record)
            lines.append(number)
        line += data.count(b"\n", start, end)
        start = end
        if final:
            return items, lines
        if on_progress is not None:
            on_progress(start, len(data))


def parse_bytes(raw: bytes, path: str | Path | None = None, *, on_progress: Callable[[int, int], None] | None = None
                ) -> tuple[list[dict], Layout, list[int] | Callable[[], list[int]]]:
    """parse_items for a file's bytes: a valid file takes the fast reader, anything else the exact one.

    A big array's lines come as a function that finds them (core.datasets.fastparse).
    """
    bom = raw.startswith(b"\xef\xbb\xbf")
    body = raw[3:] if bom else raw
    first = body.lstrip(b" \t\r\n")[:1]
    container = "jsonl" if str(path or "").endswith(".jsonl") or first == b"{" else "json"
    fast = None
    if first in (b"[", b"{"):
        fast = fast_items(body, container, lambda: parse_items(body.decode("utf-8"), path)[2], on_progress=on_progress)
    if fast is None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line, col = line_col(raw[: exc.start].decode("utf-8", "replace"), exc.start)
            raise DatasetError(path, f"not UTF-8 text (byte {raw[exc.start]:#04x})", line, col) from None
        return parse_items(text, path, on_progress=on_progress)
    head = body[:20000].decode("utf-8", errors="ignore")
    layout = _detect_layout(head, container, trailing=body.endswith(b"\n"))
    layout.bom = bom
    first_break = head.find("\n")
    layout.newline = "\r\n" if first_break > 0 and head[first_break - 1] == "\r" else "\n"
    return fast[0], layout, fast[1]


def parse_items(text: str, path: str | Path | None = None, *,
                on_progress: Callable[[int, int], None] | None = None) -> tuple[list[dict], Layout, list[int]]:
    """Items, layout and each item's line number from a JSON array or JSONL text; DatasetError when malformed.

    A key repeated within one object is an error too (json would silently keep the last value).
    *on_progress(done, total)* hears how far parsing got, about every 4 MB.
    """
    bom = text.startswith("\ufeff")
    stripped = text[1:] if bom else text
    first = next((c for c in stripped if not c.isspace()), "")
    if not first:
        raise DatasetError(path, "empty file: expected a JSON array of items or JSON lines", 1, 1)
    jsonl = str(path or "").endswith(".jsonl") or first == "{"
    if first == "[" and not str(path or "").endswith(".jsonl"):
        try:
            data, offsets = _scan_array(stripped, on_progress)
        except json.JSONDecodeError as exc:
            message = exc.msg if exc.msg.startswith("duplicate key") else f"invalid JSON: {exc.msg}"
            raise DatasetError(path, message, exc.lineno, exc.colno) from None
        lines = _offsets_to_lines(stripped, offsets)
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise DatasetError(path, f"item {i} is a {type(item).__name__}, expected an object", lines[i],
                                   line_col(stripped, offsets[i])[1])
        layout = _detect_layout(stripped, "json")
    elif not jsonl:
        raise DatasetError(path, f"expected '[' (JSON array) or '{{' (JSON lines), found {first!r}",
                           *line_col(stripped, stripped.index(first)))
    else:
        data, lines = _parse_lines(stripped, path, on_progress)
        layout = _detect_layout(stripped, "jsonl")
    layout.bom = bom
    first_break = stripped.find("\n")
    layout.newline = "\r\n" if first_break > 0 and stripped[first_break - 1] == "\r" else "\n"
    return data, layout, lines


def _offsets_to_lines(text: str, offsets: list[int]) -> list[int]:
    lines, line, last = [], 1, 0
    for off in offsets:
        line += text.count("\n", last, off)
        last = off
        lines.append(line)
    return lines


def dumps_items(items: list[dict], layout: Layout) -> str:
    """Serialise *items* the way *layout* says (the inverse of parse_items): indent, escapes, BOM, line ends."""
    if layout.container == "jsonl":
        body = "\n".join(json.dumps(it, ensure_ascii=layout.ensure_ascii, separators=layout.separators) for it in items)
    else:
        body = json.dumps(items, ensure_ascii=layout.ensure_ascii, indent=layout.indent, separators=layout.separators)
    text = body + ("\n" if layout.trailing_newline or layout.container == "jsonl" else "")
    if layout.newline != "\n":
        text = text.replace("\n", layout.newline)  # JSON escapes newlines inside strings: these are all line ends
    return ("\ufeff" if layout.bom else "") + text
