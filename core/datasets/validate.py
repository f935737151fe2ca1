"""Validate SFT items: LLaMA-Factory's role rules, and re-running each item's code against its recorded output.

For every item:
  schema   the rules LLaMA-Factory applies silently (a leading system turn is lifted out; then
           human/observation at even positions, gpt/function_call at odd ones; an even, non-zero count),
           each violation named with the turn index and the reason.
  code     each gpt turn's first ```python block runs in the sandbox; its stdout is compared with the
           recorded output in the next (human/observation) turn: match | mismatch | error | timeout,
           or no_code; a block with no recorded output after it is `unchecked` when it runs fine.
  answer   the final reply's answer (answer_check) checked against the executed output:
           consistent | inconsistent | unknown.
Results are cached by content hash (SQLite), so re-validating unchanged items costs no execution.

    report = validate_dataset(Dataset.load(path), on_progress=lambda done, total: ...)
    report.summary()   # {"items", "schema_errors", "code_match", "code_mismatch", "code_error", ...}
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from mathbench.core.datasets.answer_check import answer_fast, symbolic_verdict
from mathbench.core.datasets.checks import ItemCheck, RoundCheck, ValidationReport
from mathbench.core.datasets.dataset import Dataset
from mathbench.core.datasets.items import Turn, detect_format, item_turns
from mathbench.core.datasets.outputs import compare_outputs, recorded_output
from mathbench.core.datasets.schema import BOT_SIDE, USER_SIDE, empty_turn_warnings, schema_errors
from mathbench.core.datasets.validation_cache import ValidationCache, code_key, default_cache_path, item_key

# Worst first: an item's code status is the worst of its rounds.
_SEVERITY = {"timeout": 0, "error": 1, "mismatch": 2, "unchecked": 3, "match": 4}


@dataclass
class _Plan:
    index: int
    fmt: str | None
    turns: list[Turn]
    blocks: list[tuple[int, str]]  # (gpt turn index, code)
    key: str


def _plan(index: int, item: dict, fmt: str | None, timeout: float) -> _Plan:
    from mathbench.core.evaluation.pot import extract_code

    turns = item_turns(item, detect_format(item) or fmt)
    blocks = []
    for i, t in enumerate(turns):
        if t.role in BOT_SIDE:
            code = extract_code(t.content)
            if code and code.strip():
                blocks.append((i, code))
    return _Plan(index, fmt, turns, blocks, item_key(item, fmt, timeout))


def _judge(plan: _Plan, item: dict, line: int | None, execs: dict[str, dict],
           timeout: float) -> tuple[ItemCheck, tuple[str, str] | None]:
    """The item's check, and an (answer, output value) pair still to compare symbolically, if any."""
    check = ItemCheck(index=plan.index, line=line, schema_errors=schema_errors(item, plan.fmt),
                      warnings=empty_turn_warnings(plan.turns))
    if not plan.blocks:
        return check, None
    turns = plan.turns
    last_ok_stdout = None
    for turn_idx, code in plan.blocks:
        res = execs[code_key(code, timeout)]
        nxt = turns[turn_idx + 1] if turn_idx + 1 < len(turns) else None
        recorded = recorded_output(nxt.content) if nxt is not None and nxt.role in USER_SIDE else None
        status = res["status"]
        if status == "timeout":
            result, how = "timeout", f"no result within {timeout:g} s"
        elif status in ("error", "killed"):
            tail = res.get("error_tail") or ""
            result, how = "error", (tail.splitlines()[-1] if tail else f"process {status}")
        elif recorded is None:
            result, how = "unchecked", "no recorded output after the code"
        else:
            same, how = compare_outputs(res["stdout"], recorded)
            result = "match" if same else "mismatch"
            if not same and res.get("varies"):
                how += "; the output changes from run to run (the code is not deterministic)"
        if status == "ok":
            last_ok_stdout = res["stdout"]
        check.rounds.append(RoundCheck(turn=turn_idx, code_hash=code_key(code, timeout)[5:17], status=status,
                                       stdout=res["stdout"], error_tail=res.get("error_tail", ""),
                                       recorded=recorded, result=result, how=how,
                                       duration=res.get("duration", 0.0)))
    check.code_status = min((r.result for r in check.rounds), key=_SEVERITY.__getitem__)
    last_code_turn = plan.blocks[-1][0]
    finals = [t for t in turns[last_code_turn + 1:] if t.role == "gpt"]
    if finals and last_ok_stdout is not None:
        check.answer, check.answer_rule, check.answer_status, check.answer_reason, pair = answer_fast(
            finals[-1].content, last_ok_stdout)
        return check, pair
    elif finals:
        from mathbench.core.grading import extract_answer

        ext = extract_answer(finals[-1].content)
        check.answer, check.answer_rule = ext.answer, ext.rule
        check.answer_reason = "the code did not run to the end"
    return check, None


