"""`mathbench data stats` and core.dataset.dataset_stats on real and small files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from mathbench.core.datasets.dataset import Dataset

from mathbench.core.datasets.stats import dataset_stats


def test_stats_of_a_real_file(shared_data):
    ds = Dataset.load(shared_data / "sft" / "llm_train_data.json")
    st = dataset_stats(ds.items, ds.fmt)
    assert st["items"] == 451 and st["format"] == "sharegpt"
    assert st["turns"] == {"2": 5, "3": 1, "4": 445}
    assert st["roles"] == {"human": 897, "gpt": 896}
    assert st["with_code"] == 445 and st["languages"] == {"zh": 451}
    assert st["answer_rules"]["boxed"] == 448
    assert st["problem_chars"]["max"] >= st["problem_chars"]["median"] >= st["problem_chars"]["min"] > 0


def test_cli_stats_shows_cached_validation(tmp_path):
    items = [{"conversations": [{"from": "human", "value": "题目：2加2等于几？"},
                                {"from": "gpt", "value": "```python\nprint(2+2)\n```"},
                                {"from": "human", "value": "结果：```4```"}, {"from": "gpt", "value": "\\boxed{4}"}]},
             {"conversations": [{"from": "human", "value": "What is 3+3?"}, {"from": "gpt", "value": "\\boxed{6}"}]}]
    f = tmp_path / "d.jsonl"
    f.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items), encoding="utf-8")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"))

    def cli(*args):
        out = subprocess.run([sys.executable, "-m", "mathbench.tui", "data", *args], capture_output=True, text=True,
                             env=env, cwd=tmp_path, timeout=180)
        assert out.returncode == 0, out.stderr
        return out.stdout

    before = json.loads(cli("stats", str(f), "--json"))
    assert before["items"] == 2 and before["with_code"] == 1 and before["languages"] == {"zh": 1, "en": 1}
    assert "validation" not in before
    cli("validate", str(f))
    after = json.loads(cli("stats", str(f), "--json"))
    assert after["validation"] == {"validated": 2, "match": 1, "no_code": 1, "valid": 2}
    assert "validation (cached)" in cli("stats", str(f))
