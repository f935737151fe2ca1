"""The warm sandbox pool: results, statuses, truncation, concurrency, the async API."""

from __future__ import annotations

import asyncio
import threading

import pytest

from mathbench.core.sandbox.pool import ExecResult, SandboxPool, run_python, run_python_async


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(size=2) as p:
        yield p


def test_ok_with_preloaded_modules(pool):
    r = pool.run("import math, numpy as np, sympy as sp\nprint(sp.factorint(360), int(np.arange(5).sum()), math.comb(5, 2))")
    assert r.status == "ok", r.stderr
    assert r.stdout == "{2: 3, 3: 2, 5: 1} 10 10\n"
    assert r.returncode == 0 and not r.truncated and r.duration > 0


def test_error_gives_traceback_tail(pool):
    r = pool.run("x = 1\ny = x / 0\n")
    assert r.status == "error" and r.returncode == 1
    assert "ZeroDivisionError: division by zero" in r.stderr
    assert 'File "temp.py", line 2' in r.stderr and "y = x / 0" in r.stderr
    assert r.error_tail(1) == "ZeroDivisionError: division by zero"
    assert "_sandbox_worker" not in r.stderr


def test_syntax_error_and_exit_codes(pool):
    r = pool.run("def f(:\n  pass")
    assert r.status == "error" and "SyntaxError" in r.stderr
    assert pool.run("import sys; sys.exit(3)").returncode == 3
    assert pool.run("import sys; print('a'); sys.exit(0)").status == "ok"
    assert pool.run("raise SystemExit('bye')").stderr.strip() == "bye"


def test_main_guard_stdin_and_stdlib_imports(pool):
    code = (
        "import fractions, decimal, itertools, collections, json, textwrap, csv\n"
        "if __name__ == '__main__':\n"
        "    try:\n        input()\n    except EOFError:\n        print('eof')\n"
        "    print(fractions.Fraction(1, 3) + fractions.Fraction(1, 6))\n"
    )
    r = pool.run(code)
    assert r.status == "ok", r.stderr
    assert r.stdout == "eof\n1/2\n"


def test_unicode_output(pool):
    r = pool.run("print('收茄子的重量为:', 1300, '千克')")
    assert r.stdout == "收茄子的重量为: 1300 千克\n"


def test_each_block_is_a_fresh_process(pool):
    first = pool.run("import sympy, sys\nsympy.GLOBAL_MARK = 1\nsys.modules['fresh_mark'] = sympy\nprint('set')")
    second = pool.run("import sympy, sys\nprint(hasattr(sympy, 'GLOBAL_MARK'), 'fresh_mark' in sys.modules)")
    assert first.stdout == "set\n"
    assert second.stdout == "False False\n"


def test_numpy_random_differs_between_blocks(pool):
    code = "import numpy as np; print(np.random.randint(0, 2**31))"
    assert pool.run(code).stdout != pool.run(code).stdout


def test_output_truncation_keeps_head_and_tail():
    with SandboxPool(size=1, max_output=1000) as p:
        r = p.run("print('HEAD'); print('x' * 50000); print('TAIL')")
    assert r.status == "ok" and r.truncated
    assert r.stdout.startswith("HEAD\nxxx") and r.stdout.endswith("xxx\nTAIL\n")
    assert "bytes of output truncated" in r.stdout and len(r.stdout) < 1200


def test_to_dict_roundtrip(pool):
    d = pool.run("print(7)").to_dict()
    assert set(d) == {"stdout", "stderr", "status", "duration", "returncode", "truncated"}
    assert ExecResult(**d).stdout == "7\n"


def test_blocks_run_concurrently(pool):
    # Blocks cannot talk to each other, so each notes when it ran (the monotonic clock is the machine's):
    # run one after the other, the two intervals could not overlap.
    code = "import time\nt0 = time.monotonic()\ntime.sleep(1.5)\nprint(t0, time.monotonic())\n"
    results = {}

    def go(name):
        results[name] = pool.run(code, timeout=20)

    threads = [threading.Thread(target=go, args=(name,)) for name in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (a0, a1), (b0, b1) = ([float(x) for x in results[k].stdout.split()] for k in "ab")
    assert a0 < b1 and b0 < a1, "the two blocks ran one after the other"


def test_more_blocks_than_workers_queue_and_finish(pool):
    results = pool.map([f"print({i} * {i})" for i in range(9)], timeout=10)
    assert [r.stdout.strip() for r in results] == [str(i * i) for i in range(9)]


async def test_async_run_does_not_block_event_loop(pool):
    task = asyncio.create_task(pool.arun("import time; time.sleep(2); print('done')", timeout=10))
    await asyncio.sleep(0.1)
    assert not task.done()  # a blocking implementation would have finished before this line ran
    r = await task
    assert r.status == "ok" and r.stdout == "done\n"


async def test_async_many_at_once(pool):
    rs = await asyncio.gather(*(pool.arun(f"print({i} + 1)") for i in range(6)))
    assert [r.stdout.strip() for r in rs] == [str(i + 1) for i in range(6)]


def test_module_level_helpers():
    assert run_python("print(2 ** 10)", timeout=5).stdout == "1024\n"
    assert asyncio.run(run_python_async("print(3)", timeout=5)).stdout == "3\n"


def test_closed_pool_refuses():
    p = SandboxPool(size=1)
    p.run("pass")
    p.close()
    with pytest.raises(RuntimeError):
        p.run("pass")
