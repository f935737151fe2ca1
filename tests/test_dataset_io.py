"""Loading, round-tripping, editing with undo, atomic saving and the $EDITOR round trip of SFT files."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from mathbench.core.datasets.dataset import Dataset

from mathbench.core.datasets.editor import edit_item_in_editor, text_to_turns, turns_to_text

from mathbench.core.datasets.items import Turn, make_item, problem_text

from mathbench.core.datasets.jsonfile import DatasetError

ITEMS = [
    {"id": "a1", "conversations": [
        {"from": "human", "value": "题目：1+1=?"},
        {"from": "gpt", "value": "计算：```python\nprint(1+1)\n```", "weight": 1.0},
        {"from": "human", "value": "运行结果为：```2```"},
        {"from": "gpt", "value": "因此答案是 \\boxed{2}。"},
    ], "source": "hand", "zz": [1, 2]},
    {"conversations": [{"from": "human", "value": "Q2"}, {"from": "gpt", "value": "A2 \\boxed{3}"}], "meta": {"k": "v"}},
]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("indent", [4, 2, None])
def test_unchanged_json_round_trips_byte_for_byte(tmp_path, indent):
    text = json.dumps(ITEMS, ensure_ascii=False, indent=indent)
    f = _write(tmp_path / "d.json", text)
    ds = Dataset.load(f)
    assert ds.fmt == "sharegpt" and len(ds) == 2
    assert ds.dumps() == text
    ds.save()
    assert f.read_text(encoding="utf-8") == text


def test_jsonl_round_trip_and_line_numbers(tmp_path):
    text = "".join(json.dumps(it, ensure_ascii=False) + "\n" for it in ITEMS)
    f = _write(tmp_path / "d.jsonl", "\n" + text)
    ds = Dataset.load(f)
    assert ds.lines == [2, 3]
    assert ds.dumps() == text


def test_real_files_round_trip_exactly(shared_data):
    files = sorted((shared_data / "sft").glob("*.json"))
    assert len(files) == 5
    total = 0
    for f in files:
        ds = Dataset.load(f)
        total += len(ds)
        assert ds.dumps() == f.read_text(encoding="utf-8"), f.name
    assert total == 3693


def test_edit_keeps_unknown_fields_and_key_order(tmp_path):
    f = _write(tmp_path / "d.json", json.dumps(ITEMS, ensure_ascii=False, indent=2))
    ds = Dataset.load(f)
    ds.set_turn(0, 3, content="所以 \\boxed{2}")
    ds.save()
    back = json.loads(f.read_text(encoding="utf-8"))
    assert list(back[0]) == ["id", "conversations", "source", "zz"]
    assert back[0]["conversations"][1] == ITEMS[0]["conversations"][1]  # the extra "weight" key survives
    assert back[0]["conversations"][3] == {"from": "gpt", "value": "所以 \\boxed{2}"}
    assert back[1] == ITEMS[1]


@pytest.mark.parametrize(
    "text, line, col, words",
    [
        ('[\n  {"conversations": []},\n  {"conversations": [] "x": 1}\n]', 3, 24, "Expecting ',' delimiter"),
        ('[\n  {"a": 1},\n  3\n]', 3, 3, "item 1 is a int"),
        ("", 1, 1, "empty file"),
        ('{"a": 1}\n{"b": \n', 2, 7, "invalid JSON"),
        ('{"a": 1}\n[1]\n', 2, 1, "expected an object"),
        ('{"a": 1} {"b": 2}\n', 1, 10, "extra data"),
    ],
)
def test_malformed_files_name_file_line_col(tmp_path, text, line, col, words):
    f = _write(tmp_path / "bad.json", text)
    with pytest.raises(DatasetError) as ei:
        Dataset.load(f)
    err = ei.value
    assert (err.line, err.col) == (line, col)
    assert str(err).startswith(f"{f}:{line}:{col}: ")
    assert words in str(err)


def test_not_utf8_is_located(tmp_path):
    f = tmp_path / "bad.json"
    f.write_bytes(b'[\n {"a": "\xff"}\n]')
    with pytest.raises(DatasetError, match=r"bad.json:2:\d+: not UTF-8"):
        Dataset.load(f)


def test_messages_and_alpaca_formats(tmp_path):
    msgs = [{"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"},
                          {"role": "assistant", "content": "A"}], "tag": 1}]
    ds = Dataset.load(_write(tmp_path / "m.jsonl", "\n".join(json.dumps(m) for m in msgs) + "\n"))
    assert ds.fmt == "messages"
    assert ds.turns(0) == [Turn("system", "S"), Turn("human", "Q"), Turn("gpt", "A")]
    ds.insert_turn(0, 3, "human", "more?")
    ds.insert_turn(0, 4, "gpt", "no")
    assert ds.items[0]["messages"][3] == {"role": "user", "content": "more?"}
    assert ds.items[0]["tag"] == 1

    alp = [{"instruction": "Add", "input": "1 and 2", "output": "3", "system": "be brief",
            "history": [["hi", "hello"]], "extra": True}]
    ds = Dataset.load(_write(tmp_path / "a.json", json.dumps(alp)))
    assert ds.fmt == "alpaca"
    assert [t.role for t in ds.turns(0)] == ["system", "human", "gpt", "human", "gpt"]
    assert ds.turns(0)[3].content == "Add\n1 and 2"
    ds.set_turn(0, 4, content="three")
    assert ds.items[0]["output"] == "three" and ds.items[0]["input"] == "1 and 2" and ds.items[0]["extra"] is True
    with pytest.raises(ValueError):
        ds.insert_turn(0, 5, "human", "dangling")  # alpaca holds pairs only
    assert ds.items[0]["output"] == "three"


def test_edits_undo_redo(tmp_path):
    ds = Dataset.load(_write(tmp_path / "d.json", json.dumps(ITEMS, ensure_ascii=False)))
    original = json.loads(json.dumps(ds.items))
    ds.set_turn(0, 0, content="题目：2+2=?")
    ds.move_turn(1, 0, 1)
    ds.remove_turn(0, 3)
    ds.add_item([("human", "new"), ("gpt", "item")], index=0)
    ds.move_item(0, 2)
    ds.remove_item(1)
    assert ds.dirty and len(ds) == 2
    while ds.undo():
        pass
    assert ds.items == original
    assert ds.redo() == "edit turn 0 of item 0"
    assert ds.turns(0)[0].content == "题目：2+2=?"
    ds.remove_items([0, 1])
    assert len(ds) == 0
    ds.undo()
    assert len(ds) == 2 and ds.turns(0)[0].content == "题目：2+2=?"


def test_save_is_atomic_keeps_backup_and_refuses_outside_changes(tmp_path):
    f = _write(tmp_path / "d.json", json.dumps(ITEMS, ensure_ascii=False))
    before = f.read_text(encoding="utf-8")
    ds = Dataset.load(f)
    ds.set_turn(1, 1, content="changed")
    ds.save()
    assert (tmp_path / "d.json.bak").read_text(encoding="utf-8") == before
    assert json.loads(f.read_text(encoding="utf-8"))[1]["conversations"][1]["value"] == "changed"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    f.write_text(before + " ", encoding="utf-8")  # someone else changed the file
    ds.set_turn(1, 1, content="again")
    with pytest.raises(DatasetError, match="changed on disk"):
        ds.save()
    assert f.read_text(encoding="utf-8") == before + " "
    ds.save(force=True)
    assert json.loads(f.read_text(encoding="utf-8"))[1]["conversations"][1]["value"] == "again"


def test_problem_text_strips_prefix():
    assert problem_text(ITEMS[0]) == "1+1=?"
    assert problem_text(ITEMS[0], strip_prefix=False) == "题目：1+1=?"
    assert make_item([("human", "q"), ("gpt", "a")]) == {"conversations": [{"from": "human", "value": "q"},
                                                                          {"from": "gpt", "value": "a"}]}


def test_editor_text_round_trip_is_exact():
    turns = [Turn("human", "\n运行结果：\n### 标题\n"), Turn("gpt", "line1\n\nline3"), Turn("observation", "")]
    assert text_to_turns(turns_to_text(turns, 5)) == turns


def test_editor_text_errors_name_the_line():
    with pytest.raises(DatasetError, match=r"f.txt:3:4: unknown role 'bot'"):
        text_to_turns("# c\n<<<human>>>\n<<<bot>>>\nx", "f.txt")
    with pytest.raises(DatasetError, match=r"f.txt:1:1: text before"):
        text_to_turns("stray\n<<<human>>>\nx", "f.txt")


def _fake_editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text(textwrap.dedent(body), encoding="utf-8")
    return f"{sys.executable} {script}"


def test_open_item_in_editor_applies_changes_as_one_undo(tmp_path):
    ds = Dataset.from_items(json.loads(json.dumps(ITEMS)))
    editor = _fake_editor(tmp_path, """
        import sys
        p = sys.argv[1]
        t = open(p, encoding="utf-8").read().replace("\\\\boxed{2}", "\\\\boxed{two}")
        open(p, "w", encoding="utf-8").write(t + "<<<human>>>\\nthanks\\n<<<gpt>>>\\nyou're welcome\\n")
    """)
    out = edit_item_in_editor(ds, 0, editor=editor)
    assert out.error is None and out.changed
    assert ds.turns(0)[3].content == "因此答案是 \\boxed{two}。"
    assert [t.role for t in ds.turns(0)] == ["human", "gpt", "human", "gpt", "human", "gpt"]
    assert ds.items[0]["conversations"][1]["weight"] == 1.0
    ds.undo()
    assert ds.items[0] == ITEMS[0]


def test_editor_mistake_is_reported_and_nothing_changes(tmp_path):
    ds = Dataset.from_items(json.loads(json.dumps(ITEMS)))
    editor = _fake_editor(tmp_path, """
        import sys
        open(sys.argv[1], "a", encoding="utf-8").write("<<<robot>>>\\nhi\\n")
    """)
    out = edit_item_in_editor(ds, 1, editor=editor)
    assert out.turns is None and "unknown role 'robot'" in out.error and ":" in out.error
    assert ds.items == ITEMS and not ds.can_undo
    out = edit_item_in_editor(ds, 1, editor=f"{sys.executable} -c pass")
    assert out.error is None and not out.changed and not ds.can_undo
