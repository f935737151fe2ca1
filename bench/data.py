"""Data-stage speed on real and generated data, each beside a baseline measured in the same run.

Usage: python bench/data.py [--only load,validate,decontaminate,open] [--sample N] [--skip-full]

  load           Dataset.load of the five SFT files (3,693 items)     vs json.load of the same files
  validate       validate-all, cold cache and cached                  vs the seed's way: each item's code written
                 to temp.py and run by a fresh `python3` (all cores), output compared the same way
  decontaminate  10,000 SFT items against GSM8K test + MATH test       vs comparing every item with every problem
                 (13-gram sets, the naive way, timed on a sample); then the acceptance measure: benchmark
                 problems seeded into the SFT data (copied, words changed, a number changed) found, clean items not
  open           a 200,000-item (about 55 MB) file opened in the Data screen until its rows show, in a fresh
                 process, with its peak memory                        vs json.load of the same file in a fresh process
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mathbench.core.datasets import Dataset, item_turns, problem_text, validate_items  # noqa: E402
from mathbench.core.datasets.outputs import compare_outputs, recorded_output  # noqa: E402
from mathbench.core.evaluation.pot import extract_code  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
SFT = SHARED / "sft"
SECTIONS = ("load", "validate", "decontaminate", "open")


def fresh_python_validate(items: list[dict], timeout: float, workers: int) -> dict:
    """The seed's validator: temp.py + a fresh python3 per code block, compare with the recorded output."""

    def one(item: dict) -> str:
        turns = item_turns(item)
        status = "no_code"
        for i, t in enumerate(turns):
            code = extract_code(t.content) if t.role == "gpt" else None
            if not code:
                continue
            with tempfile.TemporaryDirectory() as d:
                Path(d, "temp.py").write_text(code, encoding="utf-8")
                try:
                    out = subprocess.run([sys.executable, "temp.py"], cwd=d, capture_output=True, text=True,
                                         timeout=timeout)
                except subprocess.TimeoutExpired:
                    return "timeout"
            if out.returncode != 0:
                return "error"
            if i + 1 < len(turns):
                same, _ = compare_outputs(out.stdout, recorded_output(turns[i + 1].content))
                status = "match" if same else "mismatch"
                if not same:
                    return status
        return status

    with ThreadPoolExecutor(workers) as ex:
        statuses = list(ex.map(one, items))
    return {s: statuses.count(s) for s in sorted(set(statuses))}


def bench_load(files: list[Path]) -> list[dict]:
    t = time.perf_counter()
    for f in files:
        with open(f, encoding="utf-8") as fh:
            json.load(fh)
    t_json = time.perf_counter() - t
    t = time.perf_counter()
    datasets = [Dataset.load(f) for f in files]
    t_load = time.perf_counter() - t
    items = [it for ds in datasets for it in ds.items]
    print(f"load {len(items)} items: Dataset.load {t_load * 1000:.0f} ms, json.load {t_json * 1000:.0f} ms "
          f"(ratio {t_load / t_json:.2f}x; Dataset also records each item's line, the file's layout and its "
          "hash, and refuses duplicate keys)")
    return items


