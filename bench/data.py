"""Dataset load and validate-all times on the real SFT files, beside plain json.load and a fresh python3 per item.

Usage: python bench/data.py [--sample N] [--skip-full]

  load      Dataset.load of the five files (3,693 items)     vs json.load of the same files
  validate  mathbench validate-all, cold cache and cached    vs the seed's way: each item's code written
            to temp.py and run by a fresh `python3` (all cores), output compared the same way.
The fresh-python3 validator is timed on a sample of N items (it needs ~0.5-1 s an item); mathbench is
timed on the same sample, cold, in the same run, and on all items cold and cached.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mathbench.core.datasets.dataset import Dataset  # noqa: E402

from mathbench.core.datasets.items import item_turns  # noqa: E402
from mathbench.core.evaluation.pot import extract_code  # noqa: E402
from mathbench.core.sandbox.pool import SandboxPool  # noqa: E402
from mathbench.core.datasets.outputs import compare_outputs, recorded_output  # noqa: E402
from mathbench.core.datasets.validate import validate_items  # noqa: E402

SFT = ROOT.parent / "shared" / "data" / "sft"


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=60, help="items for the fresh-python3 comparison (default 60)")
    ap.add_argument("--skip-full", action="store_true", help="skip the all-items cold/cached validation")
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()
    files = sorted(SFT.glob("*.json"))
    if not files:
        print(f"no SFT files in {SFT}", file=sys.stderr)
        return 1
    cores = os.cpu_count() or 2

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
          f"(ratio {t_load / t_json:.2f}x; Dataset also records each item's line and the file's layout)")

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
            return 0
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
