"""The Data screen's filter bar (file, search, status, code, duplicates and benchmark overlap, source) and the
row filter it drives."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Select

STATUS_OPTIONS = [("any status", "any"), ("not validated", "none"), ("schema error", "schema"),
                  ("code match", "match"), ("mismatch", "mismatch"), ("code error", "error"),
                  ("timeout", "timeout"), ("no code", "no_code")]


DUP_OPTIONS = [("dups: any", "any"), ("in a dup cluster", "dup"), ("repeats a benchmark", "bench")]


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


class DataFilters(Horizontal):
    """The selectors above the item list; the screen reads them as a FilterSpec."""

    def compose(self) -> ComposeResult:
        yield Select([], prompt="dataset file", id="data-file")
        yield Input(placeholder="search every turn (/regex)", id="data-search")
        yield Select(STATUS_OPTIONS, value="any", allow_blank=False, id="data-status")
        yield Select([("code: any", "any"), ("has code", "yes"), ("no code", "no")], value="any",
                     allow_blank=False, id="data-code")
        yield Select(DUP_OPTIONS, value="any", allow_blank=False, id="data-dup")
        yield Select([("source: any", "any")], value="any", allow_blank=False, id="data-source")

    def spec(self) -> FilterSpec:
        """The filters as they stand."""
        return FilterSpec(query=self.query_one("#data-search", Input).value.strip(),
                          status=str(self.query_one("#data-status", Select).value),
                          code=str(self.query_one("#data-code", Select).value),
                          dup=str(self.query_one("#data-dup", Select).value),
                          source=str(self.query_one("#data-source", Select).value))

    def show_files(self, files: list[Path], open_path: Path | None) -> None:
        """Offer *files*, the picker pointing at the file the screen shows (none: blank)."""
        select = self.query_one("#data-file", Select)
        with select.prevent(Select.Changed):
            select.set_options([(p.name, str(p)) for p in files])
            if open_path is not None and open_path in files:
                select.value = str(open_path)
            else:
                select.clear()

    def choose_file(self, path: Path) -> None:
        """Pick *path*, as the user would (the screen opens it)."""
        self.query_one("#data-file", Select).value = str(path)

    def show_sources(self, counts: Counter) -> None:
        """Offer the items' `source` values (*counts*; merged and synthesized data carry one) as a filter."""
        select = self.query_one("#data-source", Select)
        options = [("source: any", "any")] + [(f"{name} ({n})", name) for name, n in counts.most_common() if name]
        with select.prevent(Select.Changed):
            select.set_options(options)
            select.value = "any"
        select.display = len(options) > 1
