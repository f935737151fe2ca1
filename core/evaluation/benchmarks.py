"""Benchmark problems (GSM8K, MATH, custom JSONL/JSON/parquet, `hf:` datasets) as Problem records with stable ids."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mathbench.core.resources import CONFIGS_DIR, SAMPLE_WORKSPACE_DIR
from mathbench.core.storage import JsonlError, parse_jsonl

# A source checkout sits beside ../shared/data (the real GSM8K and MATH); an installed wheel does not.
SHARED_BENCHMARKS_DIR = CONFIGS_DIR.parent.parent / "shared" / "data" / "benchmarks"
KNOWN = {"gsm8k": "gsm8k_test", "gsm8k-test": "gsm8k_test", "gsm8k-train": "gsm8k_train", "math": "math_test",
         "math-test": "math_test"}
HUGGING_FACE = {"gsm8k_test": "hf:openai/gsm8k:main:test", "gsm8k_train": "hf:openai/gsm8k:main:train",
                "math_test": "hf:EleutherAI/hendrycks_math:*:test"}
"""Where a named benchmark comes from when no folder has it and `datasets` is installed (`*`: every config)."""
DATA_SUFFIXES = (".jsonl", ".json", ".parquet")
QUESTION_KEYS = ("question", "problem", "query", "prompt", "input")
GOLD_KEYS = ("answer", "solution", "gold", "target", "output", "reference")
SUBJECT_KEYS = ("type", "subject", "category")
ID_KEYS = ("id", "idx", "unique_id", "problem_id")
CHOICE_KEYS = ("choices", "options", "answer_option_list")
CHOICE_GOLD_KEYS = ("choice_answer", "answer_value", "correct")  # a choice item's letter, before its answer text
# What --fields may map, and the aliases it accepts: our name <- the benchmark file's key.
FIELD_NAMES = {"question": "question", "problem": "question", "answer": "answer", "gold": "answer",
               "choices": "choices", "options": "choices", "id": "id", "level": "level", "subject": "subject"}


class BenchmarkError(ValueError):
    """A benchmark file or spec that cannot be read, with the place (FILE:LINE[:COL]) named."""


class BenchmarkFileError(BenchmarkError, JsonlError):
    """A malformed line of a JSONL benchmark, located as FILE:LINE:COL."""


@dataclass
class Problem:
    """One benchmark problem; gold is the full reference (GSM8K answer, MATH solution or a bare answer)."""

    id: str
    question: str
    gold: str
    level: int | None = None
    subject: str | None = None
    meta: dict = field(default_factory=dict)
    choices: dict[str, str] | None = None  # a choice item's options by letter; its gold is then a letter

    def to_dict(self) -> dict:
        return asdict(self)


def parse_fields(spec: str | None) -> dict[str, str] | None:
    """'question=problem,answer=correct,choices=options' -> {'question': 'problem', ...}; ValueError when bad."""
    if not spec:
        return None
    out: dict[str, str] = {}
    for part in spec.split(","):
        name, eq, key = part.partition("=")
        name, key = name.strip().lower(), key.strip()
        if not eq or not key or name not in FIELD_NAMES:
            raise ValueError(f"--fields: {part.strip()!r} is not NAME=KEY with NAME one of "
                             f"{', '.join(sorted(set(FIELD_NAMES.values())))}")
        out[FIELD_NAMES[name]] = key
    return out


def content_id(prefix: str, question: str) -> str:
    """An id from the problem text itself: stable across reorderings of the file."""
    digest = hashlib.sha256(" ".join(question.split()).encode("utf-8")).hexdigest()[:12]
    return f"{prefix}-{digest}"


def parse_level(value: Any) -> int | None:
    """'Level 4' / 4 / '4' -> 4; anything else -> None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    m = re.search(r"\d+", str(value))
    return int(m.group()) if m else None


