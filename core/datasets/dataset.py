"""An SFT file in memory: its items as loaded, edits with undo and redo, and an atomic save."""

from __future__ import annotations

import copy
import gc
import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mathbench.core.datasets.items import Turn, detect_format, item_turns, majority_format, make_item, problem_text, write_turns
from mathbench.core.datasets.jsonfile import DatasetError, Layout, dumps_items, parse_bytes
from mathbench.core.storage import atomic_write_bytes


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
    dirty: bool = False
    _undo: list[_Edit] = field(default_factory=list, repr=False)
    _redo: list[_Edit] = field(default_factory=list, repr=False)
    _digest: str | None = field(default=None, repr=False)  # SHA-256 of the file as last read or written
    # Each item's line in the file as loaded; a big file's are found after its rows show (see `lines`).
    _lines: list[int] | None = field(default=None, repr=False, compare=False)
    _find_lines: Callable[[], list[int]] | None = field(default=None, repr=False, compare=False)
    _lines_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    # -- loading and saving

    @classmethod
    def load(cls, path: str | Path, on_progress: Callable[[int, int], None] | None = None) -> "Dataset":
        """Read a JSON or JSONL file; DatasetError naming FILE:LINE:COL when it is malformed.

        *on_progress(done, total)* hears how far parsing got (about every 4 MB) in a big file.
        """
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise DatasetError(path, f"cannot read: {exc.strerror or exc}") from None
        # Millions of new objects: the cyclic GC would scan them again and again while they are made.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            items, layout, lines = parse_bytes(raw, path, on_progress=on_progress)
        finally:
            if was_enabled:
                gc.enable()
        return cls(items=items, fmt=majority_format(items), path=path, layout=layout, _digest=_digest(raw),
                   _lines=lines if isinstance(lines, list) else None,
                   _find_lines=None if isinstance(lines, list) else lines)

    @classmethod
    def from_items(cls, items: list[dict], fmt: str | None = None, layout: Layout | None = None) -> "Dataset":
        """A dataset not (yet) tied to a file."""
        return cls(items=list(items), fmt=fmt or majority_format(items), layout=layout or Layout(),
                   _lines=[0] * len(items))

    def dumps(self) -> str:
        """The file's text as save() would write it."""
        return dumps_items(self.items, self.layout)

    def save(self, path: str | Path | None = None, *, backup: bool = True, force: bool = False) -> Path:
        """Write atomically (temp file in the same folder, fsync, rename), keeping the previous version as FILE.bak.

        Refuses (DatasetError) when the file's content changed on disk since it was loaded or saved, unless
        *force*. A symlink is written through: the link stays and its target gets the new content.
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            raise DatasetError(None, "no file to save to")
        if path is not None and Path(path).suffix == ".jsonl" and self.layout.container != "jsonl":
            self.layout = Layout("jsonl", None, self.layout.ensure_ascii, None, True, self.layout.bom, self.layout.newline)
        elif path is not None and Path(path).suffix == ".json" and self.layout.container == "jsonl":
            self.layout = Layout("json", 2, self.layout.ensure_ascii, None, True, self.layout.bom, self.layout.newline)
        same_file = self.path is not None and target.resolve() == self.path.resolve()
        if same_file and not force and self._digest is not None:
            try:
                on_disk = _digest(target.read_bytes())
            except FileNotFoundError:
                on_disk = self._digest  # gone: writing it again loses nothing
            if on_disk != self._digest:
                raise DatasetError(target, "changed on disk since it was loaded; reload it or save with force")
        if backup and target.exists():
            bak = target.with_name(target.name + ".bak")
            if bak.is_symlink():
                bak.unlink()  # a backup replaces the link itself, never whatever it points to
            atomic_write_bytes(bak, target.read_bytes())
        data = self.dumps().encode("utf-8")
        atomic_write_bytes(target, data)
        self.path, self._digest, self.dirty = target, _digest(data), False
        return target

    # -- reading

    def __repr__(self) -> str:  # short: a worker's description repr()s its arguments, and items can be millions
        return f"Dataset({str(self.path) if self.path else 'in memory'!r}, {len(self.items)} items, {self.fmt})"

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

    @property
    def lines(self) -> list[int]:
        """The line each item started on in the file as loaded (0 for items added since); found on first use."""
        with self._lines_lock:
            if self._lines is None:
                self._lines = self._find_lines() if self._find_lines is not None else []
                self._find_lines = None
            return self._lines

    @property
    def lines_known(self) -> bool:
        """Whether `lines` answers at once (a big file's are found on first use, taking a moment)."""
        return self._lines is not None

    def line_of(self, index: int, *, wait: bool = True) -> int | None:
        """Line in the file where item *index* started when loaded (None for items added since, or, unless
        *wait*, while the lines are still to be found)."""
        if not wait and not self.lines_known:
            return None
        lines = self.lines
        return lines[index] if index < len(lines) and lines[index] else None

    # -- editing (every change is undoable)

    def _record(self, label: str, undo: Callable[[], None], redo: Callable[[], None]) -> None:
        redo()
        self._undo.append(_Edit(label, undo, redo))
        self._redo.clear()
        self.dirty = True

    def _replace_turns(self, index: int, label: str, change: Callable[[list[Turn]], list[Turn]]) -> None:
        fmt = self.item_format(index) or self.fmt
        before = copy.deepcopy(self.items[index])
        after = write_turns(before, fmt, change(item_turns(before, fmt)))

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



def load_items(path: str | Path) -> list[dict]:
    """Just the raw items of a JSON/JSONL file."""
    return Dataset.load(path).items


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
