"""Per-block cost of the warm sandbox pool, isolation on, beside a fresh `python3 -c` per block (the seed's way).

Usage: python bench/sandbox.py [--blocks N] [--fresh N]
Both run the same typical PoT block (imports math, numpy, sympy; a little sympy work); the fresh
baseline gets the imports it needs, exactly as `python3 temp.py` did. Goals: at most 30 ms a block
(sequential median) and at least 20x faster than the fresh python3, with every protection the machine
allows switched on (they are listed first).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mathbench.core.sandbox import SandboxPool  # noqa: E402
from mathbench.core.sandbox.protections import protections_line, sandbox_protections  # noqa: E402

BLOCK = """
import math
import numpy as np
import sympy as sp
x = sp.symbols('x')
roots = sp.solve(x**2 - 5*x + 6, x)
print('roots:', roots, 'sum:', int(np.sum([int(r) for r in roots])), 'comb:', math.comb(10, 3))
"""


def fresh(code: str) -> float:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "roots" in out.stdout, out.stderr
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=100, help="blocks through the pool")
    ap.add_argument("--fresh", type=int, default=10, help="blocks through a fresh python3 each")
    args = ap.parse_args()
    cores = os.cpu_count() or 2

    fresh_times = [fresh(BLOCK) for _ in range(args.fresh)]
    t = time.perf_counter()
    with ThreadPoolExecutor(cores) as ex:
        list(ex.map(fresh, [BLOCK] * args.fresh))
    fresh_par = (time.perf_counter() - t) / args.fresh

    t = time.perf_counter()
    pool = SandboxPool(size=cores).start()
    startup = time.perf_counter() - t
    print(protections_line(sandbox_protections(pool)))
    try:
        pool.run(BLOCK)  # first block touches the sympy solver paths once in the child only
        warm_times = []
        for _ in range(args.blocks):
            t = time.perf_counter()
            r = pool.run(BLOCK)
            warm_times.append(time.perf_counter() - t)
            assert r.status == "ok" and "roots" in r.stdout, r.stderr
        t = time.perf_counter()
        results = pool.map([BLOCK] * args.blocks)
        warm_par = (time.perf_counter() - t) / args.blocks
        assert all(r.status == "ok" for r in results)
    finally:
        pool.close()

    f_med, w_med = statistics.median(fresh_times), statistics.median(warm_times)
    print(f"cores: {cores}; pool start-up (one-off): {startup * 1000:.0f} ms")
    print(f"fresh python3 per block : median {f_med * 1000:8.1f} ms   ({args.fresh} blocks, sequential)")
    print(f"warm sandbox per block  : median {w_med * 1000:8.1f} ms   ({args.blocks} blocks, sequential)")
    print(f"ratio (sequential)      : {f_med / w_med:8.1f}x   (goal >= 20x: {'met' if f_med / w_med >= 20 else 'NOT met'})")
    print(f"per block (sequential)  : {w_med * 1000:8.1f} ms  (goal <= 30 ms: {'met' if w_med <= 0.030 else 'NOT met'}; "
          f"load average {os.getloadavg()[0]:.1f} on {cores} cores)")
    print(f"throughput, {cores} at once : fresh {fresh_par * 1000:.1f} ms/block, warm {warm_par * 1000:.1f} ms/block, "
          f"ratio {fresh_par / warm_par:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
