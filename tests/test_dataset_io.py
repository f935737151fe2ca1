"""Loading, round-tripping, editing with undo, atomic saving and the $EDITOR round trip of SFT files."""

from __future__ import annotations

import json
import os
import sys
import tempfile
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


def test_saving_through_a_symlink_writes_the_target_and_keeps_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    real = _write(tmp_path / "real" / "d.json", json.dumps(ITEMS))
    link = tmp_path / "link.json"
    link.symlink_to(real)
    ds = Dataset.load(link)
    ds.set_turn(1, 1, content="through the link")
    ds.save()
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert json.loads(real.read_text(encoding="utf-8"))[1]["conversations"][1]["value"] == "through the link"
    ds.set_turn(1, 1, content="and again")
    ds.save()  # the file it wrote is the file it knows: no false "changed on disk"
    assert json.loads(link.read_text(encoding="utf-8"))[1]["conversations"][1]["value"] == "and again"


def test_an_outside_change_is_found_by_content_not_size_and_mtime(tmp_path):
    f = _write(tmp_path / "d.json", json.dumps(ITEMS, ensure_ascii=False))
    st = f.stat()
    ds = Dataset.load(f)
    # Another program swaps two characters: same size, and it puts the old mtime back.
    text = f.read_text(encoding="utf-8")
    f.write_text(text.replace("Q2", "Q9"), encoding="utf-8")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (f.stat().st_size, f.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    ds.set_turn(0, 0, content="mine")
    with pytest.raises(DatasetError, match="changed on disk"):
        ds.save()
    assert "Q9" in f.read_text(encoding="utf-8")
    # A touch that changes nothing is not a change.
    g = _write(tmp_path / "g.json", json.dumps(ITEMS, ensure_ascii=False))
    other = Dataset.load(g)
    os.utime(g, ns=(1, 1))
    other.set_turn(0, 0, content="mine")
    other.save()
    assert json.loads(g.read_text(encoding="utf-8"))[0]["conversations"][0]["value"] == "mine"


@pytest.mark.parametrize("name, dump", [
    ("d.json", lambda items: json.dumps(items, ensure_ascii=False, indent=2) + "\n"),
    ("d.jsonl", lambda items: "".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items)),
])
def test_a_bom_and_crlf_line_ends_survive_a_round_trip_and_an_edit(tmp_path, name, dump):
    f = tmp_path / name
    f.write_bytes(b"\xef\xbb\xbf" + dump(ITEMS).replace("\n", "\r\n").encode("utf-8"))
    raw = f.read_bytes()
    ds = Dataset.load(f)
    assert len(ds) == 2 and ds.turns(0)[0].content == "题目：1+1=?" and ds.lines[1] > 1
    ds.save()
    assert f.read_bytes() == raw
    ds.set_turn(1, 1, content="line one\nline two")
    ds.save()
    edited = json.loads(json.dumps(ITEMS))
    edited[1]["conversations"][1]["value"] = "line one\nline two"
    assert f.read_bytes() == b"\xef\xbb\xbf" + dump(edited).replace("\n", "\r\n").encode("utf-8")


@pytest.mark.parametrize("text, line, col", [
    ('[\n  {"conversations": [\n    {"from": "human", "value": "q", "from": "gpt"}\n  ]}\n]', 3, 37),
    ('[{"id": 1, "conversations": []}, {"id": 2, "conversations": [], "id": 3}]', 1, 65),
    ('{"conversations": []}\n{"conversations": [], "conversations": []}\n', 2, 23),
])
def test_a_duplicate_key_is_an_error_with_its_line_and_column(tmp_path, text, line, col):
    f = _write(tmp_path / ("d.jsonl" if text.startswith("{") else "d.json"), text)
    with pytest.raises(DatasetError) as ei:
        Dataset.load(f)
    assert (ei.value.line, ei.value.col) == (line, col)
    assert "duplicate key" in str(ei.value) and str(ei.value).startswith(f"{f}:{line}:{col}: ")


def test_rejected_editor_text_goes_to_a_new_private_file_never_through_a_planted_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    planted = Path(tempfile.gettempdir()) / "mathbench-item-1-rejected.txt"
    if planted.is_symlink() or planted.exists():
        planted.unlink()
    planted.symlink_to(victim)
    try:
        ds = Dataset.from_items(json.loads(json.dumps(ITEMS)))
        editor = _fake_editor(tmp_path, """
            import sys
            open(sys.argv[1], "a", encoding="utf-8").write("<<<robot>>>\\nhi\\n")
        """)
        out = edit_item_in_editor(ds, 1, editor=editor)
        kept = Path(out.error.rsplit("kept in ", 1)[1].rstrip(")"))
        assert victim.read_text(encoding="utf-8") == "precious"
        assert kept != planted and not kept.is_symlink() and "<<<robot>>>" in kept.read_text(encoding="utf-8")
        assert kept.stat().st_mode & 0o077 == 0
        kept.unlink()
    finally:
        planted.unlink()