def bench_validate(items: list[dict], args) -> None:
    from mathbench.core.sandbox.pool import SandboxPool

    cores = os.cpu_count() or 2
    rng = random.Random(0)
    with_code = [it for it in items if any(extract_code(t.content) for t in item_turns(it) if t.role == "gpt")]
    sample = rng.sample(with_code, min(args.sample, len(with_code)))
    with tempfile.TemporaryDirectory() as tmp, SandboxPool(size=cores) as pool:
        t = time.perf_counter()
        base = fresh_python_validate(sample, args.timeout, cores)
        t_fresh = time.perf_counter() - t
        t = time.perf_counter()
        rep = validate_items(sample, pool=pool, cache=Path(tmp, "sample.sqlite"), timeout=args.timeout)
        t_mb = time.perf_counter() - t
        s = rep.summary()
        print(f"\nvalidate a sample of {len(sample)} items with code ({cores} cores):")
        print(f"  fresh python3 per item : {t_fresh:7.2f} s  {base}")
        print(f"  mathbench, cold cache  : {t_mb:7.2f} s  match {s['code_match']}, mismatch {s['code_mismatch']}, "
              f"error {s['code_error']}, timeout {s['code_timeout']}")
        print(f"  ratio                  : {t_fresh / t_mb:7.1f}x")
        if args.skip_full:
            return
        cache = Path(tmp, "all.sqlite")
        t = time.perf_counter()
        cold = validate_items(items, pool=pool, cache=cache, timeout=args.timeout)
        t_cold = time.perf_counter() - t
        t = time.perf_counter()
        warm = validate_items(items, pool=pool, cache=cache, timeout=args.timeout)
        t_warm = time.perf_counter() - t
        est = t_fresh / len(sample) * len(with_code)
        print(f"\nvalidate all {len(items)} items ({len(with_code)} with code, {cold.executed} distinct blocks run):")
        print(f"  mathbench, cold cache  : {t_cold:7.1f} s")
        print(f"  mathbench, cached      : {t_warm:7.2f} s  ({warm.executed} blocks run, {warm.cached_items} items "
              f"from cache; {t_cold / t_warm:.0f}x faster than cold)")
        print(f"  fresh python3 per item : {est:7.1f} s  (estimated from the sample's rate; "
              f"{est / t_cold:.1f}x mathbench cold)")
        print(f"  summary: {json.dumps({k: v for k, v in cold.summary().items() if k != 'elapsed_s'})}")


