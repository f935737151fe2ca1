"""The Data screen's filter bar: file, search, status, code, duplicates and benchmark overlap, source."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Select

from mathbench.core.datasets.filtering import FilterSpec

STATUS_OPTIONS = [("any status", "any"), ("not validated", "none"), ("schema error", "schema"),
                  ("code match", "match"), ("mismatch", "mismatch"), ("code error", "error"),
                  ("timeout", "timeout"), ("no code", "no_code")]


DUP_OPTIONS = [("dups: any", "any"), ("in a dup cluster", "dup"), ("repeats a benchmark", "bench")]


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
