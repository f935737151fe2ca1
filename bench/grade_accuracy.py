"""Grading accuracy: our grader against math-verify alone, on public graders' cases and real GSM8K replies.

Public cases (tests/data/*cases.jsonl) carry a careful person's verdict; the GSM8K predictions carry a naive
check, corrected where a person read the reply (HUMAN below). Prints, per set: right / decided / uncertain
for ours, right for math-verify (which never abstains).
Usage: python bench/grade_accuracy.py [--misses]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
CASE_FILES = [REPO / "tests" / "data" / "grader_public_cases.jsonl", REPO / "tests" / "data" / "grader_suite_cases.jsonl"]
# GSM8K rows (0-based) where the naive is_correct flag is wrong, each read by a person against its question.
HUMAN = {489: True, 567: False, 1097: False, 1113: True, 1176: False}


def _load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _math_verify(pairs: list[tuple[str, str]]) -> list[bool]:
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    out = []
    for gold, pred in pairs:
        try:
            out.append(bool(verify(parse(gold), parse(pred))))
        except Exception:  # noqa: BLE001 - a crash is no verdict
            out.append(False)
    return out


def _ours(pairs: list[tuple[str, str]], choices: list | None = None) -> list:
    from mathbench.core.grading import grade_many

    items = [(g, p, c) for (g, p), c in zip(pairs, choices)] if choices and any(choices) else pairs
    return grade_many(items)


def _report(name: str, expected: list[bool], ours: list, mv: list[bool], rows: list[dict], misses: bool) -> dict:
    n = len(expected)
    decided = [(e, g) for e, g in zip(expected, ours) if g.verdict != "uncertain"]
    right = sum((g.verdict == "correct") == e for e, g in decided)
    uncertain = n - len(decided)
    mv_right = sum(m == e for m, e in zip(mv, expected))
    print(f"{name:34} {n:5d}   ours: {right / n:6.1%} right, {right}/{len(decided)} = "
          f"{right / max(1, len(decided)):6.2%} of decided, {uncertain / n:5.1%} uncertain   "
          f"math-verify: {mv_right / n:6.1%} right", flush=True)
    if misses:
        for e, g, row in zip(expected, ours, rows):
            if g.verdict != "uncertain" and (g.verdict == "correct") != e:
                print(f"   MISS expected {'correct' if e else 'wrong'}, got {g.verdict} ({g.reason}): "
                      f"gold={g.gold_answer!r} pred={g.pred_answer!r}  [{row.get('source', row.get('question', ''))[:60]}]")
    return {"n": n, "right": right, "decided": len(decided), "uncertain": uncertain, "mv_right": mv_right}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--misses", action="store_true", help="list every decided case that contradicts the person")
    args = ap.parse_args()
    sys.setrecursionlimit(10_000)
    total = {"n": 0, "right": 0, "decided": 0, "uncertain": 0, "mv_right": 0}
    for path in CASE_FILES:
        rows = _load(path)
        pairs = [(r["gold"], r["prediction"]) for r in rows]
        expected = [r["expected"] == "correct" for r in rows]
        stats = _report(path.name, expected, _ours(pairs, [r.get("choices") for r in rows]), _math_verify(pairs),
                        rows, args.misses)
        for k in total:
            total[k] += stats[k]
    n = total["n"]
    print(f"{'all public cases':34} {n:5d}   ours: {total['right'] / n:6.1%} right, "
          f"{total['right'] / max(1, total['decided']):6.2%} of decided, {total['uncertain'] / n:5.1%} uncertain   "
          f"math-verify: {total['mv_right'] / n:6.1%} right")
    gsm = DATA / "predictions" / "gsm8k_yi-1.5-34b-math.jsonl"
    if gsm.is_file():
        rows = _load(gsm)
        pairs = [(r["answer"], r["pred_answer"]) for r in rows]
        expected = [HUMAN.get(i, r["is_correct"]) for i, r in enumerate(rows)]
        _report("gsm8k yi-1.5-34b replies", expected, _ours(pairs), _math_verify(pairs), rows, args.misses)
    return 0


if __name__ == "__main__":
    sys.exit(main())
