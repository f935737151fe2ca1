"""SFT datasets (ShareGPT, OpenAI messages, alpaca; JSON or JSONL): load, edit with undo, save atomically.

Items are kept as the file's own dicts, so unknown fields and key order survive a round trip, and an
unchanged file is written back byte for byte. Turns are presented with ShareGPT's role names
(human, gpt, observation, function_call, system) whatever the file's format.

    ds = Dataset.load("data.json")          # DatasetError "FILE:LINE:COL: what is wrong" on bad input
    ds.turns(0)                             # [Turn("human", "题目：..."), Turn("gpt", "..."), ...]
    ds.set_turn(0, 1, content="...")        # edits are undoable: ds.undo(), ds.redo()
    ds.save()                               # temp file + fsync + rename; previous version kept as FILE.bak

Validation lives in core.validate, de-duplication in core.dedupe, LLaMA-Factory export in core.sft_export.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

FORMATS = ("sharegpt", "messages", "alpaca")
ROLES = ("human", "gpt", "observation", "function_call", "system")
_MESSAGES_TO_ROLE = {"user": "human", "assistant": "gpt", "tool": "observation", "observation": "observation",
                     "function": "function_call", "function_call": "function_call", "system": "system"}
_ROLE_TO_MESSAGES = {"human": "user", "gpt": "assistant", "observation": "tool", "function_call": "function_call",
                     "system": "system"}
_PROBLEM_PREFIX = re.compile(r"^\s*(?:题目|问题|Question|Problem)\s*[:：]\s*", re.IGNORECASE)


class DatasetError(ValueError):
    """Bad input, located: str() reads `FILE:LINE:COL: message` (line/col omitted when unknown)."""

    def __init__(self, path: str | Path | None, message: str, line: int | None = None, col: int | None = None):
        self.path = str(path) if path is not None else "<data>"
        self.message = message
        self.line = line
        self.col = col
        where = self.path + (f":{line}" if line is not None else "") + (f":{col}" if col is not None and line is not None else "")
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Turn:
    """One conversation turn with a ShareGPT role name."""

    role: str
    content: str


@dataclass
class Layout:
    """How a file was written, so that saving it back changes nothing but the edits."""

    container: str = "json"  # json (one array) | jsonl (one object a line)
    indent: int | str | None = 2
    ensure_ascii: bool = False
    separators: tuple[str, str] | None = None
    trailing_newline: bool = True


# ------------------------------------------------------------------------------------------------ parsing


def _line_col(text: str, pos: int) -> tuple[int, int]:
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
                                   _line_col(stripped, offsets[i])[1])
        return data, _detect_layout(stripped, "json"), lines
    if not jsonl:
        raise DatasetError(path, f"expected '[' (JSON array) or '{{' (JSON lines), found {first!r}",
                           *_line_col(stripped, stripped.index(first)))
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


# ------------------------------------------------------------------------------------------------ formats


def detect_format(item: dict) -> str | None:
    """'sharegpt', 'messages' or 'alpaca' from an item's keys; None when it is none of them."""
    if isinstance(item.get("conversations"), list):
        return "sharegpt"
    if isinstance(item.get("messages"), list):
        return "messages"
    if "instruction" in item or "output" in item:
        return "alpaca"
    if "conversations" in item:
        return "sharegpt"
    if "messages" in item:
        return "messages"
    return None


def _turn_keys(turns: list) -> tuple[str, str]:
    for t in turns:
        if isinstance(t, dict):
            if "from" in t or "value" in t:
                return "from", "value"
            if "role" in t or "content" in t:
                return "role", "content"
    return "from", "value"