def benchmark_dirs(workspace: Any = None) -> list[Path]:
    """Where named benchmarks are looked up, in order: the workspace's benchmarks/, ../shared/data beside a
    source checkout, the shipped sample ("sample")."""
    dirs: list[Path] = []
    if workspace is not None:
        dirs.append(Path(getattr(workspace, "benchmarks_dir", workspace)))
    dirs += [SHARED_BENCHMARKS_DIR, SAMPLE_WORKSPACE_DIR / "benchmarks"]
    return dirs


def _datasets_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("datasets") is not None


def resolve_spec(spec: str, workspace: Any = None) -> Path | str:
    """A benchmark name ("gsm8k", "math", "gsm8k-train", "sample") or path -> a file path, or an `hf:` spec.

    A name is looked up in benchmark_dirs(), then (GSM8K and MATH) on Hugging Face when `datasets` is
    installed; otherwise the error says in one line how to get it. A relative path is also tried in the
    workspace.
    """
    if spec.startswith("hf:"):
        return spec
    path = Path(spec).expanduser()
    if path.exists():
        return path
    root = getattr(workspace, "root", None)
    if root is not None and not path.is_absolute() and (Path(root) / path).exists():
        return Path(root) / path
    if "/" in spec or spec.lower().endswith(DATA_SUFFIXES):
        raise BenchmarkError(f"benchmark {spec}: no such file" + (f" (nor in {root})" if root is not None else ""))
    stem = KNOWN.get(spec.lower(), spec)
    for d in benchmark_dirs(workspace):
        for name in (f"{stem}.jsonl", f"{stem}.json", f"{stem}.parquet", f"{stem}_test.jsonl"):
            if (d / name).is_file():
                return d / name
    hub = HUGGING_FACE.get(stem)
    if hub and _datasets_installed():
        return hub
    where = benchmark_dirs(workspace)[0] if workspace is not None else "a workspace's benchmarks/ folder"
    if hub:
        raise BenchmarkError(f"benchmark {spec!r} not found: put {stem}.jsonl in {where}, or pip install "
                             f"'mathbench[hf]' to read it from Hugging Face ({hub.split(':')[1]})")
    raise BenchmarkError(f"benchmark {spec!r} not found: not a file, and no {stem}.jsonl in "
                         + ", ".join(str(d) for d in benchmark_dirs(workspace)))


def _id_prefix(spec: str, path: Path | None) -> str:
    if path is None:
        return re.sub(r"[^A-Za-z0-9]+", "-", spec.removeprefix("hf:")).strip("-").lower()
    return re.sub(r"[^A-Za-z0-9]+", "-", path.stem).strip("-").lower()