def bench_decontaminate(items: list[dict], args) -> None:
    from mathbench.core.datasets.decontaminate import BenchmarkIndex, load_against, ngrams, tokens
    from tests.support.contamination import seeded_items

    specs = [str(SHARED / "benchmarks" / "gsm8k_test.jsonl"), str(SHARED / "benchmarks" / "math_test.jsonl")]
    texts = [problem_text(it) for it in (items * (10_000 // len(items) + 1))[:10_000]]
    t = time.perf_counter()
    benchmarks = load_against(specs)
    index = BenchmarkIndex(benchmarks)
    report = index.scan(texts)
    t_mb = time.perf_counter() - t
    problems = [p.question for ps in benchmarks.values() for p in ps]
    # The naive way: every item's 13-grams against every problem's, on a sample, scaled to all items.
    t = time.perf_counter()
    grams = [ngrams(tokens(q)) for q in problems]
    sample = random.Random(0).sample(texts, args.naive_sample)
    naive_hits = sum(any(mine & theirs for theirs in grams) for mine in (ngrams(tokens(q)) for q in sample))
    t_naive = (time.perf_counter() - t) * len(texts) / len(sample)
    print(f"\ndecontaminate {len(texts):,} SFT items against GSM8K test + MATH test ({len(problems):,} problems):")
    print(f"  mathbench (load, index, exact + 13-gram + MinHash near) : {t_mb:7.1f} s  "
          f"({len(report.contaminated)} items flagged)")
    print(f"  every item against every problem, 13-grams only         : {t_naive:7.1f} s  (estimated from "
          f"{len(sample)} items, {naive_hits} with a shared 13-gram)")
    print(f"  ratio                                                   : {t_naive / t_mb:7.1f}x")
    seeded, seeds, n_clean = seeded_items(SHARED, n_seeds=600, seed=1)
    flagged = index.scan([problem_text(it) for it in seeded]).by_item()
    found = {kind: [n_clean + j in flagged for j, s in enumerate(seeds) if s.kind == kind]
             for kind in ("copy", "words", "number")}
    false = sum(1 for i in flagged if i < n_clean)
    print(f"  seeded: {len(seeds)} benchmark problems among {n_clean:,} real SFT items: "
          f"{sum(map(sum, found.values())) / len(seeds):.1%} found ("
          + ", ".join(f"{k} {sum(v) / len(v):.1%}" for k, v in found.items())
          + f"); clean items flagged {false} ({false / n_clean:.2%})")


def _big_file(path: Path, n: int = 200_000) -> None:
    """n short PoT items (about 275 bytes each, as a 55 MB file of 200,000 holds) in one JSON array."""
    rng = random.Random(0)
    things = ["苹果", "书", "铅笔", "糖", "球", "花", "apples", "books", "pens", "stamps"]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("[")
        for i in range(n):
            a, b, what = rng.randint(2, 999), rng.randint(2, 999), rng.choice(things)
            item = {"conversations": [
                {"from": "human", "value": f"题目：小明有{a}个{what}，又买了{b}个，一共有多少个？（{i}）"},
                {"from": "gpt", "value": f"```python\nprint({a} + {b})\n```"},
                {"from": "human", "value": f"```output\n{a + b}\n```"},
                {"from": "gpt", "value": f"因此 \\boxed{{{a + b}}}。"}]}
            fh.write(("," if i else "") + json.dumps(item, ensure_ascii=False))
        fh.write("]\n")


_OPEN_IN_SCREEN = textwrap.dedent("""
    import asyncio, json, resource, sys, time
    from mathbench.core.workspace import open_workspace
    from mathbench.tui.app import MathbenchApp

    async def main():
        ws = open_workspace(sys.argv[1], sample=False)
        app = MathbenchApp(ws, start="dataset")
        async with app.run_test(size=(160, 48)) as pilot:
            t0 = time.perf_counter()
            loaded = None
            while True:
                screen = app.screen
                if loaded is None and getattr(screen, "dataset", None) is not None:
                    loaded = time.perf_counter() - t0
                rows = screen.query("#data-list")
                if loaded is not None and rows and len(rows.first().rows) == int(sys.argv[2]):
                    break
                await asyncio.sleep(0.02)
            shown = time.perf_counter() - t0
            await app.workers.wait_for_complete()
            settled = time.perf_counter() - t0
        print(json.dumps({"loaded": loaded, "shown": shown, "settled": settled,
                          "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    asyncio.run(main())
""")
_JSON_LOAD = ("import json, resource, sys, time; t = time.perf_counter(); json.load(open(sys.argv[1], encoding='utf-8'));"
              "print(json.dumps({'load': time.perf_counter() - t, "
              "'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))")


def bench_open() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp, "ws")
        (ws / "datasets").mkdir(parents=True)
        big = ws / "datasets" / "big.json"
        _big_file(big)
        size = big.stat().st_size
        base = json.loads(subprocess.run([sys.executable, "-c", _JSON_LOAD, str(big)], capture_output=True, text=True,
                                         check=True, env=env).stdout)
        out = subprocess.run([sys.executable, "-c", _OPEN_IN_SCREEN, str(ws), "200000"], capture_output=True,
                             text=True, env=env, cwd=ROOT)
        if out.returncode != 0:
            print(out.stderr[-2000:], file=sys.stderr)
            return
        got = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\nopen a 200,000-item file ({size / 1e6:.0f} MB) in the Data screen (a fresh process):")
    print(f"  file read after         : {got['loaded']:7.2f} s")
    print(f"  rows shown after        : {got['shown']:7.2f} s  (background work done after {got['settled']:.2f} s: "
          "exact duplicates; near ones and the benchmark check wait to be asked for)")
    print(f"  peak memory             : {got['peak_mb']:7.0f} MB")
    print(f"  json.load, fresh python : {base['load']:7.2f} s, {base['peak_mb']:.0f} MB peak")
    print(f"  ratio                   : {got['shown'] / base['load']:7.2f}x the time, "
          f"{got['peak_mb'] / base['peak_mb']:.2f}x the memory")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"sections to run, of {', '.join(SECTIONS)}")
    ap.add_argument("--sample", type=int, default=60, help="items for the fresh-python3 comparison (default 60)")
    ap.add_argument("--naive-sample", type=int, default=100, help="items the naive decontamination is timed on")
    ap.add_argument("--skip-full", action="store_true", help="skip the all-items cold/cached validation")
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()
    only = {s.strip() for s in args.only.split(",")}
    files = sorted(SFT.glob("*.json"))
    if not files:
        print(f"no SFT files in {SFT}", file=sys.stderr)
        return 1
    items = bench_load(files)
    if "validate" in only:
        bench_validate(items, args)
    if "decontaminate" in only:
        bench_decontaminate(items, args)
    if "open" in only:
        bench_open()
    return 0


if __name__ == "__main__":
    sys.exit(main())