def item_turns(item: dict, fmt: str | None = None) -> list[Turn]:
    """The item's turns with ShareGPT role names (malformed turns come out with role '?' or '')."""
    fmt = fmt or detect_format(item)
    if fmt in ("sharegpt", "messages"):
        raw = item.get("conversations" if fmt == "sharegpt" else "messages")
        if not isinstance(raw, list):
            return []
        rk, ck = _turn_keys(raw)
        out = []
        for t in raw:
            if not isinstance(t, dict):
                out.append(Turn("?", "" if t is None else str(t)))
                continue
            role = t.get(rk, "?")
            if fmt == "messages" or rk == "role":
                role = _MESSAGES_TO_ROLE.get(role, role)
            content = t.get(ck, "")
            out.append(Turn(str(role), content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)))
        return out
    if fmt == "alpaca":
        out = []
        if isinstance(item.get("system"), str) and item["system"]:
            out.append(Turn("system", item["system"]))
        for pair in item.get("history") or []:
            if isinstance(pair, (list, tuple)) and len(pair) == 2:
                out += [Turn("human", str(pair[0])), Turn("gpt", str(pair[1]))]
        prompt = str(item.get("instruction", ""))
        if item.get("input"):
            prompt = f"{prompt}\n{item['input']}"
        out += [Turn("human", prompt), Turn("gpt", str(item.get("output", "")))]
        return out
    return []


def problem_text(item: dict, fmt: str | None = None, *, strip_prefix: bool = True) -> str:
    """The item's problem: its first human turn (without a leading '题目：' when *strip_prefix*)."""
    for t in item_turns(item, fmt):
        if t.role == "human":
            return _PROBLEM_PREFIX.sub("", t.content, count=1) if strip_prefix else t.content
    return ""


def _write_turns(item: dict, fmt: str, turns: list[Turn]) -> dict:
    """A copy of *item* holding *turns*, other fields and key order kept."""
    for t in turns:
        if t.role not in ROLES:
            raise ValueError(f"unknown role {t.role!r} (expected one of {', '.join(ROLES)})")
    new = dict(item)
    if fmt in ("sharegpt", "messages"):
        key = "conversations" if fmt == "sharegpt" else "messages"
        old = item.get(key) if isinstance(item.get(key), list) else []
        rk, ck = _turn_keys(old) if old else (("from", "value") if fmt == "sharegpt" else ("role", "content"))
        as_messages = fmt == "messages" or rk == "role"
        out = []
        for i, t in enumerate(turns):
            base = dict(old[i]) if i < len(old) and isinstance(old[i], dict) else {}
            old_role = base.get(rk)
            same = (_MESSAGES_TO_ROLE.get(old_role, old_role) if as_messages else old_role) == t.role
            base[rk] = old_role if same else (_ROLE_TO_MESSAGES[t.role] if as_messages else t.role)
            base[ck] = t.content
            out.append(base)
        new[key] = out
        return new
    if fmt == "alpaca":
        body = list(turns)
        system = body.pop(0).content if body and body[0].role == "system" else None
        if len(body) < 2 or len(body) % 2 or any(
            t.role != ("human" if i % 2 == 0 else "gpt") for i, t in enumerate(body)
        ):
            raise ValueError("an alpaca item holds an optional system turn, then human/gpt pairs")
        *hist, prompt, answer = body
        old_prompt = str(item.get("instruction", "")) + (f"\n{item['input']}" if item.get("input") else "")
        if prompt.content != old_prompt:
            new["instruction"] = prompt.content
            if "input" in new:
                new["input"] = ""
        new["output"] = answer.content
        pairs = [[hist[i].content, hist[i + 1].content] for i in range(0, len(hist), 2)]
        if pairs or "history" in new:
            new["history"] = pairs
        if system is not None:
            new["system"] = system
        elif "system" in new:
            new["system"] = ""
        return new
    raise ValueError(f"cannot write turns into an item of unknown format {fmt!r}")


def make_item(turns: Iterable[Turn | tuple[str, str]], fmt: str = "sharegpt") -> dict:
    """A new item of *fmt* holding *turns* (Turn or (role, content) pairs)."""
    turns = [t if isinstance(t, Turn) else Turn(*t) for t in turns]
    base: dict = {"conversations": []} if fmt == "sharegpt" else {"messages": []} if fmt == "messages" else {
        "instruction": "", "input": "", "output": ""}
    return _write_turns(base, fmt, turns)


# ------------------------------------------------------------------------------------------------ dataset


