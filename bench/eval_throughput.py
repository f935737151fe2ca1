"""PoT eval throughput: mathbench vs a minimal reference client vs the ideal server-bound time.

Starts `mathbench demo-server` in its own process (0.25 s per reply), then runs N GSM8K problems
with K requests in flight through (a) mathbench's run_eval (warm sandbox, grader, fsynced run dir) and
(b) a minimal reference client (asyncio + openai, a fresh python3 per code block, naive boxed check).
Prints both wall times beside the ideal N/K x rounds x latency.

    .venv/bin/python bench/eval_throughput.py [--n 600] [--concurrency 64] [--latency 0.25] [--sympy]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mathbench.core.evaluation.benchmarks import load_benchmark  # noqa: E402
from mathbench.core.evaluation.runner import EvalConfig, run_eval  # noqa: E402
from mathbench.core.evaluation.pot import extract_code, load_prompt, observation_message  # noqa: E402


def start_server(latency: float, preamble: str) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "mathbench.tui", "demo-server", "--port", "0", "--latency", str(latency),
           "--accuracy", "1", "--buggy-rate", "0", "--answer-key", "gsm8k", "--preamble", preamble]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.search(r"(http://\S+/v1)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"demo server did not start: {line!r}")
    return proc, m.group(1)


# The venv's interpreter, so a fresh process has the same sympy/numpy the sandbox preloads.
PYTHON3 = sys.executable


class _Result:
    def __init__(self, stdout: str, stderr: str, rc: int):
        self.stdout, self.stderr = stdout, stderr
        self.status = "ok" if rc == 0 else "error"


async def reference(problems, base_url: str, concurrency: int, model: str) -> tuple[float, int]:
    """The seed's protocol done with asyncio: chat, write temp.py, run a fresh python3, chat again."""
    import openai

    template = load_prompt("zh")
    client = openai.AsyncOpenAI(base_url=base_url, api_key="x", timeout=600.0, max_retries=5)
    sem = asyncio.Semaphore(concurrency)
    correct = 0
    tmp = tempfile.mkdtemp(prefix="mb-ref-")

    async def ask(messages):
        async with sem:
            r = await client.chat.completions.create(model=model, messages=messages, temperature=0.0, top_p=1.0,
                                                     max_tokens=2048)
        return r.choices[0].message.content or ""

    async def one(i, p):
        nonlocal correct
        messages = template.initial_messages(p.question)
        text = await ask(messages)
        messages.append({"role": "assistant", "content": text})
        code = extract_code(text)
        if code is not None:
            path = os.path.join(tmp, f"temp_{i}.py")
            Path(path).write_text(code, encoding="utf-8")
            # A thread per running block (asyncio's own subprocess API stalled under load here).
            def run_fresh() -> _Result:
                try:
                    done = subprocess.run([PYTHON3, path], capture_output=True, text=True, timeout=300)
                except subprocess.TimeoutExpired:
                    return _Result("", "timed out", 1)
                return _Result(done.stdout, done.stderr, done.returncode)

            messages.append(observation_message(await loop.run_in_executor(pool, run_fresh), template))
            text = await ask(messages)
        m = re.findall(r"\\boxed\{([^}]*)\}", text)
        gold = p.gold.rsplit("####", 1)[-1].strip().replace(",", "")
        correct += bool(m and m[-1].strip() == gold)

    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=concurrency)
    t0 = time.perf_counter()
    await asyncio.gather(*(one(i, p) for i, p in enumerate(problems)))
    wall = time.perf_counter() - t0
    pool.shutdown()
    await client.close()
    return wall, correct


async def mathbench(problems, base_url: str, concurrency: int, model: str) -> tuple[float, object]:
    from mathbench.core.sandbox.pool import run_python_async

    await run_python_async("print(1)", 10)  # the warm pool starts once per process, outside the timing
    with tempfile.TemporaryDirectory(prefix="mb-bench-") as d:
        cfg = EvalConfig(benchmark="gsm8k", base_urls=[base_url], model=model, run_dir=Path(d) / "run",
                         concurrency=concurrency, limit=len(problems))
        t0 = time.perf_counter()
        summary = await run_eval(cfg)
        wall = time.perf_counter() - t0
    return wall, summary


def _child(args) -> int:
    """One client in its own fresh process, so neither client's children or threads disturb the other."""
    problems = load_benchmark("gsm8k", limit=args.n)
    if args.only == "mathbench":
        wall, summary = asyncio.run(mathbench(problems, args.url, args.concurrency, "demo-pot"))
        out = {"wall": wall, "correct": summary.correct, "errors": summary.errors, "total": summary.total}
    else:
        wall, correct = asyncio.run(reference(problems, args.url, args.concurrency, "demo-pot"))
        out = {"wall": wall, "correct": correct, "errors": 0, "total": len(problems)}
    print(json.dumps(out), flush=True)
    return 0


def _run_child(which: str, url: str, args) -> dict:
    cmd = [sys.executable, __file__, "--only", which, "--url", url, "--n", str(args.n),
           "--concurrency", str(args.concurrency)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{which} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.25)
    ap.add_argument("--sympy", action="store_true", help="the model's code imports sympy, as real PoT code often does")
    ap.add_argument("--only", choices=("mathbench", "reference"), help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.only:
        return _child(args)
    preamble = "import sympy as sp" if args.sympy else "import math"
    server, url = start_server(args.latency, preamble)
    try:
        rounds = 2  # one code block per problem: ask, then answer after the output
        ideal = args.n / args.concurrency * rounds * args.latency
        mb = _run_child("mathbench", url, args)
        ref = _run_child("reference", url, args)
    finally:
        server.terminate()
        server.wait(timeout=10)
    load = os.getloadavg()[0]
    print(f"eval throughput: {args.n} GSM8K problems, {args.concurrency} in flight, server latency "
          f"{args.latency:g}s, code preamble {preamble!r}, {os.cpu_count()} CPUs, load average {load:.1f}")
    print(f"  ideal (server-bound)        {ideal:7.2f} s   = {args.n}/{args.concurrency} x {rounds} rounds x "
          f"{args.latency:g}s")
    print(f"  mathbench run_eval          {mb['wall']:7.2f} s   {mb['correct']}/{mb['total']} correct, "
          f"{mb['errors']} errors (sandbox + grader + fsync per record)")
    print(f"  reference (fresh python3)   {ref['wall']:7.2f} s   {ref['correct']}/{ref['total']} correct")
    print(f"  mathbench vs reference: {ref['wall'] / mb['wall']:.2f}x faster; "
          f"ideal / mathbench = {ideal / mb['wall']:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
