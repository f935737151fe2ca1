"""Evaluation: problems -> PoT (client + sandbox) -> grade -> results.jsonl, emitting progress events.

Events are plain dataclasses with past-tense names; `on_event` is called on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import math
import platform
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mathbench.core.evaluation.benchmarks import Problem, benchmark_label, load_benchmark, resolve_spec
from mathbench.core.evaluation.client import ChatClient, ChatError, RetryInfo, Sampling, preflight
from mathbench.core.evaluation.pot import PotTrace, load_prompt, solve
from mathbench.core.evaluation.report import wilson_interval
from mathbench.core.sandbox.protections import sandbox_protections_async

# Fields of the manifest that must match when a run is resumed (else its results would mix two setups).
RESUME_KEYS = ("benchmark_spec", "model", "sampling", "prompt_name", "max_rounds", "limit", "levels",
               "subjects", "shuffle_seed")


class EvalError(Exception):
    """An eval that cannot start (bad benchmark, mismatched resume, no endpoint reachable)."""


@dataclass
class EvalConfig:
    """What to evaluate and how; api_key is used for requests and never stored."""

    benchmark: str
    base_urls: list[str]
    model: str
    run_dir: Path | str | None = None
    api_key: str | None = None
    concurrency: int = 16
    limit: int | None = None
    levels: list[int] | None = None
    subjects: list[str] | None = None
    shuffle_seed: int | None = None
    prompt: str = "zh"
    max_rounds: int = 1
    sampling: Sampling = field(default_factory=Sampling)
    timeout: float = 600.0
    max_retries: int = 5
    code_timeout: float = 10.0
    grade_timeout: float = 5.0
    retry_errors: bool = False
    stream: bool = False
    workspace: Any = None
    preflight: bool = True
    backoff_base: float = 0.5
    # Injection points (tests, benches): the code runner and the problem list.
    run_code: Callable[[str, float], Awaitable[Any]] | None = None
    problems: Sequence[Problem] | None = None

    def default_run_dir(self) -> Path:
        """<workspace>/runs/<benchmark>-<model>-<timestamp>."""
        root = Path(getattr(self.workspace, "root", self.workspace or Path.cwd()))
        stamp = time.strftime("%Y%m%d-%H%M%S")
        model = self.model.replace("/", "_").replace(" ", "_")
        return root / "runs" / f"{benchmark_label(self.benchmark)}-{model}-{stamp}"


# ------------------------------------------------------------------------------------ events


@dataclass
class Progress:
    """A snapshot of a run's counts, accuracy with its Wilson 95% interval, throughput and ETA."""

    total: int
    done: int
    correct: int
    wrong: int
    uncertain: int
    errors: int
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None
    elapsed: float
    rate: float | None  # items per second in this session
    eta: float | None  # seconds left at that rate
    in_flight: int = 0
    retries: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RunStarted:
    run_dir: Path
    total: int
    already_done: int
    pending: int
    resumed: bool
    manifest: dict
    progress: Progress


@dataclass
class ItemFinished:
    record: dict
    progress: Progress


@dataclass
class ItemFailed:
    record: dict
    error: str
    progress: Progress


@dataclass
class RequestRetried:
    endpoint: str
    attempt: int
    error: str
    delay: float


@dataclass
class RunFinished:
    summary: "RunSummary"


@dataclass
class RunSummary:
    """The outcome of run_eval: counts over the whole run (earlier sessions included)."""

    run_dir: Path
    total: int
    done: int
    correct: int
    wrong: int
    uncertain: int
    errors: int
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None
    new_items: int
    elapsed: float
    retries: int
    complete: bool
    interrupted: bool = False
    endpoints: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["run_dir"] = str(self.run_dir)
        return d


