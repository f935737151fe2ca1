"""Grading speed: items/s of core.grading.grade_many against math-verify called directly, on the same real items.

Each measurement runs in a fresh interpreter, so both sides pay their own cold start (imports, parser tables).
Usage: python bench/grade_speed.py [--limit N] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import subprocess
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
    start = time.perf_counter()  # its import counts, as ours does: both sides start cold
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    correct = 0
    for gold, pred in pairs:
        correct += bool(verify(parse(gold), parse(pred)))
    return time.perf_counter() - start, correct


def _ours(pairs, workers) -> tuple[float, int]:
    from mathbench.core.grading import grade_many

    start = time.perf_counter()
    grades = grade_many(pairs, workers=workers)
    return time.perf_counter() - start, sum(g.verdict == "correct" for g in grades)


def _sets(limit: int) -> dict[str, list[tuple[str, str]]]:
    yi = _load(DATA / "predictions" / "gsm8k_yi-1.5-34b-math.jsonl")[:limit]
    sols = [r["solution"] for r in _load(DATA / "benchmarks" / "math_test.jsonl")]
    idx = random.Random(0).sample(range(len(sols)), min(limit, len(sols)))
    return {
        "gsm8k yi-1.5-34b predictions": [(r["answer"], r["pred_answer"]) for r in yi],
        "math solutions vs themselves": [(sols[i], sols[i]) for i in idx],
        "math solutions vs shuffled": [(sols[a], sols[b]) for a, b in zip(idx, idx[1:] + idx[:1])],
    }


def _measure(side: str, name: str, limit: int, workers: int | None) -> tuple[float, int]:
    """Run one side on one set in a fresh interpreter; (seconds, items graded correct)."""
    cmd = [sys.executable, __file__, "--limit", str(limit), "--one", side, name]
    if workers:
        cmd += ["--workers", str(workers)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
    seconds, correct = json.loads(out.stdout.strip().splitlines()[-1])
    return seconds, correct


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=600, help="items per set (default 600)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--one", nargs=2, metavar=("SIDE", "SET"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    sets = _sets(args.limit)
    if args.one:
        side, name = args.one
        pairs = sets[name]
        print(json.dumps(_ours(pairs, args.workers) if side == "ours" else _math_verify_direct(pairs)))
        return 0
    print(f"{'set':32} {'items':>6} {'ours it/s':>10} {'math-verify it/s':>17} {'ratio':>7}")
    for name, pairs in sets.items():
        t_ours, c_ours = _measure("ours", name, args.limit, args.workers)
        t_mv, c_mv = _measure("math-verify", name, args.limit, args.workers)
        n = len(pairs)
        print(f"{name:32} {n:6d} {n / t_ours:10.1f} {n / t_mv:17.1f} {t_mv / t_ours:6.2f}x"
              f"   (graded correct: ours {c_ours}, math-verify {c_mv})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
