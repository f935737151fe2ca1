"""PoT protocol pieces: code extraction, observation turns, prompt templates."""

from __future__ import annotations

import pytest

from mathbench.core.evaluation.pot import PromptTemplate, extract_code, load_prompt, observation_message, observation_text
from mathbench.core.sandbox.pool import ExecResult


@pytest.mark.parametrize("text, code", [
    ("think\n```python\nprint(1)\n```\nmore", "print(1)"),
    ("```py\nx = 2\nprint(x)\n```", "x = 2\nprint(x)"),
    ("```Python3\nprint(3)\n```", "print(3)"),
    ("unterminated:\n```python\nprint(4)\n", "print(4)"),
    ("seed style```python\nprint(5)```", "print(5)"),
    ("empty first ```python\n\n``` then ```python\nprint(6)\n```", "print(6)"),
    ("no code, \\boxed{7}", None),
    ("```\nplain fence\n```", None),
    ("```pyth0n\nprint(8)\n```", None),
    ("", None),
])
def test_extract_code(text, code):
    assert extract_code(text) == code


def _r(**kw) -> ExecResult:
    base = dict(stdout="", stderr="", status="ok", duration=0.01, returncode=0, truncated=False)
    base.update(kw)
    return ExecResult(**base)


def test_observation_turns_in_the_seed_style():
    zh = load_prompt("zh")
    assert observation_message(_r(stdout="18\n"), zh) == {
        "role": "user", "content": "现在将上面的代码复制到Python环境中运行，运行结果为：```18```"}
    tb = "Traceback (most recent call last):\n" + "".join(f"  line {i}\n" for i in range(30)) + \
        "ZeroDivisionError: division by zero\n"
    err = observation_text(_r(stderr=tb, status="error", returncode=1), zh)
    assert "ZeroDivisionError: division by zero" in err and "line 0\n" not in err
    assert "超时" in observation_text(_r(status="timeout"), zh, timeout=10)
    assert "（没有输出）" in observation_text(_r(), zh)


def test_prompt_templates_and_custom_file(tmp_path):
    zh, en = load_prompt("zh"), load_prompt("en")
    assert "\\boxed{}" in zh.system and zh.initial_messages("1+1")[1]["content"] == "题目：1+1"
    assert en.initial_messages("1+1")[1]["content"] == "Problem: 1+1"
    custom = tmp_path / "mine.yaml"
    custom.write_text("system: null\nuser: 'Q: {question}'\nobservation_role: observation\n", encoding="utf-8")
    t = load_prompt(custom)
    assert t.name == "mine" and t.initial_messages("x") == [{"role": "user", "content": "Q: x"}]
    assert observation_message(_r(stdout="1"), t)["role"] == "observation"
    bad = tmp_path / "bad.yaml"
    bad.write_text("system: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.yaml:\d+:\d+"):
        load_prompt(bad)
    with pytest.raises(FileNotFoundError):
        load_prompt("klingon")
    assert isinstance(zh, PromptTemplate)
