"""The fast reader (orjson + numpy) agrees with the exact one on every file, or leaves the file to it."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mathbench.core.datasets import Dataset, DatasetError
from mathbench.core.datasets import fastparse
from mathbench.core.datasets.jsonfile import parse_bytes, parse_items

# Text that stresses the scan: quotes, runs of backslashes, brackets, colons and line breaks inside strings.
_TRICKY = st.lists(st.sampled_from(list('ab"\\[]{}:,\n\t 题é\u2028') + ["\\\\", '\\"']), max_size=8).map("".join)
_SCALARS = st.one_of(_TRICKY, st.integers(-10**6, 10**6), st.integers(-10**25, 10**25), st.booleans(), st.none(),
                     st.floats(allow_nan=False, allow_infinity=False, width=64))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                          st.dictionaries(_TRICKY, inner, max_size=3)), max_leaves=8)
_ITEMS = st.lists(st.dictionaries(_TRICKY, _VALUES, max_size=4), max_size=6)
_LAYOUTS = st.sampled_from([
    {"indent": None}, {"indent": 2}, {"indent": 4}, {"indent": "\t"}, {"separators": (",", ":")},
    {"indent": 2, "ensure_ascii": False}, {"indent": None, "ensure_ascii": False},
])


def exact(text: str):
    items, layout, lines = parse_items(text, "f.json")
    return items, layout, lines


def fast(raw: bytes, path: str = "f.json"):
    items, layout, lines = parse_bytes(raw, path)
    return items, layout, lines if isinstance(lines, list) else lines()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=_ITEMS, layout=_LAYOUTS, lazy=st.booleans())
def test_any_valid_array_reads_the_same_items_layout_and_lines(items, layout, lazy, monkeypatch_module):
    monkeypatch_module.setattr(fastparse, "EAGER_LINES", -1 if lazy else 1 << 30)
    text = json.dumps(items, **layout) + "\n"
    assert fast(text.encode("utf-8")) == exact(text)


@settings(max_examples=150, deadline=None)
@given(items=st.lists(st.dictionaries(_TRICKY, _VALUES, max_size=4), max_size=6),
       blank=st.lists(st.booleans(), min_size=6, max_size=6), tail=st.booleans())
def test_any_valid_jsonl_reads_the_same(items, blank, tail):
    lines = []
    for it, gap in zip(items, blank, strict=False):
        lines += [json.dumps(it, ensure_ascii=False)] + ([""] if gap else [])
    text = "\n".join(lines) + ("" if tail else "\n")
    if not text.strip():
        return
    assert fast(text.encode("utf-8"), "f.jsonl") == parse_items(text, "f.jsonl")


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.mark.parametrize("text", [
    '[{"a": 1, "a": 2}]',
    '[\n  {"conversations": [{"from": "human", "value": "x", "from": "gpt"}]}\n]',
    '[{"k\\u003a": 1, "k:": 2}, {"b": {"c": 1, "c": "\\u003a"}}]',
    '[{"v": ":", "w": ":", "v": 3}]',
])
def test_a_key_repeated_anywhere_is_refused_with_its_place(tmp_path, text):
    f = tmp_path / "dup.json"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(DatasetError, match="duplicate key") as ei:
        Dataset.load(f)
    assert ei.value.line is not None and ei.value.col is not None


@pytest.mark.parametrize("text", [
    '[{"x": NaN}]', '[{"x": 123456789012345678901234567890}]', '[{"x": "\\ud800"}]', '[{"x": 1e999}]',
    '[{"a": 1}, 2]', '[{"a": [1, 2}]', '[{"a": "\x01"}]',
])
def test_what_orjson_reads_differently_or_refuses_gets_the_exact_readers_answer(tmp_path, text):
    f = tmp_path / "odd.json"
    f.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        want = parse_items(text, f)
    except DatasetError as exc:
        with pytest.raises(DatasetError) as got:
            Dataset.load(f)
        assert str(got.value) == str(exc)
        return
    ds = Dataset.load(f)
    assert json.dumps(ds.items) == json.dumps(want[0]) and ds.lines == want[2]


def test_a_big_files_lines_are_found_after_its_items_and_then_agree_with_the_exact_reader(tmp_path, monkeypatch):
    monkeypatch.setattr(fastparse, "EAGER_LINES", 0)
    items = [{"conversations": [{"from": "human", "value": f'q{i} "[{{\\'},
                                {"from": "gpt", "value": "a\n]}"}]} for i in range(50)]
    f = tmp_path / "big.json"
    text = json.dumps(items, indent=2, ensure_ascii=False) + "\n"
    f.write_text(text, encoding="utf-8")
    ds = Dataset.load(f)
    assert not ds.lines_known and ds.line_of(3, wait=False) is None
    assert ds.line_of(3) == exact(text)[2][3] and ds.lines_known
    assert ds.lines == exact(text)[2]


def test_should_the_scan_ever_miscount_the_exact_reader_finds_the_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(fastparse, "EAGER_LINES", 0)
    monkeypatch.setattr(fastparse, "_array_item_lines", lambda raw: [1])
    text = json.dumps([{"a": 1}, {"b": 2}, {"c": 3}], indent=2)
    f = tmp_path / "x.json"
    f.write_text(text, encoding="utf-8")
    assert Dataset.load(f).lines == [2, 5, 8]


def test_a_bom_and_crlf_array_reads_fast_with_its_layout(tmp_path):
    items = [{"a": "é"}, {"b": [1, 2]}]
    text = json.dumps(items, indent=2, ensure_ascii=False).replace("\n", "\r\n") + "\r\n"
    raw = b"\xef\xbb\xbf" + text.encode("utf-8")
    assert fast(raw) == exact("\ufeff" + text)
    assert fastparse.fast_items(raw[3:], "json", list) is not None  # not left to the exact reader


def test_items_written_back_a_batch_at_a_time_still_find_a_late_repeat_or_a_big_integer(tmp_path, monkeypatch):
    monkeypatch.setattr(fastparse, "_WRITE_BATCH", 2)
    f = tmp_path / "late.json"
    f.write_text('[{"a": 1}, {"b": ":"}, {"c": 2}, {"d": 3, "d": 4}]', encoding="utf-8")
    with pytest.raises(DatasetError, match="duplicate key 'd'"):
        Dataset.load(f)
    f.write_text('[{"a": 1}, {"b": 2}, {"c": 123456789012345678901234567890}]', encoding="utf-8")
    assert Dataset.load(f).items[2]["c"] == 123456789012345678901234567890
    f.write_text('[{"a": ":"}, {"b": "x:y"}, {"c": 1}]', encoding="utf-8")
    assert fastparse.fast_items(f.read_bytes(), "json", list) is not None  # colons in strings: still the fast path
