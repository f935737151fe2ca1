"""Evaluation: problems -> PoT (client + sandbox) -> grade -> results.jsonl, emitting progress events.

Events are plain dataclasses with past-tense names (see `progress`); `on_event` is called on the event
loop's thread. With samples > 1 each problem is asked N times and each sample is its own record
(``id`` + ``sample``), written and resumed on its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from mathbench.core.evaluation.benchmarks import Problem, load_benchmark, resolve_spec
from mathbench.core.evaluation.client import ChatClient, ChatError, RetryInfo, preflight
from mathbench.core.evaluation.pot import PotTrace, Unanswered, solve
from mathbench.core.evaluation.progress import (
    EndpointsCameBack,
    EndpointsWentDown,
    ItemFailed,
    ItemFinished,
    Progress,
    RequestRetried,
    RunFinished,
    RunStarted,
    RunSummary,
    Tally,
)
from mathbench.core.evaluation.runconfig import (
    EvalConfig,
    EvalError,
    build_manifest,
    check_resume,
    config_from_manifest,
    load_template,
)
from mathbench.core.evaluation.rundir import RunDir
from mathbench.core.records import ResultRecord, RunManifest, RunStatus, result_key
from mathbench.core.sandbox.protections import sandbox_protections_async


def make_record(problem: Problem, trace: PotTrace, grade: Any, gold_answer: str | None,
                sample: int | None = None) -> ResultRecord:
    """One results.jsonl record for a problem (or for one sample of it)."""
    g = grade.to_dict() if hasattr(grade, "to_dict") else (grade or {})
    return ResultRecord(
        id=problem.id,
        sample=sample,
        question=problem.question,
        gold=problem.gold,
        gold_answer=g.get("gold_answer", gold_answer) if g else gold_answer,
        level=problem.level,
        subject=problem.subject,
        messages=trace.messages,
        executions=trace.executions,
        final_text=trace.final_text,
        pred_answer=g.get("pred_answer") if g else None,
        verdict=g.get("verdict") if g else None,
        reason=g.get("reason") if g else None,
        latency=round(trace.latency, 4),
        usage=trace.usage,
        error=trace.error,
        rounds=trace.rounds,
        endpoint=trace.endpoint,
        attempts=trace.attempts,
        time=time.time(),
    )


def _default_run_code() -> Callable[[str, float], Awaitable[Any]]:
    from mathbench.core.sandbox.pool import run_python_async

    return run_python_async


def _load_problems(config: EvalConfig) -> tuple[list[Problem], str | None]:
    if config.problems is not None:
        return list(config.problems), None
    try:
        resolved = resolve_spec(str(config.benchmark), config.workspace)
        problems = load_benchmark(config.benchmark, limit=config.limit, levels=config.levels,
                                  subjects=config.subjects, shuffle_seed=config.shuffle_seed,
                                  workspace=config.workspace, fields=config.fields)
    except (ValueError, OSError) as exc:
        raise EvalError(str(exc)) from None
    return problems, str(resolved)


def _old_manifest(run: RunDir) -> dict | None:
    """The manifest of a run being resumed; results without one are refused (they could be any run's)."""
    if run.manifest_path.exists():
        return run.manifest
    if run.results_path.exists() and run.results_path.stat().st_size > 0:
        raise EvalError(f"{run.path} holds results.jsonl but no manifest.json: nothing says what those results "
                        "measured, so they cannot be resumed. Use another --run-dir.")
    return None


async def _check_endpoints(client: ChatClient, model: str, manifest: RunManifest) -> None:
    try:
        checks = await preflight(client)
    finally:
        await client.aclose()
    if not any(c["ok"] for c in checks.values()):
        errors = "; ".join(f"{u}: {c['error']}" for u, c in checks.items())
        raise EvalError(f"no endpoint answered GET /v1/models ({errors})")
    manifest.served_models = {u: c["models"] for u, c in checks.items()}
    missing = {u: c["models"] for u, c in checks.items()
               if c["ok"] and model not in c["models"] and c["models"] != ["gpt-3.5-turbo"]}
    if missing and len(missing) == sum(c["ok"] for c in checks.values()):
        # LLaMA-Factory's api lists gpt-3.5-turbo and accepts any name; vLLM answers 404 to a wrong one.
        served = "; ".join(f"{u}: {', '.join(m) or 'nothing'}" for u, m in missing.items())
        raise EvalError(f"model {model!r} is not served ({served})")


async def run_eval(config: EvalConfig, on_event: Callable[[Any], None] | None = None) -> RunSummary:
    """Run (or resume) an eval into config.run_dir; returns the summary. Cancelling it stops cleanly.

    A resume re-runs what has no record and what ended in an error. When every endpoint stays down
    longer than config.down_wait, the run stops as incomplete (what was in flight is not recorded).
    """
    from mathbench.core.grading import extract_gold, grade

    emit = on_event or (lambda event: None)
    if config.samples < 1:
        raise EvalError(f"--samples must be at least 1, not {config.samples}")
    problems, benchmark_file = _load_problems(config)
    if not problems:
        raise EvalError(f"benchmark {config.benchmark!r} gave no problems (check --limit/--levels/--subjects)")
    if config.run_dir is None:
        config.run_dir = config.default_run_dir()
    run = RunDir(config.run_dir)
    old_manifest = _old_manifest(run)
    template = load_template(config, old_manifest)
    manifest = build_manifest(config, problems, template.to_dict(), benchmark_file)
    if old_manifest:
        check_resume(old_manifest, manifest)
        old = RunManifest.from_json(old_manifest)
        manifest.created, manifest.sessions, manifest.name = old.created, old.sessions, old.name
    run_code = config.run_code or _default_run_code()
    manifest.sandbox = await sandbox_protections_async(config.run_code)
    sampled = config.samples > 1
    units = [(p, s if sampled else None) for p in problems for s in range(config.samples)]

    tally_box: list[Tally] = []

    def on_retry(info: RetryInfo) -> None:
        if tally_box:
            tally_box[0].retries += 1
        emit(RequestRetried(info.endpoint, info.attempt, info.error, info.delay))

    def on_down(since: float) -> None:
        if tally_box:
            tally_box[0].down_since = since
        manifest.down_since = since
        _save_manifest(run, manifest)
        emit(EndpointsWentDown(since, since + config.down_wait, list(client.base_urls)))

    def on_up(down_for: float) -> None:
        if tally_box:
            tally_box[0].down_since = None
        manifest.down_since = None
        _save_manifest(run, manifest)
        emit(EndpointsCameBack(down_for))

    client = ChatClient(config.base_urls, config.model, api_key=config.api_key, sampling=config.effective_sampling(),
                        concurrency=config.concurrency, timeout=config.timeout, max_retries=config.max_retries,
                        stream=config.stream, on_retry=on_retry, backoff_base=config.backoff_base,
                        max_reply_bytes=config.max_reply_bytes, retry_after_max=config.retry_after_max,
                        down_wait=config.down_wait, on_down=on_down, on_up=on_up)
    if config.preflight:
        await _check_endpoints(client, config.model, manifest)
    writer = run.open_writer()  # raises RunLocked for a second writer
    session: dict[str, Any] = {"started": time.time(), "finished": None, "items": 0,
                               "base_urls": list(config.base_urls)}
    tally: Tally | None = None
    interrupted = False
    stopped: list[str] = []
    try:
        wanted = {result_key(p.id, s) for p, s in units}
        existing = [r for r in run.load_records(strict=False) if r.key in wanted]
        graded = {r.key for r in existing if not r.is_error}
        pending = [(p, s) for p, s in units if result_key(p.id, s) not in graded]
        manifest.sessions = list(manifest.sessions or []) + [session]
        run.write_manifest(manifest)
        tally = Tally(len(units), existing)
        tally_box.append(tally)
        emit(RunStarted(run.path, len(units), len(units) - len(pending), len(pending),
                        bool(old_manifest), manifest.to_json(), tally.snapshot()))

        queue: asyncio.Queue[tuple[Problem, int | None]] = asyncio.Queue()
        for unit in pending:
            queue.put_nowait(unit)
        write_lock = asyncio.Lock()

        async def one(problem: Problem, sample: int | None) -> None:
            seed = config.sample_seed(sample) if sampled else None

            async def chat(messages: list[dict]) -> Any:
                return await client.chat(messages, seed=seed)

            tally.in_flight += 1
            try:
                trace = await solve(problem.question, chat, run_code, template=template,
                                    max_rounds=config.max_rounds, code_timeout=config.code_timeout)
            except Unanswered as exc:
                if not stopped:
                    stopped.append(str(exc))
                return
            finally:
                tally.in_flight -= 1
            gold_answer = extract_gold(problem.gold)
            g = None
            if trace.error is None:
                try:
                    g = await asyncio.to_thread(grade, problem.gold, trace.final_text, timeout=config.grade_timeout,
                                                choices=problem.choices, question=problem.question)
                except Exception as exc:  # noqa: BLE001 - a grader failure is recorded, not fatal
                    trace.error = f"grading failed: {type(exc).__name__}: {exc}"
            record = make_record(problem, trace, g, gold_answer, sample)
            line = record.to_json()
            async with write_lock:
                await asyncio.to_thread(writer.append, line)
            session["items"] += 1
            tally.add(record)
            tally.session_done += 1
            snap = tally.snapshot()
            if record.is_error:
                emit(ItemFailed(line, record.error or "no verdict", snap))
            else:
                emit(ItemFinished(line, snap))

        async def worker() -> None:
            while not stopped:
                try:
                    problem, sample = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await one(problem, sample)

        # More problems than request slots, so a slot freed while a block runs is taken at once.
        n_workers = min(len(pending), config.concurrency + max(2, config.concurrency // 4))
        tasks = [asyncio.create_task(worker(), name=f"eval-worker-{i}") for i in range(n_workers)]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
    except (asyncio.CancelledError, KeyboardInterrupt):
        interrupted = True
        raise
    finally:
        session["finished"] = time.time()
        endpoint_counts = {e.base_url: {"served": e.served, "failures": e.failures} for e in client.endpoint_stats()}
        await client.aclose()
        writer.close()
        if tally is not None:
            complete = tally.complete and not interrupted
            manifest.status = (RunStatus.COMPLETE if complete else RunStatus.INCOMPLETE).value
            manifest.finished = time.time() if complete else None
            manifest.updated = time.time()
            manifest.down_since = None
            manifest.stopped_reason = stopped[0] if stopped else ("interrupted" if interrupted else None)
            _save_manifest(run, manifest)
    summary = RunSummary(**vars(tally.snapshot()), run_dir=run.path, new_items=session["items"],
                         complete=tally.complete, endpoints=endpoint_counts, status=manifest.status,
                         stopped_reason=manifest.stopped_reason, samples=config.samples, problems=len(problems))
    emit(RunFinished(summary))
    return summary


def _save_manifest(run: RunDir, manifest: RunManifest) -> None:
    """Save the manifest; a failed save (disk full) must not end the eval, whose results are already safe."""
    try:
        run.write_manifest(manifest)
    except OSError:
        pass


__all__ = ["EvalConfig", "EvalError", "run_eval", "RunStarted", "ItemFinished", "ItemFailed", "RequestRetried",
           "EndpointsWentDown", "EndpointsCameBack", "RunFinished", "RunSummary", "Progress", "config_from_manifest",
           "make_record", "ChatError"]
