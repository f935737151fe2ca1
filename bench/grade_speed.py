"""Grading speed: items/s of core.grading.grade_many against math-verify called directly, on the same real items.

Usage: python bench/grade_speed.py [--limit N] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))


def _load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _math_verify_direct(pairs) -> tuple[float, int]:
    """Seconds and number agreeing 'correct' when math-verify parses both full texts and verifies, per item."""
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    start = time.perf_counter()
    correct = 0
    for gold, pred in pairs:
        correct += bool(verify(parse(gold), parse(pred)))
    return time.perf_counter() - start, correct


def _ours(pairs, workers) -> tuple[float, int]:
    from core.grading import grade_many

    start = time.perf_counter()
    grades = grade_many(pairs, workers=workers)
    return time.perf_counter() - start, sum(g.verdict == "correct" for g in grades)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=600, help="items per set (default 600)")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    yi = _load(DATA / "predictions" / "gsm8k_yi-1.5-34b-math.jsonl")[: args.limit]
    sols = [r["solution"] for r in _load(DATA / "benchmarks" / "math_test.jsonl")]
    rng = random.Random(0)
    idx = rng.sample(range(len(sols)), min(args.limit, len(sols)))
    sets = {
        "gsm8k yi-1.5-34b predictions": [("#### " + r["answer"].split("####")[-1].strip(), r["pred_answer"]) for r in yi],
        "math solutions vs themselves": [(sols[i], sols[i]) for i in idx],
        "math solutions vs shuffled": [(sols[a], sols[b]) for a, b in zip(idx, idx[1:] + idx[:1])],
    }
    print(f"{'set':32} {'items':>6} {'ours it/s':>10} {'math-verify it/s':>17} {'ratio':>7}")
    for name, pairs in sets.items():
        t_ours, c_ours = _ours(pairs, args.workers)
        t_mv, c_mv = _math_verify_direct(pairs)
        n = len(pairs)
        print(f"{name:32} {n:6d} {n / t_ours:10.1f} {n / t_mv:17.1f} {t_mv / t_ours:6.2f}x"
              f"   (correct: ours {c_ours}, math-verify {c_mv})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