@dataclass
class _Edit:
    label: str
    undo: Callable[[], None]
    redo: Callable[[], None]


@dataclass
class Dataset:
    """An SFT file in memory: raw items (unknown fields kept), their format, edits with undo/redo, atomic save."""

    items: list[dict]
    fmt: str = "sharegpt"
    path: Path | None = None
    layout: Layout = field(default_factory=Layout)
    lines: list[int] = field(default_factory=list)  # line of each item in the file as loaded
    dirty: bool = False
    _undo: list[_Edit] = field(default_factory=list, repr=False)
    _redo: list[_Edit] = field(default_factory=list, repr=False)
    _stamp: tuple[int, int] | None = field(default=None, repr=False)

    # -- loading and saving

    @classmethod
    def load(cls, path: str | Path) -> "Dataset":
        """Read a JSON or JSONL file; DatasetError naming FILE:LINE:COL when it is malformed."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise DatasetError(path, f"cannot read: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line, col = _line_col(raw[: exc.start].decode("utf-8", "replace"), exc.start)
            raise DatasetError(path, f"not UTF-8 text (byte {raw[exc.start]:#04x})", line, col) from None
        items, layout, lines = parse_items(text, path)
        st = path.stat()
        return cls(items=items, fmt=_majority_format(items), path=path, layout=layout, lines=lines,
                   _stamp=(st.st_mtime_ns, st.st_size))

    @classmethod
    def from_items(cls, items: list[dict], fmt: str | None = None, layout: Layout | None = None) -> "Dataset":
        """A dataset not (yet) tied to a file."""
        return cls(items=list(items), fmt=fmt or _majority_format(items), layout=layout or Layout(),
                   lines=[0] * len(items))

    def dumps(self) -> str:
        """The file's text as save() would write it."""
        return dumps_items(self.items, self.layout)

    def save(self, path: str | Path | None = None, *, backup: bool = True, force: bool = False) -> Path:
        """Write atomically (temp file in the same folder, fsync, rename), keeping the previous version as FILE.bak.

        Refuses (DatasetError) when the file changed on disk since it was loaded or saved, unless *force*.
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            raise DatasetError(None, "no file to save to")
        if path is not None and Path(path).suffix == ".jsonl" and self.layout.container != "jsonl":
            self.layout = Layout("jsonl", None, self.layout.ensure_ascii, None, True)
        elif path is not None and Path(path).suffix == ".json" and self.layout.container == "jsonl":
            self.layout = Layout("json", 2, self.layout.ensure_ascii, None, True)
        same_file = self.path is not None and target.resolve() == self.path.resolve()
        if same_file and not force and self._stamp is not None and target.exists():
            st = target.stat()
            if (st.st_mtime_ns, st.st_size) != self._stamp:
                raise DatasetError(target, "changed on disk since it was loaded; reload it or save with force")
        if backup and target.exists():
            atomic_write_bytes(target.with_name(target.name + ".bak"), target.read_bytes())
        atomic_write_text(target, self.dumps())
        st = target.stat()
        self.path, self._stamp, self.dirty = target, (st.st_mtime_ns, st.st_size), False
        return target

    # -- reading

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]

    def item_format(self, index: int) -> str | None:
        return detect_format(self.items[index]) or None

    def turns(self, index: int) -> list[Turn]:
        """Item *index*'s turns, ShareGPT role names."""
        return item_turns(self.items[index], self.item_format(index) or self.fmt)

    def problem(self, index: int) -> str:
        return problem_text(self.items[index], self.item_format(index) or self.fmt)

    def line_of(self, index: int) -> int | None:
        """Line in the file where item *index* started when loaded (None for items added since)."""
        return self.lines[index] if index < len(self.lines) and self.lines[index] else None

    # -- editing (every change is undoable)

    def _record(self, label: str, undo: Callable[[], None], redo: Callable[[], None]) -> None:
        redo()
        self._undo.append(_Edit(label, undo, redo))
        self._redo.clear()
        self.dirty = True

    def _replace_turns(self, index: int, label: str, change: Callable[[list[Turn]], list[Turn]]) -> None:
        fmt = self.item_format(index) or self.fmt
        before = copy.deepcopy(self.items[index])
        after = _write_turns(before, fmt, change(item_turns(before, fmt)))

        def put(obj):
            return lambda: self.items.__setitem__(index, copy.deepcopy(obj))

        self._record(label, put(before), put(after))

    def set_turn(self, index: int, turn: int, content: str | None = None, role: str | None = None) -> None:
        """Change the content and/or role of one turn."""

        def change(ts: list[Turn]) -> list[Turn]:
            old = ts[turn]
            ts[turn] = Turn(role if role is not None else old.role, content if content is not None else old.content)
            return ts

        self._replace_turns(index, f"edit turn {turn} of item {index}", change)

    def insert_turn(self, index: int, turn: int, role: str, content: str = "") -> None:
        """Insert a turn at position *turn* (len(turns) appends)."""
        self._replace_turns(index, f"add turn to item {index}", lambda ts: ts[:turn] + [Turn(role, content)] + ts[turn:])

    def remove_turn(self, index: int, turn: int) -> None:
        def change(ts: list[Turn]) -> list[Turn]:
            del ts[turn]
            return ts

        self._replace_turns(index, f"remove turn {turn} of item {index}", change)

    def move_turn(self, index: int, src: int, dst: int) -> None:
        """Move a turn from position *src* to *dst*."""

        def change(ts: list[Turn]) -> list[Turn]:
            ts.insert(dst, ts.pop(src))
            return ts

        self._replace_turns(index, f"move turn {src}->{dst} of item {index}", change)

    def set_turns(self, index: int, turns: list[Turn]) -> None:
        """Replace all turns of an item (what the editor round trip does)."""
        self._replace_turns(index, f"replace turns of item {index}", lambda _ts: list(turns))

    def replace_item(self, index: int, item: dict) -> None:
        before, after = copy.deepcopy(self.items[index]), copy.deepcopy(item)
        self._record(f"replace item {index}", lambda: self.items.__setitem__(index, copy.deepcopy(before)),
                     lambda: self.items.__setitem__(index, copy.deepcopy(after)))

    def add_item(self, item: dict | Iterable[Turn | tuple[str, str]], index: int | None = None) -> int:
        """Insert an item (a raw dict, or turns made into this dataset's format); returns its index."""
        obj = copy.deepcopy(item) if isinstance(item, dict) else make_item(item, self.fmt)
        at = len(self.items) if index is None else index

        def redo():
            self.items.insert(at, copy.deepcopy(obj))
            self.lines.insert(at, 0)

        def undo():
            del self.items[at]
            del self.lines[at]

        self._record(f"add item {at}", undo, redo)
        return at

    def remove_item(self, index: int) -> dict:
        obj = copy.deepcopy(self.items[index])
        line = self.lines[index] if index < len(self.lines) else 0

        def redo():
            del self.items[index]
            del self.lines[index]

        def undo():
            self.items.insert(index, copy.deepcopy(obj))
            self.lines.insert(index, line)

        self._record(f"remove item {index}", undo, redo)
        return obj

    def remove_items(self, indices: Iterable[int]) -> int:
        """Remove many items as one undoable edit (e.g. duplicates); returns how many went."""
        drop = sorted(set(indices))
        kept_before = [(i, copy.deepcopy(self.items[i]), self.lines[i] if i < len(self.lines) else 0) for i in drop]

        def redo():
            for i in reversed(drop):
                del self.items[i]
                del self.lines[i]

        def undo():
            for i, obj, line in kept_before:
                self.items.insert(i, copy.deepcopy(obj))
                self.lines.insert(i, line)

        self._record(f"remove {len(drop)} items", undo, redo)
        return len(drop)

    def move_item(self, src: int, dst: int) -> None:
        def mover(a: int, b: int):
            def go():
                self.items.insert(b, self.items.pop(a))
                self.lines.insert(b, self.lines.pop(a))
            return go

        self._record(f"move item {src}->{dst}", mover(dst, src), mover(src, dst))

    def undo(self) -> str | None:
        """Undo the last edit; returns its label, or None when there is nothing to undo."""
        if not self._undo:
            return None
        edit = self._undo.pop()
        edit.undo()
        self._redo.append(edit)
        self.dirty = True
        return edit.label

    def redo(self) -> str | None:
        if not self._redo:
            return None
        edit = self._redo.pop()
        edit.redo()
        self._undo.append(edit)
        self.dirty = True
        return edit.label

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)