class _Tally:
    """Live counts; accuracy = correct / items done, errored items counting as not correct (as in reports)."""

    def __init__(self, total: int, records: Sequence[dict]) -> None:
        self.total = total
        self.counts = {"correct": 0, "wrong": 0, "uncertain": 0, "errors": 0}
        self.by_id: dict[Any, str] = {}
        for rec in records:
            self.add(rec)
        self.started = time.monotonic()
        self.session_done = 0
        self.in_flight = 0
        self.retries = 0

    @staticmethod
    def _key(rec: dict) -> str:
        if rec.get("error"):
            return "errors"
        return rec.get("verdict") if rec.get("verdict") in ("correct", "wrong", "uncertain") else "uncertain"

    def add(self, rec: dict) -> None:
        old = self.by_id.get(rec["id"])
        if old is not None:
            self.counts[old] -= 1
        key = self._key(rec)
        self.by_id[rec["id"]] = key
        self.counts[key] += 1

    def snapshot(self) -> Progress:
        c = self.counts
        elapsed = time.monotonic() - self.started
        done = len(self.by_id)
        lo, hi = wilson_interval(c["correct"], done) if done else (None, None)
        rate = self.session_done / elapsed if elapsed > 0 and self.session_done else None
        remaining = max(0, self.total - done)
        eta = remaining / rate if rate else (0.0 if remaining == 0 else None)
        return Progress(total=self.total, done=done, correct=c["correct"], wrong=c["wrong"],
                        uncertain=c["uncertain"], errors=c["errors"],
                        accuracy=(c["correct"] / done) if done else None, ci_low=lo, ci_high=hi,
                        elapsed=elapsed, rate=rate, eta=eta, in_flight=self.in_flight, retries=self.retries)


# ------------------------------------------------------------------------------------ helpers


def _version() -> str:
    try:
        from mathbench.core import __version__

        return str(__version__)
    except ImportError:
        return "unknown"


def build_manifest(config: EvalConfig, problems: Sequence[Problem], template_dict: dict,
                   benchmark_file: str | None) -> dict:
    """The manifest fields describing this eval (never the API key)."""
    now = time.time()
    return {
        "kind": "eval",
        "name": Path(config.run_dir or "").name,
        "benchmark": benchmark_label(config.benchmark),
        "benchmark_spec": str(config.benchmark),
        "benchmark_file": benchmark_file,
        "model": config.model,
        "base_urls": list(config.base_urls),
        "endpoint": config.base_urls[0] if config.base_urls else None,
        "sampling": config.sampling.to_dict(),
        "prompt_name": template_dict.get("name"),
        "prompt": template_dict,
        "max_rounds": config.max_rounds,
        "code_timeout": config.code_timeout,
        "concurrency": config.concurrency,
        "timeout": config.timeout,
        "stream": config.stream,
        "limit": config.limit,
        "levels": list(config.levels) if config.levels else None,
        "subjects": list(config.subjects) if config.subjects else None,
        "shuffle_seed": config.shuffle_seed,
        "total": len(problems),
        "problem_ids": [p.id for p in problems],
        "mathbench_version": _version(),
        "python": platform.python_version(),
        "created": now,
        "started": now,
        "finished": None,
        "status": "running",
        "sessions": [],
    }


def check_resume(old: dict, new: dict) -> None:
    """Raise EvalError when a resumed run would change what is being measured."""
    diffs = [f"{k}: run has {old.get(k)!r}, now {new.get(k)!r}" for k in RESUME_KEYS
             if k in old and old.get(k) != new.get(k)]
    if diffs:
        raise EvalError("cannot resume: the run directory was made with different settings ("
                        + "; ".join(diffs) + "). Use another --run-dir, or the same settings.")


def config_from_manifest(manifest: dict, **overrides: Any) -> EvalConfig:
    """An EvalConfig that resumes a run as it was started; overrides set endpoints, key, concurrency."""
    sampling = Sampling(**manifest.get("sampling", {}))
    cfg = EvalConfig(
        benchmark=manifest["benchmark_spec"], base_urls=list(manifest.get("base_urls") or []),
        model=manifest["model"], sampling=sampling, prompt=manifest.get("prompt_name") or "zh",
        max_rounds=manifest.get("max_rounds", 1), limit=manifest.get("limit"), levels=manifest.get("levels"),
        subjects=manifest.get("subjects"), shuffle_seed=manifest.get("shuffle_seed"),
        code_timeout=manifest.get("code_timeout", 10.0), concurrency=manifest.get("concurrency", 16),
        timeout=manifest.get("timeout", 600.0), stream=manifest.get("stream", False),
    )
    for key, value in overrides.items():
        if value is not None:
            setattr(cfg, key, value)
    return cfg


