"""Which items of a dataset a search and the Data screen's selectors keep, in order."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class FilterSpec:
    """What the filter bar asks for: a search (substring, or /regex) and one choice per selector."""

    query: str = ""
    status: str = "any"
    code: str = "any"
    dup: str = "any"
    source: str = "any"


def source_of(item: dict) -> str:
    """Where an item came from, when it says so (`source` as merged or synthesized data write it)."""
    value = item.get("source") if isinstance(item, dict) else None
    return str(value) if value not in (None, "") else ""


def has_code(turns) -> bool:
    """Whether a reply among *turns* holds a fenced block."""
    return any(t.role in ("gpt", "function_call") and "```" in t.content for t in turns)


def matcher(query: str) -> Callable[[str], bool]:
    """A predicate over text: `/regex` (case-insensitive) or a case-insensitive substring; re.error when bad."""
    if query.startswith("/") and len(query) > 1:
        regex = re.compile(query[1:], re.IGNORECASE)
        return lambda text: regex.search(text) is not None
    needle = query.lower()
    return lambda text: needle in text.lower()


def matching_rows(dataset, spec: FilterSpec, statuses: Mapping[int, str], clusters: Mapping[int, int],
                  cancelled: Callable[[], bool] = lambda: False, flagged: Collection[int] = ()) -> list[int] | None:
    """Indices of the items *spec* keeps, in order; None when *cancelled* says to stop (checked every 5,000).

    *flagged* holds the items that repeat a benchmark problem (spec.dup == "bench" keeps only those).
    """
    match = matcher(spec.query) if spec.query else None
    rows = []
    for index in range(len(dataset)):
        if index % 5000 == 0 and cancelled():
            return None
        if spec.status != "any" and statuses.get(index, "none") != spec.status:
            continue
        if spec.dup == "dup" and index not in clusters:
            continue
        if spec.dup == "bench" and index not in flagged:
            continue
        if spec.source != "any" and source_of(dataset[index]) != spec.source:
            continue
        if spec.code != "any" or match is not None:
            turns = dataset.turns(index)
            if spec.code != "any" and has_code(turns) != (spec.code == "yes"):
                continue
            if match is not None and not any(match(t.content) for t in turns):
                continue
        rows.append(index)
    return rows