def _exec_record(res) -> dict:
    return {"status": res.status, "stdout": res.stdout, "error_tail": res.error_tail(6) if res.status != "ok" else "",
            "duration": round(res.duration, 4)}


def validate_items(
    items: list[dict],
    *,
    fmt: str | None = None,
    lines: list[int] | None = None,
    timeout: float = 10.0,
    pool=None,
    cache: ValidationCache | str | Path | None = "default",
    on_item: Callable[[ItemCheck], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
    path: str | None = None,
) -> ValidationReport:
    """Check every item (schema, code, answer) using all of the sandbox pool's workers.

    cache: a ValidationCache, a path, None (no cache) or "default" (~/.cache/mathbench/validate.sqlite).
    on_item is called (in the calling thread) as each item is decided, on_progress with (done, total);
    setting *stop* ends early with a partial report (cancelled=True).
    """
    from mathbench.core.sandbox.pool import default_pool

    t0 = time.monotonic()
    own_cache = not isinstance(cache, ValidationCache)
    if cache == "default":
        cache = ValidationCache(default_cache_path())
    elif not isinstance(cache, ValidationCache):
        cache = ValidationCache(cache)
    total = len(items)
    results: list[ItemCheck | None] = [None] * total
    done = 0
    cached_items = 0
    executed = 0

    def finish(check: ItemCheck) -> None:
        nonlocal done
        results[check.index] = check
        done += 1
        if on_item:
            on_item(check)
        if on_progress:
            on_progress(done, total)

    try:
        plans: list[_Plan] = []
        for i, item in enumerate(items):
            plan = _plan(i, item, fmt, timeout)
            hit = cache.get(plan.key)
            line = lines[i] if lines and i < len(lines) and lines[i] else None
            if hit is not None:
                check = ItemCheck.from_dict(hit)
                check.index, check.line, check.cached = i, line, True
                cached_items += 1
                finish(check)
            else:
                plans.append(plan)
        # Blocks shared by several items (duplicates) run once; earlier runs come from the cache.
        execs: dict[str, dict] = {}
        need: dict[str, str] = {}
        for plan in plans:
            for _, code in plan.blocks:
                k = code_key(code, timeout)
                if k in execs or k in need:
                    continue
                hit = cache.get(k)
                if hit is not None:
                    execs[k] = hit
                else:
                    need[k] = code
        # What each needed block is expected to print (a block whose output differs runs twice, to tell
        # nondeterministic code from a wrong record).
        recorded_for: dict[str, list[str]] = {}
        for plan in plans:
            for turn_idx, code in plan.blocks:
                nxt = plan.turns[turn_idx + 1] if turn_idx + 1 < len(plan.turns) else None
                if nxt is not None and nxt.role in USER_SIDE:
                    recorded_for.setdefault(code_key(code, timeout), []).append(recorded_output(nxt.content))
        waiting: dict[str, list[_Plan]] = {}
        pending_count: dict[int, int] = {}
        for plan in plans:
            keys = {code_key(c, timeout) for _, c in plan.blocks} - set(execs)
            pending_count[plan.index] = len(keys)
            for k in keys:
                waiting.setdefault(k, []).append(plan)
        # Items waiting for a symbolic answer comparison (a separate process, warmed up once) while
        # code keeps running: future -> (plan key, check, (answer, output value)).
        grading: dict = {}

        def store_and_finish(key: str, check: ItemCheck) -> None:
            if not any(r.status == "killed" for r in check.rounds):
                stored = check.to_dict()
                stored.pop("valid", None)
                cache.put_many([(key, stored)])
            finish(check)

        def decide(plan: _Plan) -> None:
            from mathbench.core.grading import shared_pool

            line = lines[plan.index] if lines and plan.index < len(lines) else None
            check, pair = _judge(plan, items[plan.index], line, execs, timeout)
            if pair is None:
                store_and_finish(plan.key, check)
            else:
                grading[shared_pool().submit("answer", *pair, timeout=2.0)] = (plan.key, check, pair)

        def graded(fut) -> None:
            key, check, pair = grading.pop(fut)
            try:
                verdict = symbolic_verdict(pair, fut.result())
            except Exception:  # noqa: BLE001 - a grader failure leaves the answer unknown
                verdict = None
            if verdict:
                check.answer_status, check.answer_reason = verdict
            store_and_finish(key, check)

        for plan in plans:
            if pending_count[plan.index] == 0:
                decide(plan)
        pool = (pool or default_pool()) if need else pool
        workers = max(1, getattr(pool, "size", None) or os.cpu_count() or 2)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="validate") as ex:
            todo = iter(need.items())
            running: dict = {}

            def run_block(code: str, recorded: list[str]) -> dict:
                res = pool.run(code, timeout)
                rec = _exec_record(res)
                if res.status == "ok" and any(not compare_outputs(res.stdout, r)[0] for r in recorded):
                    again = pool.run(code, timeout)
                    rec["varies"] = again.status != "ok" or again.stdout != res.stdout
                return rec

            def submit_next() -> bool:
                if stop is not None and stop.is_set():
                    return False
                try:
                    k, code = next(todo)
                except StopIteration:
                    return False
                running[ex.submit(run_block, code, recorded_for.get(k, []))] = k
                return True

            while len(running) < workers * 2 and submit_next():
                pass
            while running or grading:
                finished, _ = wait(list(running) + list(grading), return_when=FIRST_COMPLETED)
                new_cache = []
                for fut in finished:
                    if fut in grading:
                        graded(fut)
                        continue
                    k = running.pop(fut)
                    rec = fut.result()
                    execs[k] = rec
                    executed += 1
                    if rec["status"] != "killed":
                        new_cache.append((k, rec))
                    for plan in waiting.pop(k, []):
                        pending_count[plan.index] -= 1
                        if pending_count[plan.index] == 0:
                            decide(plan)
                cache.put_many(new_cache)
                if stop is not None and stop.is_set():
                    for fut in running:
                        fut.cancel()
                    running.clear()
                    for fut in list(grading):
                        fut.cancel()
                        grading.pop(fut)
                    break
                while len(running) < workers * 2 and submit_next():
                    pass
    finally:
        if own_cache:
            cache.close()
    checks = [c for c in results if c is not None]
    return ValidationReport(path=path, checks=checks, elapsed=time.monotonic() - t0, executed=executed,
                            cached_items=cached_items, cancelled=len(checks) < total)


def cached_checks(items: list[dict], *, fmt: str | None = None, timeout: float = 10.0,
                  cache: ValidationCache | None = None) -> list[ItemCheck | None]:
    """Each item's check if the cache holds it (no code runs): what a screen shows before validating."""
    cache = cache or ValidationCache(default_cache_path())
    out: list[ItemCheck | None] = []
    for i, item in enumerate(items):
        hit = cache.get(item_key(item, fmt, timeout))
        if hit is None:
            out.append(None)
            continue
        check = ItemCheck.from_dict(hit)
        check.index, check.cached = i, True
        out.append(check)
    return out


def validate_dataset(ds: Dataset, **kwargs) -> ValidationReport:
    """validate_items over a loaded Dataset (its format, its line numbers, its path in the report)."""
    kwargs.setdefault("path", str(ds.path) if ds.path else None)
    return validate_items(ds.items, fmt=ds.fmt, lines=ds.lines, **kwargs)


def validate_file(path: str | Path, **kwargs) -> ValidationReport:
    return validate_dataset(Dataset.load(path), **kwargs)