def _majority_format(items: list[dict]) -> str:
    counts: dict[str, int] = {}
    for it in items[:1000]:
        f = detect_format(it)
        if f:
            counts[f] = counts.get(f, 0) + 1
    return max(counts, key=counts.get) if counts else "sharegpt"


def load_items(path: str | Path) -> list[dict]:
    """Just the raw items of a JSON/JSONL file."""
    return Dataset.load(path).items


# ------------------------------------------------------------------------------------------------ atomic I/O


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write *data* to *path* via a temp file in the same folder, fsync and rename (never a half file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


# ------------------------------------------------------------------------------------------------ $EDITOR

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
            keep = Path(tempfile.gettempdir()) / f"mathbench-item-{index}-rejected.txt"
            shutil.copyfile(tmp, keep)
            return EditOutcome(None, f"{exc} (your text is kept in {keep})")
        if not new:
            return EditOutcome(None, "no turns left; nothing changed")
        return EditOutcome(new, None, changed=new != list(turns))
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def edit_item_in_editor(ds: Dataset, index: int, *, editor: str | None = None) -> EditOutcome:
    """Open item *index* of *ds* in the editor and apply the result as one undoable edit when it changed."""
    outcome = edit_turns_in_editor(ds.turns(index), index=index, editor=editor)
    if outcome.turns is not None and outcome.changed:
        try:
            ds.set_turns(index, outcome.turns)
        except ValueError as exc:
            return EditOutcome(None, str(exc))
    return outcome


# ------------------------------------------------------------------------------------------------ stats

_CJK = re.compile(r"[\u4e00-\u9fff]")
_CODE_BLOCK = re.compile(r"```[ \t]*(?:python3?|py)\b", re.IGNORECASE)


def _dist(values: list[int]) -> dict:
    if not values:
        return {"min": 0, "median": 0, "mean": 0, "max": 0}
    s = sorted(values)
    return {"min": s[0], "median": s[len(s) // 2], "mean": round(sum(s) / len(s), 1), "max": s[-1]}


def dataset_stats(items: list[dict], fmt: str | None = None) -> dict:
    """Counts and length figures of a dataset (no code is run): what `mathbench data stats` prints."""
    from collections import Counter

    from mathbench.core.grading import extract_answer

    roles: Counter = Counter()
    n_turns: Counter = Counter()
    langs: Counter = Counter()
    rules: Counter = Counter()
    formats: Counter = Counter()
    with_code = 0
    prob_len, ans_len = [], []
    for it in items:
        f = detect_format(it) or "unknown"
        formats[f] += 1
        ts = item_turns(it, None if f == "unknown" else f)
        n_turns[len(ts)] += 1
        roles.update(t.role for t in ts)
        prob = next((t.content for t in ts if t.role == "human"), "")
        prob_len.append(len(prob))
        langs["zh" if _CJK.search(_PROBLEM_PREFIX.sub("", prob, count=1)) else "en"] += 1
        gpts = [t.content for t in ts if t.role == "gpt"]
        ans_len.append(sum(len(g) for g in gpts))
        if any(_CODE_BLOCK.search(g) for g in gpts):
            with_code += 1
        rules[extract_answer(gpts[-1]).rule if gpts else "none"] += 1
    return {
        "items": len(items),
        "format": fmt or (formats.most_common(1)[0][0] if formats else None),
        "formats": dict(formats),
        "turns": {str(k): v for k, v in sorted(n_turns.items())},
        "roles": dict(roles),
        "with_code": with_code,
        "languages": dict(langs),
        "answer_rules": dict(rules.most_common()),
        "problem_chars": _dist(prob_len),
        "response_chars": _dist(ans_len),
    }