def _load_template(config: EvalConfig, manifest: dict | None) -> Any:
    from mathbench.core.evaluation.pot import PromptTemplate

    if manifest and isinstance(manifest.get("prompt"), dict):
        # A resumed run keeps the exact prompt it started with, even if the shipped file changed.
        return PromptTemplate(**manifest["prompt"])
    return load_prompt(config.prompt)


def make_record(problem: Problem, trace: PotTrace, grade: Any, gold_answer: str | None) -> dict:
    """One results.jsonl record for a problem."""
    g = grade.to_dict() if hasattr(grade, "to_dict") else (grade or {})
    return {
        "id": problem.id,
        "question": problem.question,
        "gold": problem.gold,
        "gold_answer": g.get("gold_answer", gold_answer) if g else gold_answer,
        "level": problem.level,
        "subject": problem.subject,
        "messages": trace.messages,
        "executions": trace.executions,
        "final_text": trace.final_text,
        "pred_answer": g.get("pred_answer") if g else None,
        "verdict": g.get("verdict") if g else None,
        "reason": g.get("reason") if g else None,
        "latency": round(trace.latency, 4),
        "usage": trace.usage,
        "error": trace.error,
        "rounds": trace.rounds,
        "endpoint": trace.endpoint,
        "attempts": trace.attempts,
        "time": time.time(),
    }


def _default_run_code() -> Callable[[str, float], Awaitable[Any]]:
    from mathbench.core.sandbox.pool import run_python_async

    return run_python_async


# ------------------------------------------------------------------------------------ main loop


