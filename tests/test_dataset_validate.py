"""Validation: LLaMA-Factory role rules, executing each item's code in the sandbox, answers, the cache, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mathbench.core.datasets.dataset import Dataset
from mathbench.core.sandbox.pool import SandboxPool
from mathbench.core.datasets.outputs import compare_outputs, recorded_output
from mathbench.core.datasets.schema import schema_errors
from mathbench.core.datasets.validate import cached_checks, validate_items
from mathbench.core.datasets.validation_cache import ValidationCache


def conv(*pairs):
    return {"conversations": [{"from": r, "value": v} for r, v in pairs]}


def pot(code: str, recorded: str | None, final: str | None = "因此答案是 \\boxed{6}。", problem="题目：2*3?"):
    turns = [("human", problem), ("gpt", f"思路如下：```python\n{code}\n```")]
    if recorded is not None:
        turns.append(("human", f"运行结果为：```{recorded}```"))
    if final is not None:
        turns.append(("gpt", final))
    return conv(*turns)


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(size=2) as p:
        yield p


def test_role_rules_name_index_and_reason():
    assert schema_errors(conv(("human", "q"), ("gpt", "a"))) == []
    assert schema_errors(conv(("system", "s"), ("human", "q"), ("gpt", "a"), ("observation", "o"), ("gpt", "b"))) == []
    errs = schema_errors(conv(("gpt", "a"), ("human", "q")))
    assert errs == ["turn 0: role 'gpt' at an even position (expected human or observation)",
                    "turn 1: role 'human' at an odd position (expected gpt or function_call)"]
    assert schema_errors(conv(("human", "q"), ("gpt", "a"), ("human", "q2"))) == [
        "odd number of turns (3): SFT needs each human/observation turn answered"]
    assert "turn 1: role 'bot'" in schema_errors(conv(("human", "q"), ("bot", "a")))[0]
    assert schema_errors(conv(("human", "q"), ("gpt", "a"), ("system", "late"), ("gpt", "b")))[0].startswith(
        "turn 2: role 'system'")
    assert schema_errors({"conversations": []}) == ["no turns (besides a system prompt)"]
    assert schema_errors({"conversations": [{"from": "human", "value": 3}, {"from": "gpt", "value": "a"}]}) == [
        "turn 0: 'value' missing or not a string"]
    assert schema_errors({"text": "x"})[0].startswith("no 'conversations'")
    assert schema_errors({"instruction": "i", "output": ""}) == ["'output' missing or not a non-empty string"]
    assert schema_errors({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}) == []
    assert schema_errors(conv(("human", "q"), ("gpt", "a")), "alpaca") == ["item is in sharegpt format, the file is alpaca"]


@pytest.mark.parametrize(
    "actual, recorded, same, how",
    [
        ("3150.0\n", "3150.0", True, "exact"),
        ("a  b\n\n c\n", "a b\nc", True, "whitespace"),
        ("x: 1\ny: 2\n", "x: 1 y: 2", True, "line breaks"),
        ("西服的现价为: 3150.0\n", "西服的现价为: 3150", True, "numeric"),
        ("0.30000000000000004\n", "0.3", True, "numeric"),
        ("面积: 262\n", "面积: 286", False, "different numbers: printed 262, recorded 286"),
        ("x = 3\n", "y = 7 and 8", False, "different numbers"),
        ("a\nb\n", "b", False, "recorded output is only part of what the code prints"),
        ("距离是: 46.31481666666667\n", "距离是: 46.31", False, "the recorded numbers are the printed ones rounded"),
        ("", "5", False, "the code printed nothing"),
        ("{r: 6, j: 10}\n", "{j: 10, r: 6}", False, "different text"),
    ],
)
def test_compare_outputs(actual, recorded, same, how):
    assert compare_outputs(actual, recorded) == (same, how)


def test_recorded_output_takes_the_fenced_part():
    assert recorded_output("运行结果为：```Preston 收到: 121.0 美元```") == "Preston 收到: 121.0 美元"
    assert recorded_output("输出：\n```text\n1\n2\n```\n") == "1\n2"
    assert recorded_output("  plain output  ") == "plain output"


def test_validate_statuses_cache_and_reuse(tmp_path, pool):
    items = [
        pot("print(2*3)", "6"),                                   # match
        pot("print(2*3.0)", "6"),                                 # match (numeric)
        pot("print(2*4)", "6", final="\\boxed{8}"),               # mismatch; answer agrees with what ran
        pot("print(1/0)", "6"),                                   # error
        pot("import time\ntime.sleep(30)", "6"),                  # timeout
        conv(("human", "题目：2*3?"), ("gpt", "显然 \\boxed{6}")),  # no code
        pot("print(7)", None, final=None),                        # unchecked: nothing recorded after the code
        pot("print(5)", "5"),                                     # match, but the final answer 6 disagrees
        conv(("gpt", "x"), ("human", "y")),                       # schema error
        pot("print(2*3)", "6"),                                   # same code as item 0: run once
        pot("import random\nprint(random.random())", "0.5"),    # mismatch from nondeterministic code
    ]
    cache_file = tmp_path / "cache.sqlite"
    seen = []
    rep = validate_items(items, timeout=1.5, pool=pool, cache=cache_file, on_item=lambda c: seen.append(c.index))
    st = [c.code_status for c in rep.checks]
    assert st == ["match", "match", "mismatch", "error", "timeout", "no_code", "unchecked", "match", "no_code", "match",
                  "mismatch"]
    c = rep.checks
    assert "not deterministic" in c[10].rounds[0].how and "not deterministic" not in c[2].rounds[0].how
    assert c[1].rounds[0].how == "numeric"
    assert c[3].rounds[0].how == "ZeroDivisionError: division by zero"
    assert c[2].answer_status == "consistent"
    assert c[7].answer_status == "inconsistent" and c[0].answer_status == "consistent"
    assert c[8].schema_errors and not c[8].valid
    assert [x.valid for x in c[:8]] == [True, True, False, False, False, True, True, False]
    assert sorted(seen) == list(range(11))
    assert rep.executed == 8  # eight distinct blocks: items 0 and 9 share theirs
    s = rep.summary()
    assert {k: s[k] for k in ("items", "schema_errors", "code_match", "code_mismatch", "code_error", "code_timeout",
                              "no_code")} == {"items": 11, "schema_errors": 1, "code_match": 4, "code_mismatch": 2,
                                              "code_error": 1, "code_timeout": 1, "no_code": 2}

    again = validate_items(items, timeout=1.5, pool=pool, cache=cache_file)
    assert again.executed == 0 and again.cached_items == 11
    assert [x.code_status for x in again.checks] == st

    items[2] = pot("print(2*3)", "6", final="\\boxed{6}")  # fixed: only this item is judged again
    items.append(pot("print(11)", "11", final="\\boxed{11}"))
    third = validate_items(items, timeout=1.5, pool=pool, cache=cache_file)
    assert third.cached_items == 10 and third.executed == 1  # item 2 changed, its new block ran before (item 0)
    assert third.checks[2].code_status == "match" and third.checks[11].code_status == "match"
    cached = cached_checks(items, timeout=1.5, cache=ValidationCache(cache_file))
    assert all(x is not None for x in cached)


def test_stop_event_returns_partial_report(tmp_path, pool):
    import threading

    stop = threading.Event()
    items = [pot(f"import time\ntime.sleep(0.2)\nprint({i})", str(i)) for i in range(12)]
    rep = validate_items(items, pool=pool, cache=None, on_progress=lambda d, t: stop.set())
    assert rep.cancelled is False  # never stopped
    rep = validate_items([pot(f"print({i}+0)", str(i)) for i in range(12)], pool=pool, cache=None, stop=stop)
    assert rep.cancelled and len(rep.checks) < 12


def _cli(args, tmp_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    return subprocess.run([sys.executable, "-m", "mathbench.tui", *args], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=300)


def test_cli_validate_json_contract(tmp_path):
    f = tmp_path / "d.json"
    f.write_text(json.dumps([pot("print(6)", "6"), pot("print(5)", "6"), conv(("human", "q"))], ensure_ascii=False),
                 encoding="utf-8")
    out = _cli(["data", "validate", str(f), "--json"], tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {k: data[k] for k in ("items", "schema_errors", "code_match", "code_mismatch", "code_error",
                                 "code_timeout", "no_code")} == {
        "items": 3, "schema_errors": 1, "code_match": 1, "code_mismatch": 1, "code_error": 0, "code_timeout": 0,
        "no_code": 1}
    assert "3/3" in out.stderr  # progress goes to stderr
    assert (tmp_path / "xdg" / "mathbench" / "validate.sqlite").exists()


def test_cli_reports_malformed_file(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text('[\n  {"conversations": [}\n]', encoding="utf-8")
    out = _cli(["data", "validate", str(f)], tmp_path)
    assert out.returncode == 2
    assert f"{f}:2:22: invalid JSON" in out.stderr


@pytest.mark.slow
def test_real_data_mismatches_are_real(shared_data, tmp_path):
    """Two real files validated cold; spot-check findings that a person confirmed by reading the items."""
    cache = tmp_path / "c.sqlite"
    with SandboxPool() as p:
        llm = validate_items(Dataset.load(shared_data / "sft" / "llm_train_data.json").items, pool=p, cache=cache)
        gsm = validate_items(Dataset.load(shared_data / "sft" / "gsm8k_train_data.json").items, pool=p, cache=cache)
    s = llm.summary()
    assert s["items"] == 451 and s["schema_errors"] == 1 and llm.checks[252].schema_errors
    # item 105: the code prints surface area 262, the recorded output and the final answer say 286
    c = llm.checks[105]
    assert c.code_status == "mismatch" and "262" in c.rounds[0].stdout and "286" in c.rounds[0].recorded
    assert c.answer_status == "inconsistent"
    assert s["code_match"] >= 400 and s["code_mismatch"] <= 20
    g = gsm.summary()
    assert g["items"] == 510 and g["code_mismatch"] == 0 and g["code_match"] == 467 and g["no_code"] == 43
