"""What an eval is asked to do: its configuration, the manifest it writes, and the checks that a resume measures the same."""

from __future__ import annotations

import platform
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mathbench.core.evaluation.benchmarks import Problem, benchmark_label, problem_hash, problems_hash
from mathbench.core.evaluation.client import Sampling
from mathbench.core.evaluation.pot import PromptTemplate, load_prompt
from mathbench.core.evaluation.transport import DEFAULT_MAX_REPLY_BYTES
from mathbench.core.records import RunManifest, RunStatus

# Fields of the manifest that must match when a run is resumed (else its results would mix two setups).
RESUME_KEYS = ("benchmark_spec", "model", "sampling", "samples", "prompt_name", "max_rounds", "limit", "levels",
               "subjects", "shuffle_seed")
SAMPLED_TEMPERATURE = 0.7  # the default when several samples are drawn per problem


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
    fields: dict[str, str] | None = None  # a benchmark file's own keys for question/answer/choices/...
    prompt: str = "zh"
    max_rounds: int = 1
    sampling: Sampling | None = None  # None: greedy, or temperature 0.7 when samples > 1
    samples: int = 1  # completions per problem (pass@k, maj@k)
    timeout: float = 600.0  # one whole deadline per request
    max_retries: int = 5
    code_timeout: float = 10.0
    grade_timeout: float = 5.0
    retry_errors: bool = False  # kept for old callers: a resume always re-runs errored items
    stream: bool = False
    workspace: Any = None
    preflight: bool = True
    backoff_base: float = 0.5
    down_wait: float = 60.0  # how long every endpoint may stay down before the run stops incomplete
    retry_after_max: float = 60.0
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES
    manifest_extra: dict[str, Any] = field(default_factory=dict)  # more manifest keys (the model's training data)
    # Injection points (tests, benches): the code runner and the problem list.
    run_code: Callable[[str, float], Awaitable[Any]] | None = None
    problems: Sequence[Problem] | None = None

    def default_run_dir(self) -> Path:
        """<workspace>/runs/<benchmark>-<model>-<timestamp>."""
        root = Path(getattr(self.workspace, "root", self.workspace or Path.cwd()))
        stamp = time.strftime("%Y%m%d-%H%M%S")
        model = self.model.replace("/", "_").replace(" ", "_")
        return root / "runs" / f"{benchmark_label(self.benchmark)}-{model}-{stamp}"

    def effective_sampling(self) -> Sampling:
        """The sampling sent: as set, else greedy for one sample and temperature 0.7 for several."""
        if self.sampling is not None:
            return self.sampling
        return Sampling(temperature=SAMPLED_TEMPERATURE if self.samples > 1 else 0.0)

    def sample_seed(self, sample: int | None) -> int | None:
        """The seed sent for one sample: the sampling seed plus the sample's index (None when unseeded)."""
        seed = self.effective_sampling().seed
        return None if seed is None else seed + (sample or 0)


def _version() -> str:
    try:
        from mathbench.core import __version__

        return str(__version__)
    except ImportError:
        return "unknown"


def build_manifest(config: EvalConfig, problems: Sequence[Problem], template_dict: dict,
                   benchmark_file: str | None) -> RunManifest:
    """The manifest describing this eval (never the API key)."""
    now = time.time()
    hashes = [problem_hash(p) for p in problems]
    return RunManifest(
        kind="eval",
        name=Path(config.run_dir or "").name,
        benchmark=benchmark_label(config.benchmark),
        benchmark_spec=str(config.benchmark),
        benchmark_file=benchmark_file,
        benchmark_hash=problems_hash(hashes),
        problem_hashes=hashes,
        model=config.model,
        base_urls=list(config.base_urls),
        endpoint=config.base_urls[0] if config.base_urls else None,
        sampling=config.effective_sampling().to_dict(),
        samples=config.samples,
        prompt_name=template_dict.get("name"),
        prompt=template_dict,
        max_rounds=config.max_rounds,
        code_timeout=config.code_timeout,
        concurrency=config.concurrency,
        timeout=config.timeout,
        stream=config.stream,
        limit=config.limit,
        levels=list(config.levels) if config.levels else None,
        subjects=list(config.subjects) if config.subjects else None,
        shuffle_seed=config.shuffle_seed,
        total=len(problems),
        problem_ids=[p.id for p in problems],
        mathbench_version=_version(),
        python=platform.python_version(),
        created=now,
        started=now,
        status=RunStatus.RUNNING.value,
        extra={**({"fields": dict(config.fields)} if config.fields else {}), **config.manifest_extra},
    )


