"""Valid SFT files read fast: orjson parses, numpy finds each item's line; anything unusual falls back to the exact reader."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

_BLANK = b"\x00 \t\r"
EAGER_LINES = 4 << 20  # bytes: the lines of a smaller array are found while it loads
_WRITE_BATCH = 10_000  # items written back at once to count their colons


def fast_items(raw: bytes, container: str, exact_lines: Callable[[], list[int]], *,
               on_progress: Callable[[int, int], None] | None = None
               ) -> tuple[list[dict], list[int] | Callable[[], list[int]]] | None:
    """Items and their lines from a JSON array or JSON lines *raw* (no BOM), or None where the exact reader must decide.

    None covers everything the exact reader reports or reads otherwise: malformed JSON, invalid UTF-8, NaN,
    integers past 64 bits, lone surrogates, an item that is not an object, and a key repeated within an object.
    A big array's lines come as a function that finds them, so that its rows can show first; should that ever
    miscount, *exact_lines()* (the exact reader's) answer instead.
    *on_progress(done, total)* hears, in bytes, when each step ends.
    """
    import orjson

    def progress(share: float) -> None:
        if on_progress is not None:
            on_progress(int(len(raw) * share), len(raw))

    lines: list[int] | Callable[[], list[int]] | None
    try:
        if container == "jsonl":
            items, lines = _jsonl(raw, orjson.loads)
        else:
            items = orjson.loads(raw)
            if not isinstance(items, list) or not all(type(it) is dict for it in items):
                return None
            lines = partial(_array_lines, raw, len(items), exact_lines)
            if len(raw) <= EAGER_LINES:
                lines = lines()
        progress(0.7)
        if lines is None or _reads_differently(raw, items, orjson.dumps):
            return None
        progress(1.0)
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return None
    return items, lines


def _array_lines(raw: bytes, count: int, exact_lines: Callable[[], list[int]]) -> list[int]:
    """The line each of the *count* objects of the valid JSON array *raw* starts on."""
    lines = _array_item_lines(raw)
    return lines if len(lines) == count else exact_lines()


def _jsonl(raw: bytes, loads: Any) -> tuple[list[dict], list[int] | None]:
    items: list[dict] = []
    lines: list[int] = []
    for number, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip(_BLANK):
            continue
        item = loads(line)
        if type(item) is not dict:
            return [], None
        items.append(item)
        lines.append(number)
    return items, lines


def _reads_differently(raw: bytes, items: list, dumps: Any) -> bool:
    """Whether the exact reader could read *raw* otherwise than orjson read *items*.

    orjson keeps the last value of a repeated key and reads an integer past 64 bits as a float. Every key
    is followed by one ':' and orjson never escapes ':', so the colons in *raw* and in *items* written back
    agree exactly when no key was dropped (a ':' written as an escape would break the count, so such a file
    goes to the exact reader); such a float is written back with an exponent (`1.2e+19`), so one is looked for.
    """
    if b"\\u003a" in raw or b"\\u003A" in raw:
        return True
    colons = 0
    for start in range(0, len(items), _WRITE_BATCH):  # a batch at a time: the whole file written back is a copy
        written = dumps(items[start:start + _WRITE_BATCH])
        colons += written.count(b":")
        at = written.find(b"e+")
        while at > 0:
            if written[at - 1:at].isdigit() and written[at + 2:at + 3].isdigit():
                return True
            at = written.find(b"e+", at + 2)
    return colons != raw.count(b":")


def _array_item_lines(raw: bytes) -> list[int]:
    """The line each element of the top-level array in *raw* starts on, if *raw* is valid JSON.

    Quotes not escaped by an odd run of backslashes bound the strings; brackets outside them give the depth,
    and an opening bracket at depth one starts an element.
    """
    import numpy as np

    data = np.frombuffer(raw, dtype=np.uint8)
    quotes = np.flatnonzero(data == 34)
    quotes = quotes[~_escaped(data, quotes)]
    opens = np.flatnonzero((data == 123) | (data == 91))
    opens = opens[(np.searchsorted(quotes, opens) & 1) == 0]
    closes = np.flatnonzero((data == 125) | (data == 93))
    closes = closes[(np.searchsorted(quotes, closes) & 1) == 0]
    # Before the i-th opening bracket stand i others and the closing ones found before it.
    depth_before = np.arange(len(opens)) - np.searchsorted(closes, opens)
    starts = opens[depth_before == 1]
    return (np.searchsorted(np.flatnonzero(data == 10), starts) + 1).tolist()


def _escaped(data: Any, quotes: Any) -> Any:
    """For each quote position, whether an odd run of backslashes stands right before it."""
    import numpy as np

    escaped = np.zeros(len(quotes), dtype=bool)
    candidates = np.flatnonzero((quotes > 0) & (data[np.maximum(quotes - 1, 0)] == 92))
    if not len(candidates):
        return escaped
    slashes = np.flatnonzero(data == 92)
    run_start = np.r_[True, np.diff(slashes) != 1]
    starts = slashes[run_start]
    ends = slashes[np.r_[run_start[1:], True]]
    before = quotes[candidates] - 1
    lengths = before - starts[np.searchsorted(ends, before)] + 1
    escaped[candidates] = (lengths & 1) == 1
    return escaped