def read_records(path: Path) -> list[dict]:
    """Rows of a JSONL, JSON (list, or {"data": [...]}) or parquet file; errors name FILE:LINE[:COL]."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pandas as pd

        try:
            return pd.read_parquet(path).to_dict(orient="records")
        except ImportError as exc:
            raise BenchmarkError(f"{path}: reading parquet needs pyarrow ({exc})") from None
    text = path.read_text(encoding="utf-8")
    if suffix == ".json" or (suffix != ".jsonl" and text.lstrip()[:1] in ("[", "{") and "\n{" not in text):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BenchmarkError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        if isinstance(data, dict):
            data = data.get("data") or data.get("examples") or data.get("problems")
        if not isinstance(data, list):
            raise BenchmarkError(f"{path}:1:1: expected a list of objects (or {{\"data\": [...]}})")
        return data
    parsed = parse_jsonl(path, text.encode("utf-8"), error=BenchmarkFileError)
    if parsed.torn:  # a benchmark is never being appended to: a broken last line is an error, not a crash's tail
        raise BenchmarkFileError(path, parsed.torn_line, "malformed JSON: the last line is cut off")
    return [row for _, row in parsed.records]


def _mapped(row: dict, fields: dict[str, str], name: str, where: str) -> Any:
    key = fields[name]
    if key not in row:
        raise BenchmarkError(f"{where}: no field {key!r} (mapped to {name} by --fields)")
    return row[key]


def _to_problem(row: Any, index: int, prefix: str, where: str, id_mode: str,
                fields: dict[str, str] | None = None) -> Problem:
    if not isinstance(row, dict):
        raise BenchmarkError(f"{where}: expected an object, got {type(row).__name__}")
    fields = fields or {}
    if "question" in fields:
        question = _mapped(row, fields, "question", where)
        question = question if isinstance(question, str) and question.strip() else None
    else:
        question = next((row[k] for k in QUESTION_KEYS if isinstance(row.get(k), str) and row[k].strip()), None)
    if question is None:
        raise BenchmarkError(f"{where}: no question field (one of {', '.join(QUESTION_KEYS)})")
    raw_choices = _mapped(row, fields, "choices", where) if "choices" in fields else \
        next((row[k] for k in CHOICE_KEYS if row.get(k) is not None), None)
    lettered = any(re.fullmatch(r"\s*[A-Ea-e]\s*", str(row.get(k, ""))) for k in CHOICE_GOLD_KEYS)
    gold_keys = CHOICE_GOLD_KEYS + GOLD_KEYS if raw_choices is not None or lettered else GOLD_KEYS
    # A MATH-style row with both a bare "answer" and a "solution" keeps the bare answer as the reference.
    gold = _mapped(row, fields, "answer", where) if "answer" in fields else \
        next((row[k] for k in gold_keys if row.get(k) is not None and str(row[k]).strip()), None)
    if gold is None or not str(gold).strip():
        raise BenchmarkError(f"{where}: no reference answer field (one of {', '.join(gold_keys)})")
    question, gold, choices = _choice_item(question, gold, raw_choices, where)
    subject = str(_mapped(row, fields, "subject", where)) if "subject" in fields else \
        next((str(row[k]) for k in SUBJECT_KEYS if row.get(k)), None)
    known = set(QUESTION_KEYS) | set(GOLD_KEYS) | set(SUBJECT_KEYS) | {"level"} | set(fields.values())
    known |= set(CHOICE_KEYS) | set(CHOICE_GOLD_KEYS) if choices else set()
    meta = {k: v for k, v in row.items() if k not in known and _jsonable(v)}
    meta["index"] = index
    given = _mapped(row, fields, "id", where) if "id" in fields else \
        next((row[k] for k in ID_KEYS if row.get(k) not in (None, "")), None)
    if given is not None:
        pid = str(given)
    elif id_mode == "hash":
        pid = content_id(prefix, question)
    else:
        pid = f"{prefix}-{index:05d}"
    level = _mapped(row, fields, "level", where) if "level" in fields else row.get("level")
    return Problem(id=pid, question=question, gold=str(gold), level=parse_level(level), subject=subject, meta=meta,
                   choices=choices)


def _choice_item(question: str, gold: Any, raw_choices: Any, where: str) -> tuple[str, Any, dict | None]:
    """(question with its options shown, gold letter, options) for a choice item; the row unchanged otherwise.

    A row whose gold is a bare letter and whose question lists its options ('... A. 3 B. 4 ...') is one too."""
    from mathbench.core.grading import normalize_choices
    from mathbench.core.grading.choices import gold_letter

    if hasattr(raw_choices, "tolist"):
        raw_choices = raw_choices.tolist()
    if raw_choices is None:
        if not re.fullmatch(r"\s*[\(（]?[A-Ea-e][\)）]?\s*", str(gold)):
            return question, gold, None
        options = normalize_choices(question)  # the options written into the question itself
        letter = gold_letter(gold, options) if options else None
        return (question, letter, options) if options and letter else (question, gold, None)
    options = normalize_choices(raw_choices)
    if not options:
        raise BenchmarkError(f"{where}: choices must be a list of options or a dict keyed A-E")
    letter = gold_letter(gold, options)
    if letter is None:
        raise BenchmarkError(f"{where}: the answer {str(gold)[:40]!r} names none of the options {', '.join(options)}")
    if not _lists_options(question, options):
        question = question.rstrip() + "\n\n" + "\n".join(f"{k}. {v}" for k, v in options.items())
    return question, letter, options


def _lists_options(question: str, options: dict[str, str]) -> bool:
    """Whether the question text already shows its options."""
    flat = " ".join(question.split())
    texts = [" ".join(v.split()) for v in options.values() if v.strip()]
    return bool(texts) and all(t in flat for t in texts[:2])


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def load_benchmark(
    spec: str | Path,
    *,
    limit: int | None = None,
    levels: Iterable[int | str] | None = None,
    subjects: Iterable[str] | None = None,
    shuffle_seed: int | None = None,
    workspace: Any = None,
    id_mode: str = "index",
    fields: dict[str, str] | None = None,
) -> list[Problem]:
    """Problems from a name, a file or `hf:NAME[:CONFIG][:SPLIT]`; filters, then seeded shuffle, then limit.

    Ids are "<file stem>-<row index>" (e.g. gsm8k-test-00042) unless rows carry an id, or id_mode="hash".
    `fields` maps question/answer/choices/id/level/subject to a file's own keys (e.g. MathQA's 'Problem').
    A row with choices (a list, a dict keyed A-E, or one labelled string) is a choice item with a gold letter.
    """
    spec_s = str(spec)
    resolved = resolve_spec(spec_s, workspace)
    if isinstance(resolved, str):
        # A named benchmark read from Hugging Face keeps the ids a local copy of it would give.
        named = KNOWN.get(spec_s.lower())
        rows, where = _load_hf(resolved), resolved
        prefix = _id_prefix(named, None) if named else _id_prefix(resolved, None)
    else:
        rows, prefix, where = read_records(resolved), _id_prefix(spec_s, resolved), str(resolved)
    problems = []
    for i, row in enumerate(rows):
        problems.append(_to_problem(row, i, prefix, f"{where}:{i + 1}", id_mode, fields))
    seen: dict[str, int] = {}
    for i, p in enumerate(problems):
        if p.id in seen:
            raise BenchmarkError(f"{where}:{i + 1}: duplicate id {p.id!r} (first at row {seen[p.id] + 1})")
        seen[p.id] = i
    if levels:
        wanted = {parse_level(v) for v in levels}
        problems = [p for p in problems if p.level in wanted]
    if subjects:
        wanted_s = {s.strip().lower() for s in subjects}
        problems = [p for p in problems if (p.subject or "").lower() in wanted_s]
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(problems)
    if limit is not None:
        problems = problems[: max(0, int(limit))]
    return problems


def _load_hf(spec: str) -> list[dict]:
    """Rows of a Hugging Face dataset: hf:NAME[:CONFIG][:SPLIT] (split defaults to test; CONFIG `*` reads every
    config, as MATH's seven subjects)."""
    parts = spec.removeprefix("hf:").split(":")
    name = parts[0]
    config = parts[1] if len(parts) > 1 and parts[1] else None
    split = parts[2] if len(parts) > 2 and parts[2] else "test"
    try:
        import datasets
    except ImportError:
        raise BenchmarkError(f"{spec}: the `datasets` package is needed for hf: benchmarks "
                             "(pip install 'mathbench[hf]')") from None
    configs = datasets.get_dataset_config_names(name) if config == "*" else [config]
    return [dict(row) for each in configs for row in datasets.load_dataset(name, each, split=split)]


def benchmark_label(spec: str | Path) -> str:
    """A short name for a spec, used in run directory names ("gsm8k", "math_test", ...)."""
    s = str(spec)
    if s.startswith("hf:"):
        return _id_prefix(s, None)
    if s.lower() in KNOWN:
        return s.lower()
    return Path(s).stem


def answer_key(problems: Sequence[Problem]) -> dict[str, str]:
    """{question: gold} for the demo server."""
    return {p.question: p.gold for p in problems}


def problem_hash(problem: Problem) -> str:
    """A short hash of what a problem asks and expects (id, question, reference, level, subject)."""
    what = [problem.id, problem.question, problem.gold, problem.level, problem.subject]
    if problem.choices:
        what.append(problem.choices)  # only choice items: other problems keep the hashes their runs recorded
    canon = json.dumps(what, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()[:16]


def problems_hash(hashes: Sequence[str]) -> str:
    """One sha256 over the problems' hashes, in order: a run's benchmark content hash."""
    return hashlib.sha256("\n".join(hashes).encode("ascii")).hexdigest()
