"""Export for LLaMA-Factory: data file, dataset_info.json merge, options, and `mathbench data export`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mathbench.core.datasets.jsonfile import DatasetError
from mathbench.core.datasets.export import export_sft, to_sharegpt
from mathbench.core.datasets.schema import schema_errors

POT = {"conversations": [
    {"from": "human", "value": "题目：2*3?"},
    {"from": "gpt", "value": "```python\nprint(2*3)\n```"},
    {"from": "human", "value": "运行结果为：```6```"},
    {"from": "gpt", "value": "\\boxed{6}"},
], "source": "x"}
PLAIN = {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"},
                           {"from": "human", "value": "and?"}, {"from": "gpt", "value": "bye"}]}
BROKEN = {"conversations": [{"from": "gpt", "value": "a"}]}


def test_observation_role_and_system_prompt():
    rec = to_sharegpt(POT, observation_role="observation", system_prompt="你是数学助手")
    assert [t["from"] for t in rec["conversations"]] == ["human", "gpt", "observation", "gpt"]
    assert rec["system"] == "你是数学助手" and "source" not in rec
    assert schema_errors(rec) == []
    # a follow-up question after a reply without code stays a human turn
    assert [t["from"] for t in to_sharegpt(PLAIN, observation_role="observation")["conversations"]] == [
        "human", "gpt", "human", "gpt"]
    assert to_sharegpt(POT)["conversations"][2]["from"] == "human"
    msg = {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "q"},
                        {"role": "assistant", "content": "a"}]}
    assert to_sharegpt(msg) == {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
                                "system": "S"}


def test_export_merges_dataset_info_without_clobbering(tmp_path):
    info = tmp_path / "dataset_info.json"
    other = {"identity": {"file_name": "identity.json"}, "alpaca_en_demo": {"file_name": "alpaca_en_demo.json"}}
    info.write_text(json.dumps(other, indent=2), encoding="utf-8")
    res = export_sft([POT, PLAIN, BROKEN] * 4, tmp_path, "pot_sft", observation_role="observation",
                     system_prompt="S", holdout=0.25, seed=3)
    merged = json.loads(info.read_text(encoding="utf-8"))
    assert list(merged) == ["identity", "alpaca_en_demo", "pot_sft", "pot_sft_heldout"]
    assert merged["identity"] == other["identity"]
    entry = merged["pot_sft"]
    assert entry["file_name"] == "pot_sft.json" and entry["formatting"] == "sharegpt"
    assert entry["columns"] == {"messages": "conversations", "system": "system"}
    assert res.exported == 6 and res.heldout == 2 and res.skipped_schema == [2, 5, 8, 11]
    train = json.loads((tmp_path / "pot_sft.json").read_text(encoding="utf-8"))
    held = json.loads((tmp_path / "pot_sft_heldout.json").read_text(encoding="utf-8"))
    assert len(train) == 6 and len(held) == 2 and all(r["system"] == "S" for r in train + held)
    # exporting again under the same name replaces only that entry
    export_sft([POT], tmp_path, "pot_sft")
    again = json.loads(info.read_text(encoding="utf-8"))
    assert list(again) == ["identity", "alpaca_en_demo", "pot_sft", "pot_sft_heldout"]
    assert "system" not in again["pot_sft"]["columns"]


def test_only_valid_and_bad_inputs(tmp_path):
    res = export_sft([POT, PLAIN], tmp_path, "v", only_valid=True, is_valid=lambda i: i == 1)
    assert res.exported == 1 and res.skipped_invalid == 1
    with pytest.raises(ValueError):
        export_sft([POT], tmp_path, "bad name!")
    with pytest.raises(ValueError):
        export_sft([POT], tmp_path, "x", only_valid=True)
    with pytest.raises(ValueError):
        export_sft([POT, PLAIN], tmp_path, "x", holdout=2)
    broken = tmp_path / "b"
    broken.mkdir()
    (broken / "dataset_info.json").write_text('{\n  "a": {"file_name": "a.json"},\n}', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"dataset_info.json:3:1: invalid JSON"):
        export_sft([POT], broken, "x")
    assert (broken / "dataset_info.json").read_text(encoding="utf-8") == '{\n  "a": {"file_name": "a.json"},\n}'
    theirs = tmp_path / "c"
    theirs.mkdir()
    (theirs / "dataset_info.json").write_text('{"pot": {"file_name": "someone_elses.json"}}', encoding="utf-8")
    with pytest.raises(ValueError, match="already has an entry 'pot'"):
        export_sft([POT], theirs, "pot")
    assert not (theirs / "pot.json").exists()
    export_sft([POT], theirs, "pot", replace=True)
    assert json.loads((theirs / "dataset_info.json").read_text(encoding="utf-8"))["pot"]["file_name"] == "pot.json"


def test_cli_export_only_valid(tmp_path):
    wrong = json.loads(json.dumps(POT))
    wrong["conversations"][2]["value"] = "运行结果为：```7```"  # the code prints 6
    src = tmp_path / "d.json"
    src.write_text(json.dumps([POT, wrong, PLAIN], ensure_ascii=False), encoding="utf-8")
    out_dir = tmp_path / "lf_data"
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    out = subprocess.run([sys.executable, "-m", "mathbench.tui", "data", "export", str(src), "--to", str(out_dir), "--name",
                          "mine", "--only-valid", "--observation-role", "observation", "--json"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["exported"] == 2 and res["skipped_invalid"] == 1
    data = json.loads((out_dir / "mine.json").read_text(encoding="utf-8"))
    assert data[0]["conversations"][2] == {"from": "observation", "value": "运行结果为：```6```"}
    assert json.loads((out_dir / "dataset_info.json").read_text(encoding="utf-8"))["mine"]["file_name"] == "mine.json"
