"""The Data screen's row filter, in core: search (substring or /regex), status, code, duplicates, source."""

from __future__ import annotations

import re

import pytest

from mathbench.core.datasets import Dataset
from mathbench.core.datasets.filtering import FilterSpec, matching_rows


def _item(question: str, code: bool, source: str = "") -> dict:
    reply = "```python\nprint(1)\n```" if code else "The answer is \\boxed{1}."
    item = {"conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": reply}]}
    return item | ({"source": source} if source else {})


DATA = Dataset.from_items([_item("Apples and pears", True, "gsm8k"), _item("苹果有几个", False),
                           _item("How many PEARS?", True, "synth"), _item("Trains", False, "synth")])


@pytest.mark.parametrize("spec,statuses,clusters,flagged,want", [
    (FilterSpec(), {}, {}, (), [0, 1, 2, 3]),
    (FilterSpec(query="pears"), {}, {}, (), [0, 2]),  # case-insensitive substring
    (FilterSpec(query="/^how|苹果"), {}, {}, (), [1, 2]),  # a regex
    (FilterSpec(code="no"), {}, {}, (), [1, 3]),
    (FilterSpec(status="match"), {0: "match", 3: "error"}, {}, (), [0]),
    (FilterSpec(status="none"), {0: "match", 3: "error"}, {}, (), [1, 2]),
    (FilterSpec(dup="dup"), {}, {1: 1, 3: 1}, (), [1, 3]),
    (FilterSpec(dup="bench"), {}, {}, (2,), [2]),
    (FilterSpec(source="synth", code="yes"), {}, {}, (), [2]),
])
def test_each_selector_keeps_what_it_says(spec, statuses, clusters, flagged, want):
    assert matching_rows(DATA, spec, statuses, clusters, flagged=flagged) == want


def test_a_bad_regex_is_an_error_and_a_cancelled_filter_gives_none():
    with pytest.raises(re.error):
        matching_rows(DATA, FilterSpec(query="/(unclosed"), {}, {})
    assert matching_rows(DATA, FilterSpec(), {}, {}, cancelled=lambda: True) is None