def first_change(old_ids: Sequence[str], old_hashes: Sequence[str], new_ids: Sequence[str],
                 new_hashes: Sequence[str]) -> str:
    """The first problem that differs between two problem lists, in words."""
    for i in range(max(len(old_ids), len(new_ids))):
        if i >= len(old_ids):
            return f"problem {new_ids[i]} is new"
        if i >= len(new_ids):
            return f"problem {old_ids[i]} is no longer in it"
        if old_ids[i] != new_ids[i]:
            return f"problem {i + 1} was {old_ids[i]}, now {new_ids[i]}"
        if i < len(old_hashes) and i < len(new_hashes) and old_hashes[i] != new_hashes[i]:
            return f"problem {old_ids[i]} has a different question or answer"
    return "the problems are the same but their hash differs"


def check_resume(old: dict, new: RunManifest) -> None:
    """Raise EvalError when a resumed run would change what is being measured."""
    fresh = new.to_json()
    old = dict(old)
    old.setdefault("samples", 1)  # runs written before samples existed drew one
    diffs = [f"{k}: run has {old.get(k)!r}, now {fresh.get(k)!r}" for k in RESUME_KEYS
             if k in old and old.get(k) != fresh.get(k)]
    if diffs:
        raise EvalError("cannot resume: the run directory was made with different settings ("
                        + "; ".join(diffs) + "). Use another --run-dir, or the same settings.")
    if old.get("benchmark_hash") and old["benchmark_hash"] != new.benchmark_hash:
        change = first_change(old.get("problem_ids") or [], old.get("problem_hashes") or [],
                              new.problem_ids, new.problem_hashes or [])
        raise EvalError(f"cannot resume: the benchmark changed since this run started ({change}); its results "
                        "would mix two benchmarks. Use another --run-dir.")


def config_from_manifest(manifest: dict, **overrides: Any) -> EvalConfig:
    """An EvalConfig that resumes a run as it was started; overrides set endpoints, key, concurrency."""
    known = Sampling.__dataclass_fields__
    sampling = Sampling(**{k: v for k, v in (manifest.get("sampling") or {}).items() if k in known})
    cfg = EvalConfig(
        benchmark=manifest["benchmark_spec"], base_urls=list(manifest.get("base_urls") or []),
        model=manifest["model"], sampling=sampling, samples=int(manifest.get("samples") or 1),
        prompt=manifest.get("prompt_name") or "zh",
        max_rounds=manifest.get("max_rounds", 1), limit=manifest.get("limit"), levels=manifest.get("levels"),
        subjects=manifest.get("subjects"), shuffle_seed=manifest.get("shuffle_seed"), fields=manifest.get("fields"),
        code_timeout=manifest.get("code_timeout", 10.0), concurrency=manifest.get("concurrency", 16),
        timeout=manifest.get("timeout", 600.0), stream=manifest.get("stream", False),
    )
    for key, value in overrides.items():
        if value is not None:
            setattr(cfg, key, value)
    return cfg


def load_template(config: EvalConfig, manifest: dict | None) -> PromptTemplate:
    """The prompt template: a resumed run keeps the exact one it started with, even if the shipped file changed."""
    if manifest and isinstance(manifest.get("prompt"), dict):
        return PromptTemplate(**manifest["prompt"])
    return load_prompt(config.prompt)


__all__ = ["EvalConfig", "EvalError", "RESUME_KEYS", "build_manifest", "check_resume", "config_from_manifest",
           "load_template", "first_change"]
