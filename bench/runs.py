"""Cost of reading a run (load_results, summarize, tailing) beside plain `json.loads` per line.

Usage: python bench/runs.py [--items N] [--repeat R]
Writes a synthetic N-item results.jsonl (multi-turn PoT messages, about 3 KB a record) through
RunWriter, then times each reader against the baseline measured in the same run; also times
appends (each one fsynced) against plain unsynced appends.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mathbench.core.evaluation import report  # noqa: E402
from mathbench.core.evaluation.rundir import RunDir  # noqa: E402


def record(i: int) -> dict:
    code = f"import sympy as sp\nx = sp.symbols('x')\nprint(sp.solve(x**2 - {i}, x))\n"
    return {
        "id": f"math-{i:05d}", "question": "Find all real x such that x^2 equals a number. " * 8,
        "gold": "We solve ... " * 40 + "\\boxed{42}", "gold_answer": "42",
        "level": f"Level {i % 5 + 1}", "subject": ("Algebra", "Geometry", "Number Theory")[i % 3],
        "messages": [
            {"role": "system", "content": "你是一个数学助手，用 Python 解题。" * 10},
            {"role": "user", "content": "题目：" + "求解 " * 60},
            {"role": "assistant", "content": "推理过程 " * 60 + f"```python\n{code}```"},
            {"role": "user", "content": f"```output\n[-sqrt({i}), sqrt({i})]\n```"},
            {"role": "assistant", "content": "因此 \\boxed{42}"},
        ],
        "executions": [{"code": code, "stdout": "[1]\n", "stderr": "", "status": "ok", "duration": 0.01}],
        "final_text": "因此 \\boxed{42}", "pred_answer": "42",
        "verdict": ("correct", "wrong", "uncertain")[i % 3], "reason": "equal", "latency": 1.2,
        "usage": {"prompt_tokens": 300, "completion_tokens": 200}, "error": None, "rounds": 1, "endpoint": "x",
    }


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--appends", type=int, default=200, help="records timed for the append comparison")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir(Path(tmp) / "run")
        with run.open_writer() as w:
            for i in range(args.items):
                w.append(record(i))
        size = run.results_path.stat().st_size

        def plain() -> list:
            with open(run.results_path, encoding="utf-8") as fh:
                return [json.loads(line) for line in fh]

        def tail_all() -> list:
            return run.tail().read_new()

        base = best(plain, args.repeat)
        rows = [
            ("plain json.loads per line (baseline)", base),
            ("RunDir.load_results", best(run.load_results, args.repeat)),
            ("report.summarize", best(lambda: report.summarize(run), args.repeat)),
            ("RunDir.tail().read_new (whole file)", best(tail_all, args.repeat)),
        ]
        print(f"{args.items} records, {size / 1e6:.1f} MB")
        for name, t in rows:
            print(f"  {name:40s} {t * 1000:8.1f} ms   x{t / base:5.2f} of baseline")

        tail = run.tail()
        tail.read_new()
        with run.open_writer() as w:
            w.append(record(args.items), replace=True)
        t = time.perf_counter()
        new = tail.read_new()
        print(f"  tail after one append: {len(new)} record in {(time.perf_counter() - t) * 1000:.2f} ms")

        lines = [json.dumps(record(i), ensure_ascii=False) + "\n" for i in range(args.appends)]
        plain_path = Path(tmp) / "plain.jsonl"
        t = time.perf_counter()
        with open(plain_path, "a", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line)
        unsynced = time.perf_counter() - t
        run2 = RunDir(Path(tmp) / "run2")
        per = []
        with run2.open_writer() as w:
            for i in range(args.appends):
                t = time.perf_counter()
                w.append(record(i))
                per.append(time.perf_counter() - t)
        print(f"  append+fsync: median {statistics.median(per) * 1000:.2f} ms/record "
              f"(plain unsynced write {unsynced / args.appends * 1000:.3f} ms/record)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
