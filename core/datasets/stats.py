"""Counts and length figures of an SFT dataset, computed without running any code."""

from __future__ import annotations

import re
from collections import Counter

from mathbench.core.datasets.items import PROBLEM_PREFIX, detect_format, item_turns

_CJK = re.compile(r"[\u4e00-\u9fff]")
_CODE_BLOCK = re.compile(r"```[ \t]*(?:python3?|py)\b", re.IGNORECASE)


def _dist(values: list[int]) -> dict:
    if not values:
        return {"min": 0, "median": 0, "mean": 0, "max": 0}
    s = sorted(values)
    return {"min": s[0], "median": s[len(s) // 2], "mean": round(sum(s) / len(s), 1), "max": s[-1]}


def dataset_stats(items: list[dict], fmt: str | None = None) -> dict:
    """Counts and length figures of a dataset (no code is run): what `mathbench data stats` prints."""
    from mathbench.core.grading import extract_answer

    roles: Counter = Counter()
    n_turns: Counter = Counter()
    langs: Counter = Counter()
    rules: Counter = Counter()
    formats: Counter = Counter()
    with_code = 0
    prob_len, ans_len = [], []
    for it in items:
        f = detect_format(it) or "unknown"
        formats[f] += 1
        ts = item_turns(it, None if f == "unknown" else f)
        n_turns[len(ts)] += 1
        roles.update(t.role for t in ts)
        prob = next((t.content for t in ts if t.role == "human"), "")
        prob_len.append(len(prob))
        langs["zh" if _CJK.search(PROBLEM_PREFIX.sub("", prob, count=1)) else "en"] += 1
        gpts = [t.content for t in ts if t.role == "gpt"]
        ans_len.append(sum(len(g) for g in gpts))
        if any(_CODE_BLOCK.search(g) for g in gpts):
            with_code += 1
        rules[extract_answer(gpts[-1]).rule if gpts else "none"] += 1
    return {
        "items": len(items),
        "format": fmt or (formats.most_common(1)[0][0] if formats else None),
        "formats": dict(formats),
        "turns": {str(k): v for k, v in sorted(n_turns.items())},
        "roles": dict(roles),
        "with_code": with_code,
        "languages": dict(langs),
        "answer_rules": dict(rules.most_common()),
        "problem_chars": _dist(prob_len),
        "response_chars": _dist(ans_len),
    }
