"""Run directories for the workbench's tests and benchmarks, written through core.runs like a real eval."""

from __future__ import annotations

from pathlib import Path

SUBJECTS = ("Algebra", "Geometry", "Number Theory", "Prealgebra", "Precalculus")
VERDICT_CYCLE = ("correct", "correct", "wrong", "uncertain", "correct", "wrong", "correct")


def record(i: int, verdict: str, *, error: str | None = None) -> dict:
    """One results.jsonl record in the contract's shape: a PoT turn with code, its execution and a reply."""
    value = i * 7 % 97
    code = f"x = {i} * 7 % 97\nprint(x)"
    final = f"因此，答案是 $\\boxed{{{value if verdict != 'wrong' else value + 1}}}$。"
    return {
        "id": f"p-{i:05d}",
        "question": f"Problem {i}: what is {i} times 7 modulo 97?",
        "gold": f"{i} * 7 mod 97 = {value}\n#### {value}",
        "gold_answer": str(value),
        "level": i % 5 + 1,
        "subject": SUBJECTS[i % len(SUBJECTS)],
        "messages": [
            {"role": "user", "content": f"Problem {i}: what is {i} times 7 modulo 97?"},
            {"role": "assistant", "content": f"We compute it.\n```python\n{code}\n```"},
            {"role": "user", "content": f"```output\n{value}\n```"},
            {"role": "assistant", "content": final},
        ],
        "executions": [{"code": code, "stdout": f"{value}\n", "stderr": "", "status": "ok", "duration": 0.012}],
        "final_text": final,
        "pred_answer": None if error else (str(value) if verdict != "wrong" else str(value + 1)),
        "verdict": None if error else verdict,
        "reason": "request-failed" if error else {"correct": "exact", "wrong": "not-equal",
                                                  "uncertain": "float-close-not-equal"}[verdict],
        "latency": 0.5 + (i % 13) / 10,
        "usage": {"prompt_tokens": 120, "completion_tokens": 60 + i % 40},
        "error": error,
        "rounds": 1,
        "endpoint": "http://127.0.0.1:8000/v1",
    }


def make_run(path: Path, n: int, *, name: str | None = None, errors: int = 0) -> Path:
    """A finished run of *n* items cycling through the verdicts; the first *errors* items errored."""
    from mathbench.core.evaluation.rundir import RunDir

    run = RunDir(path)
    run.write_manifest({"name": name or Path(path).name, "benchmark": "synthetic", "model": "test-model",
                        "total": n, "status": "finished"})
    with run.open_writer() as writer:
        for i in range(n):
            verdict = VERDICT_CYCLE[i % len(VERDICT_CYCLE)]
            writer.append(record(i, verdict, error="ReadTimeout after 3 retries" if i < errors else None))
    return Path(path)


def make_sampled_run(path: Path, problems: int = 6, samples: int = 4) -> Path:
    """A finished run drawing *samples* per problem: problem i has its first i % (samples + 1) samples right."""
    from mathbench.core.evaluation.rundir import RunDir

    run = RunDir(path)
    run.write_manifest({"name": Path(path).name, "benchmark": "synthetic", "model": "m",
                        "total": problems * samples, "samples": samples, "status": "finished"})
    with run.open_writer() as writer:
        for i in range(problems):
            for s in range(samples):
                rec = record(i, "correct" if s < i % (samples + 1) else "wrong")
                rec["sample"] = s
                writer.append(rec)
    return Path(path)


def screen_lines(app) -> list[str]:
    """The text of every row the app's screen shows now."""
    return ["".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips()]


def screen_text(app) -> str:
    return "\n".join(screen_lines(app))


async def wait_until(pilot, condition, *, limit: float = 90.0, step: float = 0.05) -> None:
    """Let the app run until *condition()* holds; fail (not time out silently) if it never does."""
    import time

    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition never held within {limit}s: {condition}")
        await pilot.pause(step)


FOLLOWER_GROUPS = ("log-read", "eval-follow")
"""Worker groups that follow a file until their screen goes away: never waited for."""


async def wait_for_workers(app) -> None:
    """Wait for every worker to finish except the endless file followers (log tails, live runs)."""
    workers = [w for w in app.workers if w.group not in FOLLOWER_GROUPS]
    if workers:  # an empty list would mean "every worker" to Textual
        await app.workers.wait_for_complete(workers)
