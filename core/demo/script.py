"""The scripted Program-of-Thought model the demo server plays: code that computes the answer, then a boxed reply."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mathbench.core.datasets.similarity import normalize_problem

_FENCE_RE = re.compile(r"```(?:[a-zA-Z0-9_+-]*\n)?(.*?)```", re.S)
_NUMBER_RE = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")
_ERROR_HINT_RE = re.compile(r"Traceback|Error\b|错误|出错", re.I)


def _gold_answer(reference: str) -> str:
    """The bare answer in a reference (GSM8K '####', last \\boxed{}, else itself), without core.answers."""
    ref = str(reference)
    if "####" in ref:
        return ref.rsplit("####", 1)[1].strip().replace(",", "")
    idx = ref.rfind("\\boxed{")
    if idx >= 0:
        depth, start = 0, idx + len("\\boxed{")
        for pos in range(start, len(ref)):
            if ref[pos] == "{":
                depth += 1
            elif ref[pos] == "}":
                if depth == 0:
                    return ref[start:pos].strip()
                depth -= 1
    return ref.strip()


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


@dataclass
class PotScript:
    """The default scripted model: writes code that computes the answer, then boxes whatever output it is shown.

    answer_key maps question text to a reference (bare answer, GSM8K answer or MATH solution).
    accuracy < 1 makes that share of problems (chosen by question hash) compute a wrong answer; a request
    with a seed other than 0 (one sample of several) draws its own share, so the samples of a problem differ;
    buggy_rate makes that share first write code that raises, fixed after the traceback comes back.
    """

    answer_key: Mapping[str, str] = field(default_factory=dict)
    accuracy: float = 1.0
    buggy_rate: float = 0.0
    language: str = "auto"
    preamble: str = ""  # e.g. "import sympy as sp\n": real PoT code often starts by importing sympy

    def __post_init__(self) -> None:
        self._key = {normalize_problem(q): _gold_answer(a) for q, a in dict(self.answer_key).items()}

    def __call__(self, messages: Sequence[Mapping[str, Any]], request: Mapping[str, Any] | None = None) -> str:
        seed = request.get("seed") if isinstance(request, Mapping) else None
        seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
        start = _problem_index(messages)
        question = content_text(messages[start].get("content", "")) if start is not None else ""
        episode = list(messages[start + 1:]) if start is not None else []
        if _GENERATE_RE.search(question) and not episode:
            return _generated_problem(question)
        zh = self._zh(question + " " + str(messages[0].get("content", "") if messages else ""))
        if not episode:
            return self._first_reply(question, zh, seed)
        observed = _observed_output(content_text(episode[-1].get("content", "")))
        assistant_turns = sum(1 for m in episode if m.get("role") == "assistant")
        if _ERROR_HINT_RE.search(observed) and assistant_turns < 3:
            return self._fixed_reply(question, zh)
        return self._final_reply(observed, zh)

    def _zh(self, text: str) -> bool:
        if self.language in ("zh", "en"):
            return self.language == "zh"
        return bool(re.search(r"[\u4e00-\u9fff]", text))

    def _answer(self, question: str, seed: int | None = None) -> str:
        key = normalize_problem(question)
        if key in self._key:
            answer = self._key[key]
        else:
            nums = [float(n.replace(",", "")) for n in _NUMBER_RE.findall(question)]
            total = sum(nums)
            answer = str(int(total)) if total == int(total) else repr(total)
        drawn = key if not seed else f"{key}#seed{seed}"
        if self.accuracy < 1.0 and (_stable_int("acc:" + drawn) % 10_000) / 10_000 >= self.accuracy:
            answer = _perturb(answer, 1 if not seed else _stable_int("off:" + drawn) % 3 + 1)
        return answer

    def _code(self, question: str, buggy: bool = False, seed: int | None = None) -> str:
        answer = self._answer(question, seed)
        salt = _stable_int(normalize_problem(question)) % 97 + 3
        if re.fullmatch(r"-?\d+", answer):
            value = int(answer)
            lines = [f"base = {value - salt}", f"extra = {salt}", "result = base + extra"]
        else:
            # The answer is spelled backwards so that only executing the code recovers it.
            lines = [f"encoded = {answer[::-1]!r}", "result = encoded[::-1]"]
        if buggy:
            lines.append("result = result / 0")
        lines.append("print(result)")
        return self.preamble + "\n".join(lines)

    def _first_reply(self, question: str, zh: bool, seed: int | None = None) -> str:
        bug = _stable_int("bug:" + normalize_problem(question)) % 10_000
        code = self._code(question, buggy=self.buggy_rate > 0 and bug / 10_000 < self.buggy_rate, seed=seed)
        if zh:
            head = "首先给出思考过程：我们把题目中的数量关系写成代码，让程序算出结果。\n生成的Python代码如下：\n"
        else:
            head = "Let's think step by step: we write the quantities as code and let the program compute the result.\n"
        return f"{head}```python\n{code}\n```"

    def _fixed_reply(self, question: str, zh: bool) -> str:
        code = self._code(question, buggy=False)
        head = "代码出错了，修正如下：\n" if zh else "The code raised an error; here is a fix:\n"
        return f"{head}```python\n{code}\n```"

    def _final_reply(self, observed: str, zh: bool) -> str:
        value = observed.strip().splitlines()[-1].strip() if observed.strip() else ""
        if zh:
            return f"因此，答案是 \\boxed{{{value}}}。"
        return f"Therefore, the answer is \\boxed{{{value}}}."


_GENERATE_RE = re.compile(r"编写一道新的|Write one new math", re.I)


def _generated_problem(prompt: str) -> str:
    """A new word problem and its answer, varied by the prompt text (scheme-1 synthesis requests)."""
    h = _stable_int(prompt)
    a, b = h % 90 + 10, (h // 97) % 40 + 2
    if re.search(r"[\u4e00-\u9fff]", prompt):
        return f"题目：小明有{a}本书，又买了{b}本，现在一共有多少本书？\n答案：{a + b}"
    return f"Problem: Sam has {a} marbles and wins {b} more. How many marbles does Sam have now?\nAnswer: {a + b}"


def _perturb(answer: str, by: int = 1) -> str:
    if re.fullmatch(r"-?\d+", answer):
        return str(int(answer) + by)
    return answer + f"+{by}"


def _problem_index(messages: Sequence[Mapping[str, Any]]) -> int | None:
    """Index of the turn posing the current problem: the last user turn not answering a code block.

    Earlier complete episodes (few-shot examples) end with an assistant turn without code.
    """
    from mathbench.core.evaluation.pot import extract_code

    found = None
    prev_code = False
    for i, m in enumerate(messages):
        role = m.get("role")
        if role == "assistant":
            prev_code = extract_code(content_text(m.get("content", ""))) is not None
        elif role != "system":
            if not prev_code:
                found = i
            prev_code = False
    return found


def content_text(content: Any) -> str:
    if isinstance(content, list):  # OpenAI content parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def _observed_output(text: str) -> str:
    """The output inside the fences of an observation turn (the whole text when unfenced)."""
    blocks = _FENCE_RE.findall(text)
    if blocks:
        return blocks[-1].strip("\n")
    return text