async def run_eval(config: EvalConfig, on_event: Callable[[Any], None] | None = None) -> RunSummary:
    """Run (or resume) an eval into config.run_dir; returns the summary. Cancelling it stops cleanly."""
    from mathbench.core.grading import extract_gold, grade
    from mathbench.core.evaluation.rundir import RunDir

    emit = on_event or (lambda event: None)
    if config.problems is not None:
        problems = list(config.problems)
        benchmark_file = None
    else:
        try:
            resolved = resolve_spec(str(config.benchmark), config.workspace)
            problems = load_benchmark(config.benchmark, limit=config.limit, levels=config.levels,
                                      subjects=config.subjects, shuffle_seed=config.shuffle_seed,
                                      workspace=config.workspace)
        except (ValueError, OSError) as exc:
            raise EvalError(str(exc)) from None
        benchmark_file = str(resolved)
    if not problems:
        raise EvalError(f"benchmark {config.benchmark!r} gave no problems (check --limit/--levels/--subjects)")
    if config.run_dir is None:
        config.run_dir = config.default_run_dir()
    run = RunDir(config.run_dir)
    old_manifest = run.manifest if run.manifest_path.exists() else None
    template = _load_template(config, old_manifest)
    manifest = build_manifest(config, problems, template.to_dict(), benchmark_file)
    if old_manifest:
        check_resume(old_manifest, manifest)
        for key in ("created", "sessions", "name"):
            manifest[key] = old_manifest.get(key, manifest[key])
    run_code = config.run_code or _default_run_code()
    manifest["sandbox"] = await sandbox_protections_async(config.run_code)

    tally_box: list[_Tally] = []

    def on_retry(info: RetryInfo) -> None:
        if tally_box:
            tally_box[0].retries += 1
        emit(RequestRetried(info.endpoint, info.attempt, info.error, info.delay))

    client = ChatClient(config.base_urls, config.model, api_key=config.api_key, sampling=config.sampling,
                        concurrency=config.concurrency, timeout=config.timeout, max_retries=config.max_retries,
                        stream=config.stream, on_retry=on_retry, backoff_base=config.backoff_base)
    if config.preflight:
        try:
            checks = await preflight(client)
        finally:
            await client.aclose()
        if not any(c["ok"] for c in checks.values()):
            errors = "; ".join(f"{u}: {c['error']}" for u, c in checks.items())
            raise EvalError(f"no endpoint answered GET /v1/models ({errors})")
        manifest["served_models"] = {u: c["models"] for u, c in checks.items()}
        missing = {u: c["models"] for u, c in checks.items()
                   if c["ok"] and config.model not in c["models"] and c["models"] != ["gpt-3.5-turbo"]}
        if missing and len(missing) == sum(c["ok"] for c in checks.values()):
            # LLaMA-Factory's api lists gpt-3.5-turbo and accepts any name; vLLM answers 404 to a wrong one.
            served = "; ".join(f"{u}: {', '.join(m) or 'nothing'}" for u, m in missing.items())
            raise EvalError(f"model {config.model!r} is not served ({served})")
    writer = run.open_writer()  # raises RunLocked for a second writer
    session = {"started": time.time(), "finished": None, "items": 0, "base_urls": list(config.base_urls)}
    tally: _Tally | None = None
    interrupted = False
    try:
        existing = run.load_results(strict=False)
        wanted = {p.id for p in problems}
        existing = [r for r in existing if r.get("id") in wanted]
        done_ids = {r["id"] for r in existing}
        if config.retry_errors:
            done_ids -= {r["id"] for r in existing if r.get("error")}
        pending = [p for p in problems if p.id not in done_ids]
        manifest["sessions"] = list(manifest.get("sessions") or []) + [session]
        run.write_manifest(manifest)
        tally = _Tally(len(problems), existing)
        tally_box.append(tally)
        emit(RunStarted(run.path, len(problems), len(problems) - len(pending), len(pending),
                        bool(old_manifest), manifest, tally.snapshot()))

        queue: asyncio.Queue[Problem] = asyncio.Queue()
        for p in pending:
            queue.put_nowait(p)
        write_lock = asyncio.Lock()

        async def chat(messages: list[dict]) -> Any:
            return await client.chat(messages)

        async def one(problem: Problem) -> None:
            tally.in_flight += 1
            try:
                trace = await solve(problem.question, chat, run_code, template=template,
                                    max_rounds=config.max_rounds, code_timeout=config.code_timeout)
            finally:
                tally.in_flight -= 1
            gold_answer = extract_gold(problem.gold)
            g = None
            if trace.error is None:
                try:
                    g = await asyncio.to_thread(grade, problem.gold, trace.final_text,
                                                timeout=config.grade_timeout)
                except Exception as exc:  # noqa: BLE001 - a grader failure is recorded, not fatal
                    trace.error = f"grading failed: {type(exc).__name__}: {exc}"
            record = make_record(problem, trace, g, gold_answer)
            async with write_lock:
                await asyncio.to_thread(writer.append, record)
            session["items"] += 1
            tally.add(record)
            tally.session_done += 1
            snap = tally.snapshot()
            if record["error"]:
                emit(ItemFailed(record, record["error"], snap))
            else:
                emit(ItemFinished(record, snap))

        async def worker() -> None:
            while True:
                try:
                    problem = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await one(problem)

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
        endpoint_counts = _endpoint_counts(client)
        await client.aclose()
        writer.close()
        if tally is not None:
            snap = tally.snapshot()
            complete = snap.done >= snap.total and not interrupted
            try:
                run.update_manifest(sessions=manifest["sessions"], finished=time.time() if complete else None,
                                    status="complete" if complete else "interrupted",
                                    updated=time.time())
            except OSError:
                pass
    snap = tally.snapshot()
    summary = RunSummary(run_dir=run.path, total=snap.total, done=snap.done, correct=snap.correct,
                         wrong=snap.wrong, uncertain=snap.uncertain, errors=snap.errors,
                         accuracy=snap.accuracy, ci_low=snap.ci_low, ci_high=snap.ci_high,
                         new_items=session["items"], elapsed=snap.elapsed, retries=tally.retries,
                         complete=snap.done >= snap.total, endpoints=endpoint_counts)
    emit(RunFinished(summary))
    return summary


def _endpoint_counts(client: ChatClient) -> dict:
    return {e.base_url: {"served": e.served, "failures": e.failures} for e in client.endpoint_stats()}


__all__ = ["EvalConfig", "EvalError", "run_eval", "RunStarted", "ItemFinished", "ItemFailed", "RequestRetried",
           "RunFinished", "RunSummary", "Progress", "wilson_interval", "config_from_manifest", "make_record",
           "ChatError"]
