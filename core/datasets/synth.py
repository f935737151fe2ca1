"""Teacher-model synthesis of PoT training items, kept only when the executed answer checks out.

Scheme 3: solve known (question, answer) pairs with few-shot PoT; keep an item when its code ran and
its final answer is graded correct against the known answer and agrees with the printed output.
Scheme 1: the teacher invents a problem with an answer, then solves it afresh with PoT; kept when the
code ran and the two answers agree. That is self-consistency, not ground truth: both come from the teacher.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mathbench.core.datasets.from_run import PROVENANCE
from mathbench.core.datasets.items import item_turns, problem_text
from mathbench.core.datasets.similarity import normalize_problem
from mathbench.core.evaluation.benchmarks import Problem, load_benchmark
from mathbench.core.evaluation.client import ChatClient, Sampling
from mathbench.core.evaluation.pot import PotTrace, PromptTemplate, load_prompt, solve
from mathbench.core.resources import PROMPTS_DIR
from mathbench.core.storage import (
    JsonlError,
    append_jsonl,
    atomic_write_json,
    parse_jsonl,
    read_bytes,
    read_json,
    repair_torn_tail,
)

FEWSHOT_DEFAULT = PROMPTS_DIR / "fewshot_zh.json"

GENERATE_PROMPTS = {
    "zh": "请编写一道新的数学应用题。主题：{topic}；难度：{difficulty}。题目要有唯一的数值答案，不要给出解题过程。"
          "按如下格式回答：\n题目：<题目>\n答案：<答案>\n（第{index}题）",
    "en": "Write one new math word problem. Topic: {topic}; difficulty: {difficulty}. It must have a single "
          "numeric answer; do not show a solution. Reply exactly as:\nProblem: <problem>\nAnswer: <answer>\n(#{index})",
}
_GEN_RE = re.compile(r"(?:题目|Problem)\s*[:：]\s*(?P<q>.+?)\s*(?:\n|^)\s*(?:答案|Answer)\s*[:：]\s*(?P<a>.+)",
                     re.S | re.I)


class SynthError(Exception):
    """Synthesis that cannot start (bad input file, output locked by another writer)."""


# --------------------------------------------------------------------------------- datasets


def _read_items(path: Path) -> list[dict]:
    """Items of a ShareGPT / OpenAI-messages dataset file (JSON array or JSONL, a torn last line dropped)."""
    try:
        data = read_bytes(path)
        if data.lstrip()[:1] == b"[":
            rows = read_json(path)
        else:
            rows = [rec for _, rec in parse_jsonl(path, data).records]
    except JsonlError as exc:
        raise SynthError(str(exc)) from None
    return [d for d in rows if isinstance(d, dict)]


def item_question(item: dict) -> str | None:
    """The first human turn of a dataset item (its problem)."""
    return problem_text(item, strip_prefix=False) or None


def dataset_keys(paths: Sequence[Path | str]) -> set[str]:
    """normalize_problem of every problem in the given dataset files (missing files are skipped)."""
    keys: set[str] = set()
    for p in paths:
        path = Path(p)
        if not path.is_file():
            continue
        for item in _read_items(path):
            q = item_question(item)
            if q:
                keys.add(normalize_problem(q))
    return keys


def load_fewshot(path: Path | str = FEWSHOT_DEFAULT, *, template: PromptTemplate | None = None) -> list[list[dict]]:
    """Few-shot examples as chat turns: items shaped human, gpt (with code), human (output), gpt (\\boxed)."""
    from mathbench.core.evaluation.pot import extract_code

    out = []
    for item in _read_items(Path(path)):
        turns = [(t.role, t.content) for t in item_turns(item) if t.role != "system"]
        roles = [r for r, _ in turns]
        if len(turns) != 4 or roles[:2] != ["human", "gpt"] or roles[2] not in ("human", "observation") \
                or roles[3] != "gpt":
            continue
        if extract_code(turns[1][1]) is None or "\\boxed" not in turns[3][1]:
            continue
        obs_role = template.observation_role if template else "user"
        out.append([{"role": "user", "content": turns[0][1]}, {"role": "assistant", "content": turns[1][1]},
                    {"role": obs_role, "content": turns[2][1]}, {"role": "assistant", "content": turns[3][1]}])
    return out


# --------------------------------------------------------------------------------- config + events


@dataclass
class SynthConfig:
    """A synthesis job; pairs -> scheme 3, topics -> scheme 1. api_key is used, never stored."""

    out: Path | str
    base_urls: list[str]
    model: str
    pairs: str | None = None
    topics: list[str] | None = None
    count: int = 10
    difficulty: str = "medium"
    fewshot: Path | str | None = None
    shots: int = 2
    limit: int | None = None
    dedupe_against: list[Path | str] = field(default_factory=list)
    prompt: str = "zh"
    observation_from: str = "human"
    max_rounds: int = 1
    sampling: Sampling = field(default_factory=lambda: Sampling(temperature=0.7, top_p=0.95, max_tokens=2048, seed=0))
    concurrency: int = 16
    timeout: float = 600.0
    max_retries: int = 5
    code_timeout: float = 10.0
    backoff_base: float = 0.5
    api_key: str | None = None
    seed: int = 0
    run_code: Callable[[str, float], Awaitable[Any]] | None = None

    @property
    def scheme(self) -> int:
        return 3 if self.pairs else 1


@dataclass
class SynthProgress:
    total: int
    accepted: int
    rejected: int
    errors: int
    skipped_duplicates: int
    elapsed: float
    rate: float | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SynthStarted:
    out: Path
    scheme: int
    total: int
    already_done: int
    pending: int
    skipped_duplicates: int


@dataclass
class ItemAccepted:
    item: dict
    progress: SynthProgress


@dataclass
class ItemRejected:
    id: str
    reason: str
    progress: SynthProgress


@dataclass
class SynthFinished:
    summary: SynthProgress
    out: Path
    complete: bool


def sidecar_paths(out: Path | str) -> dict[str, Path]:
    """Files next to the output: the append log (JSONL), rejections, status, lock."""
    out = Path(out)
    log = out if out.suffix == ".jsonl" else out.with_suffix(".jsonl")
    stem = log.with_suffix("")
    return {"log": log, "rejected": Path(f"{stem}.rejected.jsonl"), "status": Path(f"{stem}.synth.json"),
            "lock": Path(f"{stem}.lock")}


# --------------------------------------------------------------------------------- building items


def to_sharegpt(trace: PotTrace, *, observation_from: str = "human", skip: int = 0) -> list[dict]:
    """The conversation turns of a trace after the first *skip* messages (system and few-shot left out)."""
    roles = {"user": "human", "assistant": "gpt"}
    turns = []
    for i, m in enumerate(trace.messages[skip:]):
        role = roles.get(m["role"], m["role"])
        if role != "gpt" and i > 0:
            role = observation_from
        turns.append({"from": role, "value": m["content"]})
    return turns


def check_trace(trace: PotTrace, gold: str, *, timeout: float = 5.0) -> tuple[bool, str, Any]:
    """(keep, reason, grade): code ran, final answer right, and the answer agrees with the printed output."""
    from mathbench.core.grading import extract_answer, grade, grade_answer

    if trace.error:
        return False, f"error: {trace.error}", None
    if not trace.executions:
        return False, "no code", None
    last = trace.executions[-1]
    if last["status"] != "ok":
        return False, f"code {last['status']}", None
    g = grade(gold, trace.final_text, timeout=timeout)
    if g.verdict != "correct":
        return False, f"answer {g.verdict} ({g.pred_answer!r} vs {g.gold_answer!r})", g
    shown = extract_answer(last.get("stdout") or "").answer
    if shown is None or grade_answer(shown, g.pred_answer or "", timeout=timeout).verdict != "correct":
        return False, f"final answer {g.pred_answer!r} not what the code printed ({shown!r})", g
    return True, "correct", g


def parse_generated(text: str) -> tuple[str, str] | None:
    """(question, answer) from a scheme-1 generation reply ('题目：…\\n答案：…' or 'Problem: …\\nAnswer: …')."""
    m = _GEN_RE.search(text or "")
    if not m:
        return None
    question, answer = m.group("q").strip(), m.group("a").strip().splitlines()[0].strip()
    return (question, answer) if question and answer else None


def _gen_id(topic: str, difficulty: str, index: int) -> str:
    h = hashlib.sha256(f"{topic}\x00{difficulty}".encode("utf-8")).hexdigest()[:8]
    return f"gen-{h}-{index:05d}"


# --------------------------------------------------------------------------------- main loop


async def run_synth(config: SynthConfig, on_event: Callable[[Any], None] | None = None) -> SynthProgress:
    """Run (or resume) a synthesis job; accepted items are appended (fsynced) to the output log."""
    emit = on_event or (lambda e: None)
    paths = sidecar_paths(config.out)
    paths["log"].parent.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(paths["lock"], os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock_fd)
        raise SynthError(f"{paths['log']}: another synthesis is writing this file") from None
    try:
        return await _run_locked(config, paths, emit)
    finally:
        os.close(lock_fd)


async def _run_locked(config: SynthConfig, paths: dict[str, Path], emit: Callable[[Any], None]) -> SynthProgress:
    template = load_prompt(config.prompt)
    for p in (paths["log"], paths["rejected"]):
        repair_torn_tail(p)
    accepted_items = _read_items(paths["log"]) if paths["log"].is_file() else []
    done = {str(i.get("id")) for i in accepted_items}
    rejected_done = {str(r.get("id")) for r in (_read_items(paths["rejected"]) if paths["rejected"].is_file() else [])
                     if not str(r.get("reason", "")).startswith("error")}
    done |= rejected_done
    seen = dataset_keys(list(config.dedupe_against)) | {normalize_problem(item_question(i) or "") for i in accepted_items}

    # Work items: (id, question or None, gold or None, topic index)
    work: list[tuple[str, str | None, str | None, str | None, int]] = []
    duplicates = 0
    provenance: dict[str, dict] = {}
    if config.scheme == 3:
        try:
            problems: list[Problem] = load_benchmark(str(config.pairs), limit=config.limit)
        except (ValueError, OSError) as exc:
            raise SynthError(str(exc)) from None
        batch_keys: set[str] = set()
        for p in problems:
            key = normalize_problem(p.question)
            if p.id in done:
                continue
            if key in seen or key in batch_keys:
                duplicates += 1
                continue
            batch_keys.add(key)
            work.append((p.id, p.question, p.gold, None, 0))
            # Pairs written from a run (core.datasets.from_run) say where each problem came from.
            provenance[p.id] = {k: p.meta[k] for k in PROVENANCE if p.meta.get(k) is not None}
        total = len(problems)
    else:
        topics = config.topics or ["arithmetic"]
        for t in topics:
            for i in range(config.count):
                gid = _gen_id(t, config.difficulty, i)
                if gid not in done:
                    work.append((gid, None, None, t, i))
        total = len(topics) * config.count

    fewshot = load_fewshot(config.fewshot or FEWSHOT_DEFAULT, template=template) if config.shots > 0 else []
    run_code = config.run_code
    if run_code is None:
        from mathbench.core.sandbox.pool import run_python_async as run_code  # noqa: N813 - same callable shape
    client = ChatClient(config.base_urls, config.model, api_key=config.api_key, sampling=config.sampling,
                        concurrency=config.concurrency, timeout=config.timeout, max_retries=config.max_retries,
                        backoff_base=config.backoff_base)
    counts = {"accepted": len(accepted_items), "rejected": len(rejected_done), "errors": 0}
    started = time.monotonic()
    new = {"n": 0}
    status = {"scheme": config.scheme, "model": config.model, "base_urls": config.base_urls,
              "pairs": str(config.pairs) if config.pairs else None, "topics": config.topics,
              "difficulty": config.difficulty, "sampling": config.sampling.to_dict(), "prompt": template.name,
              "shots": config.shots, "started": time.time(), "finished": None, "state": "running"}

    def progress() -> SynthProgress:
        elapsed = time.monotonic() - started
        return SynthProgress(total=total, accepted=counts["accepted"], rejected=counts["rejected"],
                             errors=counts["errors"], skipped_duplicates=duplicates, elapsed=elapsed,
                             rate=new["n"] / elapsed if new["n"] and elapsed > 0 else None)

    atomic_write_json(paths["status"], {**status, **progress().to_dict()})
    emit(SynthStarted(Path(paths["log"]), config.scheme, total, total - len(work) - duplicates, len(work), duplicates))
    lock = asyncio.Lock()
    queue: asyncio.Queue = asyncio.Queue()
    for w in work:
        queue.put_nowait(w)

    async def chat(messages: list[dict]) -> Any:
        return await client.chat(messages)

    async def reject(item_id: str, reason: str, extra: dict | None = None) -> None:
        async with lock:
            await asyncio.to_thread(append_jsonl, paths["rejected"],
                                    {"id": item_id, "reason": reason, "time": time.time(), **(extra or {})})
        counts["errors" if reason.startswith("error") else "rejected"] += 1
        new["n"] += 1
        emit(ItemRejected(item_id, reason, progress()))

    async def one(item_id: str, question: str | None, gold: str | None, topic: str | None, index: int) -> None:
        rng = random.Random(f"{config.seed}:{item_id}")
        if question is None:
            prompt = GENERATE_PROMPTS.get(template.name, GENERATE_PROMPTS["zh"]).format(
                topic=topic, difficulty=config.difficulty, index=index + 1)
            try:
                reply = await client.chat([{"role": "user", "content": prompt}])
            except Exception as exc:  # noqa: BLE001 - recorded, retried on resume
                await reject(item_id, f"error: {exc}")
                return
            parsed = parse_generated(reply.text)
            if parsed is None:
                await reject(item_id, "generation not in the '题目/答案' format", {"text": reply.text[:500]})
                return
            question, gold = parsed
            key = normalize_problem(question)
            async with lock:
                duplicate = key in seen
                seen.add(key)
            if duplicate:
                await reject(item_id, "duplicate of an existing problem", {"question": question})
                return
        own = normalize_problem(question)
        pool = [shot for shot in fewshot if normalize_problem(shot[0]["content"]) != own]
        shots = rng.sample(pool, min(config.shots, len(pool))) if pool else []
        examples = [m for shot in shots for m in shot]
        trace = await solve(question, chat, run_code, template=template, max_rounds=config.max_rounds,
                            code_timeout=config.code_timeout, examples=examples)
        if trace.error:
            await reject(item_id, f"error: {trace.error}")
            return
        keep, reason, g = await asyncio.to_thread(check_trace, trace, gold)
        if not keep:
            await reject(item_id, reason, {"question": question})
            return
        skip = (1 if template.system else 0) + len(examples)
        item = {"conversations": to_sharegpt(trace, observation_from=config.observation_from, skip=skip),
                "id": item_id, "source": f"synth-scheme{config.scheme}", "teacher": config.model,
                "answer": g.gold_answer if g is not None else gold}
        item.update(provenance.get(item_id, {}))
        if topic is not None:
            item["topic"], item["difficulty"] = topic, config.difficulty
        async with lock:
            key = normalize_problem(question)
            if config.scheme == 3 and key in seen:
                duplicate = True
            else:
                duplicate = False
                seen.add(key)
                await asyncio.to_thread(append_jsonl, paths["log"], item)
        if duplicate:
            await reject(item_id, "duplicate of an existing problem")
            return
        counts["accepted"] += 1
        new["n"] += 1
        emit(ItemAccepted(item, progress()))

    async def worker() -> None:
        while True:
            try:
                w = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await one(*w)

    n_workers = min(len(work), config.concurrency + max(2, config.concurrency // 4))
    tasks = [asyncio.create_task(worker()) for _ in range(n_workers)]
    complete = False
    try:
        await asyncio.gather(*tasks)
        complete = True
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()
        final = progress()
        status.update(final.to_dict(), finished=time.time(), state="complete" if complete else "interrupted")
        atomic_write_json(paths["status"], status)
        if complete and Path(config.out).suffix == ".json":
            atomic_write_json(Path(config.out), _read_items(paths["log"]))
    emit(SynthFinished(final, Path(paths["log"]), complete))
    return final


__all__ = ["SynthConfig", "SynthError", "run_synth", "SynthStarted", "ItemAccepted", "ItemRejected",
           "SynthFinished", "SynthProgress", "dataset_keys", "load_fewshot", "to_sharegpt",
           "check_trace", "parse_generated", "sidecar_paths", "PotTrace"]
