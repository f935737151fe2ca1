"""The grader against cases drawn from public graders' test suites, each with a careful human's verdict.

Cases live in tests/data/grader_public_cases.jsonl (phrased as replies) and grader_suite_cases.jsonl (the
suites' own raw pairs: Math-Verify, hendrycks' is_equiv, Qwen2.5-Math, simple-evals), each line with gold,
prediction, expected and source. A decided verdict must never contradict the human one, and only a small
share of the cases may be left uncertain.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mathbench.core.grading import grade

DATA = Path(__file__).parent / "data"
# case file -> the largest share of its cases that may be left uncertain
FILES = {"grader_public_cases.jsonl": 0.03, "grader_suite_cases.jsonl": 0.05}


def _load_cases(name: str) -> list[dict]:
    cases = []
    CASES_FILE = DATA / name
    with CASES_FILE.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
            except json.JSONDecodeError as e:
                raise AssertionError(f"{CASES_FILE}:{lineno}:{e.colno}: {e.msg}") from None
            missing = {"gold", "prediction", "expected", "source"} - case.keys()
            assert not missing, f"{CASES_FILE}:{lineno}: missing {sorted(missing)}"
            assert case["expected"] in ("correct", "wrong"), f"{CASES_FILE}:{lineno}: bad expected"
            case["line"] = lineno
            case["file"] = name
            cases.append(case)
    return cases


def _short(text: str, n: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n // 2 - 2] + " .. " + text[-(n // 2 - 2) :]


@pytest.fixture(scope="module", params=sorted(FILES))
def graded(request) -> list[tuple[dict, object]]:
    return [(case, grade(case["gold"], case["prediction"], choices=case.get("choices")))
            for case in _load_cases(request.param)]


@pytest.mark.parametrize("name", sorted(FILES))
def test_cases_file_is_substantial(name):
    cases = _load_cases(name)
    assert len(cases) >= 300
    assert {c["expected"] for c in cases} == {"correct", "wrong"}
    assert len({(c["gold"], c["prediction"]) for c in cases}) == len(cases)


def test_no_decided_verdict_contradicts_the_human(graded):
    bad = [
        f"line {c['line']}: expected {c['expected']}, got {g.verdict} ({g.reason}); "
        f"gold_answer={g.gold_answer!r} pred_answer={g.pred_answer!r}; "
        f"pred=…{_short(c['prediction'])!r}; source={c['source']}"
        for c, g in graded
        if g.verdict in ("correct", "wrong") and g.verdict != c["expected"]
    ]
    assert not bad, f"{len(bad)} of {len(graded)} contradict the human verdict:\n" + "\n".join(bad)


def test_uncertain_share_is_small(graded):
    unsure = [
        f"line {c['line']}: expected {c['expected']}, uncertain ({g.reason}); "
        f"gold_answer={g.gold_answer!r} pred_answer={g.pred_answer!r}; source={c['source']}"
        for c, g in graded
        if g.verdict == "uncertain"
    ]
    share = len(unsure) / len(graded)
    limit = FILES[graded[0][0]["file"]]
    assert share <= limit, f"{len(unsure)} of {len(graded)} uncertain ({share:.1%} > {limit:.0%}):\n" + "\n".join(unsure)
