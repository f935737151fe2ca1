"""Pilot tests of the dataset screen on the sample workspace: search, filters, inline edit, undo, validate-all."""

from __future__ import annotations

import json

from mathbench.core.datasets.dataset import Dataset
from mathbench.core.workspace import open_workspace
from tests.support.tui_runs import wait_until
from tests.support.tui_more_text import shown_text
from mathbench.tui.app import MathbenchApp

SAMPLE = "pot_sample.json"


async def _open(tmp_path, size=(160, 48)):
    ws = open_workspace(tmp_path / "ws")
    app = MathbenchApp(ws, start="dataset")
    return ws, app


async def _settle(app, pilot):
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_search_and_filters_narrow_the_rows(tmp_path):
    ws, app = await _open(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        total = len(Dataset.load(ws.datasets_dir / SAMPLE))
        assert len(screen.shown_rows) == total
        screen.query_one("#data-search").value = "书架"
        await _settle(app, pilot)
        assert len(screen.shown_rows) == 2  # the problem and its near-duplicate
        screen.query_one("#data-search").value = r"/boxed\{\\frac"
        await _settle(app, pilot)
        regex_rows = screen.shown_rows
        assert regex_rows and len(regex_rows) < total
        screen.query_one("#data-search").value = ""
        screen.query_one("#data-code").value = "no"
        await _settle(app, pilot)
        no_code = screen.shown_rows
        assert len(no_code) == 1
        assert "0.25" in screen.dataset.problem(no_code[0])
        screen.query_one("#data-code").value = "any"
        screen.query_one("#data-dup").value = "dup"
        await _settle(app, pilot)
        dups = screen.shown_rows
        assert len(dups) == 4  # two pairs: one with other punctuation, one reworded
        assert {screen.clusters[i] for i in dups} == {1, 2}


async def test_inline_edit_is_saved_on_disk_and_undo_restores_it(tmp_path):
    ws, app = await _open(tmp_path)
    path = ws.datasets_dir / SAMPLE
    before = json.loads(path.read_text(encoding="utf-8"))
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        await pilot.press("down")
        await _settle(app, pilot)
        index = screen.query_one("#data-list").current
        assert index == 1
        await pilot.press("e")
        await pilot.pause()
        editor = screen.query_one("#data-editor")
        assert app.focused is editor
        editor.load_text(editor.text.replace("Tom has 3 boxes", "Tom has 4 boxes"))
        await pilot.press("ctrl+s")
        await _settle(app, pilot)
        after = json.loads(path.read_text(encoding="utf-8"))
        assert after[1]["conversations"][0]["value"].startswith("Tom has 4 boxes")
        assert after[0] == before[0] and len(after) == len(before)
        assert path.with_name(path.name + ".bak").is_file()
        await pilot.press("u")
        await _settle(app, pilot)
        assert json.loads(path.read_text(encoding="utf-8")) == before


async def test_a_broken_edit_is_refused_and_nothing_is_written(tmp_path):
    ws, app = await _open(tmp_path)
    path = ws.datasets_dir / SAMPLE
    before = path.read_bytes()
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(app, pilot)
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#data-editor").load_text("<<<teacher>>>\nhello\n")
        await pilot.press("ctrl+s")
        await _settle(app, pilot)
        assert path.read_bytes() == before
        assert app.screen.editing == 0  # still in the editor, the text kept


async def test_new_and_deleted_items_are_saved_and_undone(tmp_path):
    ws, app = await _open(tmp_path)
    path = ws.datasets_dir / SAMPLE
    before = json.loads(path.read_text(encoding="utf-8"))
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await _settle(app, pilot)
        after = json.loads(path.read_text(encoding="utf-8"))
        assert after == before[1:]
        await pilot.press("u")
        await _settle(app, pilot)
        assert json.loads(path.read_text(encoding="utf-8")) == before
        await pilot.press("n")
        await _settle(app, pilot)
        assert screen.query_one("#data-list").current == 1
        await pilot.press("e")
        await pilot.pause()
        screen.query_one("#data-editor").load_text("<<<human>>>\n题目：1+1=?\n<<<gpt>>>\n因此，答案是\\boxed{2}。\n")
        await pilot.press("ctrl+s")
        await _settle(app, pilot)
        saved = json.loads(path.read_text(encoding="utf-8"))
        assert len(saved) == len(before) + 1
        assert saved[1] == {"conversations": [{"from": "human", "value": "题目：1+1=?"},
                                              {"from": "gpt", "value": "因此，答案是\\boxed{2}。"}]}


async def test_validate_all_finishes_with_counts(tmp_path):
    ws, app = await _open(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        screen.code_timeout = 1.0
        await pilot.press("v")
        await _settle(app, pilot)
        counts = screen.last_counts
        n = len(screen.dataset)
        assert len(screen.statuses) == n
        assert counts.get("code_mismatch", 0) >= 2
        assert counts.get("schema_errors", 0) >= 1
        assert counts.get("code_timeout", 0) >= 1
        assert counts.get("code_match", 0) > n // 2
        screen.query_one("#data-status").value = "mismatch"
        await _settle(app, pilot)
        assert len(screen.shown_rows) == counts["code_mismatch"]
        assert all(screen.statuses[i] == "mismatch" for i in screen.shown_rows)


async def test_stats_pane_and_narrow_terminal(tmp_path):
    ws, app = await _open(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        await pilot.press("t")
        await _settle(app, pilot)
        screen = app.screen
        assert screen.query_one("#data-right").current == "data-stats"
        assert "items" in shown_text(screen.query_one("#data-stats-text"))


async def test_open_in_editor_applies_and_saves_the_editors_change(tmp_path, monkeypatch):
    import contextlib
    import sys

    editor = tmp_path / "editor.py"
    editor.write_text("import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
                      "p.write_text(p.read_text(encoding='utf-8').replace('Tom has 3 boxes', 'Tom has 5 boxes'), encoding='utf-8')\n")
    monkeypatch.setenv("VISUAL", f"{sys.executable} {editor}")
    ws, app = await _open(tmp_path)
    path = ws.datasets_dir / SAMPLE
    # The headless test driver cannot give the terminal away; the editor itself runs for real.
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(app, pilot)
        await pilot.press("down", "o")
        await _settle(app, pilot)
        saved = json.loads(path.read_text(encoding="utf-8"))
        assert saved[1]["conversations"][0]["value"].startswith("Tom has 5 boxes")


def _slow_items(n: int, seconds: float) -> list[dict]:
    """Items whose code sleeps, so that validating them all takes far longer than two key presses."""
    return [
        {"conversations": [
            {"from": "human", "value": f"题目：{i} + 1 - {i} = ?"},
            # Each block differs: the validator runs identical code only once.
            {"from": "gpt", "value": f"```python\nimport time\ntime.sleep({seconds})\nprint({i} + 1 - {i})\n```"},
            {"from": "human", "value": "```output\n1\n```"},
            {"from": "gpt", "value": "因此，答案是 $\\boxed{1}$。"},
        ]}
        for i in range(n)
    ]


async def test_pressing_v_again_stops_validation_early(tmp_path):
    ws, app = await _open(tmp_path)
    (ws.datasets_dir / SAMPLE).write_text(json.dumps(_slow_items(16, 1.5), ensure_ascii=False), encoding="utf-8")
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        await pilot.press("v", "v")
        await _settle(app, pilot)
        assert "stopped early" in screen.last_counts
        assert len(screen.statuses) < len(screen.dataset)


async def test_a_malformed_file_is_reported_with_its_line(tmp_path):
    ws = open_workspace(tmp_path / "ws", sample=False)
    (ws.datasets_dir / "broken.json").write_text('[\n  {"conversations": []},\n  {"conversations": [}\n]\n', encoding="utf-8")
    app = MathbenchApp(ws, start="dataset")
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(app, pilot)
        text = shown_text(app.screen.query_one("#data-count"))
        assert "broken.json:3:" in text
        assert app.screen.dataset is None


def _items_with(questions: list[str]) -> list[dict]:
    return [{"conversations": [{"from": "human", "value": "题目：" + q}, {"from": "gpt", "value": "因此 \\boxed{1}。"}]}
            for q in questions]


async def test_items_repeating_a_workspace_benchmark_are_flagged_filtered_and_dropped(tmp_path):
    from mathbench.core.evaluation.benchmarks import load_benchmark

    ws = open_workspace(tmp_path / "ws")
    bench = load_benchmark(ws.benchmarks_dir / "sample.jsonl")
    path = ws.datasets_dir / SAMPLE
    items = json.loads(path.read_text(encoding="utf-8"))
    items[3:3] = _items_with([bench[2].question, bench[30].question.replace("2", "7", 1)])
    path.write_text(json.dumps(items, ensure_ascii=False, indent=2), encoding="utf-8")
    app = MathbenchApp(ws, start="dataset")
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        # The two seeded here, and the sample's own one-number variants of sample problems.
        flagged = sorted(screen.hits)
        assert {3, 4} <= set(flagged) and len(flagged) < 8
        assert (screen.hits[3].id, screen.hits[4].id) == (bench[2].id, bench[30].id)
        assert f"⚑ {len(flagged)}" in shown_text(screen.query_one("#data-count"))
        screen.query_one("#data-dup").value = "bench"
        await _settle(app, pilot)
        assert screen.shown_rows == flagged
        # The item view follows the cursor after a short rest (it draws highlighted code).
        await wait_until(pilot, lambda: "repeats sample" in shown_text(screen.query_one("#data-item")), limit=10)
        screen.query_one("#data-dup").value = "any"
        await _settle(app, pilot)
        await pilot.press("D")
        await pilot.pause()
        await pilot.press("y")
        await _settle(app, pilot)
        saved = json.loads(path.read_text(encoding="utf-8"))
        assert saved == [it for i, it in enumerate(items) if i not in flagged]
        assert screen.hits == {}
        await pilot.press("u")
        await _settle(app, pilot)
        assert json.loads(path.read_text(encoding="utf-8")) == items


async def test_the_picker_sees_new_files_and_a_failed_open_leaves_the_open_file_shown(tmp_path):
    ws, app = await _open(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        shown = list(screen.shown_rows)
        later = {**_items_with(["1+1=?"])[0], "source": "synth-scheme3"}
        (ws.datasets_dir / "later.jsonl").write_text(json.dumps(later) + "\n", encoding="utf-8")
        (ws.datasets_dir / "broken.json").write_text('[{"conversations": []},\n {"conversations": [}]', encoding="utf-8")
        screen._look_for_files()  # what the screen's timer does every two seconds
        await _settle(app, pilot)
        picker = screen.query_one("#data-file")
        names = [str(option[0]) for option in picker._options if option[1] is not picker.BLANK]
        assert {"later.jsonl", "broken.json", SAMPLE} <= set(names)
        picker.value = str(ws.datasets_dir / "broken.json")
        await _settle(app, pilot)
        # The file could not be opened: picker, list and item view all still show the sample file.
        assert picker.value == str(ws.datasets_dir / SAMPLE)
        assert screen.dataset.path.name == SAMPLE and screen.shown_rows == shown
        assert SAMPLE in shown_text(screen.query_one("#data-item"))
        assert "could not open broken.json" in shown_text(screen.query_one("#data-count"))
        picker.value = str(ws.datasets_dir / "later.jsonl")
        await _settle(app, pilot)
        assert screen.dataset.path.name == "later.jsonl" and screen.shown_rows == [0]
        sources = screen.query_one("#data-source")
        assert sources.display and ("synth-scheme3 (1)", "synth-scheme3") in sources._options


async def test_keys_typed_on_data_are_screen_keys_and_escape_leaves_the_search_box(tmp_path):
    ws, app = await _open(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        total = len(screen.shown_rows)
        await pilot.press("1", "6", "f")  # Home, back to Data, the filters: never the search box
        await _settle(app, pilot)
        assert app.screen is screen and screen.query_one("#data-search").value == ""
        assert len(screen.shown_rows) == total
        await pilot.press("escape", "slash", "z", "q", "x")
        await _settle(app, pilot)
        assert screen.shown_rows == [] and "no item matches 'zqx'" in shown_text(screen.query_one("#data-count"))
        await pilot.press("escape")
        assert app.focused is screen.query_one("#data-list")
        await pilot.press("t")
        await _settle(app, pilot)
        assert screen.query_one("#data-right").current == "data-stats"


async def test_the_validation_summary_shows_every_number_at_80x24(tmp_path):
    from tests.support.tui_runs import screen_text

    ws, app = await _open(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        screen.code_timeout = 1.0
        await pilot.press("v")
        await _settle(app, pilot)
        text = screen_text(app)
        counts = screen.last_counts
        assert counts
        for label, key in (("match", "code_match"), ("mismatch", "code_mismatch"), ("timeout", "code_timeout"),
                           ("schema", "schema_errors"), ("valid", "valid")):
            assert f"{label} {counts[key]}" in text, (label, text)


async def test_a_big_files_item_view_names_its_line_once_the_lines_are_found(tmp_path, monkeypatch):
    from mathbench.core.datasets import fastparse

    monkeypatch.setattr(fastparse, "EAGER_LINES", 0)  # this small file's lines come after its rows, as a big one's
    ws = open_workspace(tmp_path / "ws")
    path = ws.datasets_dir / SAMPLE
    items = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(items, ensure_ascii=False, indent=2), encoding="utf-8")
    app = MathbenchApp(ws, start="dataset")
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        assert screen.dataset.lines_known and screen.dataset.line_of(1) == 2 + len(
            json.dumps(items[0], ensure_ascii=False, indent=2).splitlines())
        await wait_until(pilot, lambda: f"{SAMPLE}:2 " in shown_text(screen.query_one("#data-item")), limit=10)
