"""Which SFT items repeat a benchmark problem: exactly, by a shared 13-gram, or nearly (MinHash), Chinese too.

Three tests, each on the item's problem (its first human turn) against every benchmark problem:
  exact  equal after normalize_problem, or the benchmark problem standing whole inside the item;
  ngram  a shared run of 13 tokens (the rule of GPT-3's and lm-eval's decontamination; a Chinese
         character is a token), runs common to many benchmark problems left out as boilerplate;
  near   MinHash over character 5-grams finds candidates, kept when the true Jaccard similarity or
         the share of the benchmark problem found in the item is high (a few words or a number changed).

    index = BenchmarkIndex(load_against(["gsm8k", "math"]))
    report = index.scan([problem_text(it) for it in items])
    report.summary()   # {"items", "contaminated", "by_benchmark", "hits": [{"index", "benchmark", "id", ...}]}
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mathbench.core.datasets.similarity import MinHasher, normalize_problem, shingle

KINDS = ("exact", "ngram", "near")
NGRAM = 13
SHINGLE = 5
NGRAM_SHARE = 0.1  # of the problem's 13-grams found in the item
NGRAM_SHARE_CJK = 0.2  # 13 characters are a short phrase: Chinese needs more of them
NEAR_JACCARD = 0.5
NEAR_JACCARD_SHORT = 0.7
NEAR_CONTAINED = 0.85
_HEAD = 15  # a short problem found inside an item must be at least this long (normalised characters)
_SHORT_SHINGLES = 60  # problems shorter than this (in 5-grams) are judged on their tokens
_BOILERPLATE_DF = 4  # a 13-gram in this many benchmark problems is phrasing, not a problem
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")
_CJK_CHAR = re.compile(rf"[{_CJK}]")


def tokens(text: str) -> list[str]:
    """Words (letters and digits) and single CJK characters of *text*, NFKC-folded and lower-cased."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text or "").casefold())


def ngrams(toks: Sequence[str], n: int = NGRAM) -> set[int]:
    """Hashes of every run of *n* tokens (none when there are fewer)."""
    return {hash(tuple(toks[i:i + n])) for i in range(len(toks) - n + 1)}


@dataclass
class Hit:
    """Item *index* repeats problem *id* of *benchmark*; *score* in [0, 1] says how much of it."""

    index: int
    benchmark: str
    id: str
    kind: str
    score: float
    question: str = ""

    def to_dict(self) -> dict:
        return {"index": self.index, "benchmark": self.benchmark, "id": self.id, "kind": self.kind,
                "score": round(self.score, 4)}


@dataclass
class DecontaminationReport:
    """The best hit of each contaminated item against each benchmark."""

    items: int
    benchmarks: dict[str, int]  # name -> problems
    hits: list[Hit] = field(default_factory=list)

    @property
    def contaminated(self) -> list[int]:
        """Indices of the flagged items, ascending."""
        return sorted({h.index for h in self.hits})

    def by_item(self) -> dict[int, Hit]:
        """The strongest hit of each flagged item."""
        out: dict[int, Hit] = {}
        for h in self.hits:
            best = out.get(h.index)
            if best is None or (KINDS.index(h.kind), -h.score) < (KINDS.index(best.kind), -best.score):
                out[h.index] = h
        return out

    def by_benchmark(self) -> dict[str, int]:
        """How many items each benchmark flags."""
        return {name: len({h.index for h in self.hits if h.benchmark == name}) for name in self.benchmarks}

    def summary(self) -> dict:
        """The `mathbench data decontaminate --json` object."""
        return {"items": self.items, "contaminated": len(self.contaminated), "by_benchmark": self.by_benchmark(),
                "benchmarks": dict(self.benchmarks), "hits": [h.to_dict() for h in self.hits]}

    def to_dict(self) -> dict:
        return {**self.summary(), "hits": [asdict(h) for h in self.hits]}


def load_against(specs: Iterable[str], workspace: Any = None, *, problems: list[str] | None = None) -> dict[str, list]:
    """Benchmark problems by name from specs (gsm8k, math, a file, hf:...).

    Two specs of one file (a name and its path) load it once. A spec that cannot be loaded raises
    BenchmarkError, or, given a *problems* list, is described there and skipped.
    """
    from mathbench.core.evaluation.benchmarks import BenchmarkError, benchmark_label, load_benchmark, resolve_spec

    out: dict[str, list] = {}
    seen: set[str] = set()
    for spec in specs:
        spec = str(spec).strip()
        if not spec:
            continue
        try:
            resolved = resolve_spec(spec, workspace)
            key = str(Path(resolved).resolve()) if isinstance(resolved, Path) else resolved
            if key not in seen:
                seen.add(key)
                out[benchmark_label(spec)] = load_benchmark(spec, workspace=workspace)
        except (BenchmarkError, OSError) as exc:
            if problems is None:
                raise BenchmarkError(str(exc)) from None
            problems.append(str(exc))
    return out


def workspace_benchmarks(workspace) -> list[str]:
    """Paths of the benchmarks a workspace holds or has evaluated on (those that can still be found)."""
    from mathbench.core.datasets.from_run import run_benchmark
    from mathbench.core.evaluation.layout import RunError
    from mathbench.core.evaluation.rundir import RunDir

    specs: list[str] = []
    folder = Path(workspace.benchmarks_dir)
    if folder.is_dir():
        specs += [str(p.resolve()) for p in sorted(folder.iterdir()) if p.suffix in (".jsonl", ".json", ".parquet")]
    for run in workspace.run_dirs():
        try:
            spec = run_benchmark(RunDir(run).manifest, workspace)
        except (RunError, OSError, ValueError):
            continue
        if spec is not None and Path(spec).is_file() and spec not in specs:
            specs.append(spec)
    return specs


@dataclass
class _Problem:
    benchmark: str
    id: str
    question: str
    norm: str
    ngrams: int  # how many distinct 13-grams it has (0 when shorter)
    cjk: bool  # written mostly in Chinese characters


class BenchmarkIndex:
    """Every problem of some benchmarks, indexed for the three tests; build once, scan many item lists."""

    def __init__(self, benchmarks: dict[str, list], *, num_perm: int = 126, bands: int = 42, seed: int = 1) -> None:
        # 42 bands of 3 rows: a pair of Jaccard 0.4 is a candidate 93% of the time, one of 0.1 4%.
        self.sizes = {name: len(problems) for name, problems in benchmarks.items()}
        self.problems: list[_Problem] = []
        self._exact: dict[str, list[int]] = {}
        self._grams: dict[int, list[int]] = {}
        for name, problems in benchmarks.items():
            for p in problems:
                k = len(self.problems)
                norm = normalize_problem(p.question)
                toks = tokens(p.question)
                grams = ngrams(toks)
                self.problems.append(_Problem(name, str(p.id), p.question, norm, len(grams), _mostly_cjk(toks)))
                if norm:
                    self._exact.setdefault(norm, []).append(k)
                for g in grams:
                    self._grams.setdefault(g, []).append(k)
        self._grams = {g: ks for g, ks in self._grams.items() if len(set(ks)) < _BOILERPLATE_DF}
        # Short problems (no 13-gram to share) found whole inside a longer item, by their first characters.
        self._heads: dict[str, list[int]] = {}
        for k, p in enumerate(self.problems):
            if _HEAD <= len(p.norm) and p.ngrams == 0:
                self._heads.setdefault(p.norm[:_HEAD], []).append(k)
        self._hasher = MinHasher(num_perm, bands, seed)
        self._shingles = shingle([p.norm for p in self.problems], SHINGLE)
        self._bands: dict[tuple[int, int], list[int]] = {}
        for k, row in enumerate(self._hasher.band_hashes(self._shingles).tolist()):
            for band, value in enumerate(row):
                if value:
                    self._bands.setdefault((band, value), []).append(k)

    def _near(self, text: str, mine: set[int], k: int) -> float | None:
        """How near an item (its text and 5-gram set) is to problem *k*; None when not near enough to flag."""
        theirs = self._shingles.of(k)
        shared = len(mine & theirs)
        j = shared / max(1, len(mine | theirs))
        short = min(len(mine), len(theirs)) < _SHORT_SHINGLES
        if j >= (NEAR_JACCARD_SHORT if short else NEAR_JACCARD):
            return j
        if not short and shared >= NEAR_CONTAINED * len(theirs):
            return shared / len(theirs)
        if short and lightly_edited(text, self.problems[k].question):
            return max(j, NEAR_JACCARD)
        return None

    def scan(self, texts: Sequence[str], on_progress: Callable[[int, int], None] | None = None) -> DecontaminationReport:
        """Test every text (an item's problem) against every indexed problem.

        *on_progress(done, total)* hears about each of the three passes in turn (total = 3 * len(texts)).
        """
        found: dict[tuple[int, str], Hit] = {}
        total = 3 * len(texts)

        def hit(index: int, k: int, kind: str, score: float) -> None:
            p = self.problems[k]
            old = found.get((index, p.benchmark))
            if old is None or (KINDS.index(kind), -score) < (KINDS.index(old.kind), -old.score):
                found[(index, p.benchmark)] = Hit(index, p.benchmark, p.id, kind, score, p.question)

        def progress(done: int) -> None:
            if on_progress is not None and (done % 1000 == 0 or done == total):
                on_progress(done, total)

        norms = [normalize_problem(t) for t in texts]
        heads = self._heads
        for index, norm in enumerate(norms):
            for k in self._exact.get(norm, ()) if norm else ():
                hit(index, k, "exact", 1.0)
            for start in range(len(norm) - _HEAD + 1):
                for k in heads.get(norm[start:start + _HEAD], ()):
                    if norm.startswith(self.problems[k].norm, start):
                        hit(index, k, "exact", 1.0)
            progress(index + 1)
        for index, text in enumerate(texts):
            shared: dict[int, int] = {}
            for g in ngrams(tokens(text)):
                for k in self._grams.get(g, ()):
                    shared[k] = shared.get(k, 0) + 1
            for k, n in shared.items():
                score = n / max(1, self.problems[k].ngrams)
                if score >= (NGRAM_SHARE_CJK if self.problems[k].cjk else NGRAM_SHARE):
                    hit(index, k, "ngram", score)
            progress(len(texts) + index + 1)
        sh = shingle(norms, SHINGLE)
        for index, row in enumerate(self._hasher.band_hashes(sh).tolist()):
            candidates = {k for band, value in enumerate(row) if value for k in self._bands.get((band, value), ())}
            mine = sh.of(index) if candidates else set()
            for k in candidates:
                score = self._near(texts[index], mine, k)
                if score is not None:
                    inside = bool(self.problems[k].norm) and self.problems[k].norm in norms[index]
                    hit(index, k, "exact" if inside else "near", 1.0 if inside else score)
            progress(2 * len(texts) + index + 1)
        hits = sorted(found.values(), key=lambda h: (h.index, h.benchmark))
        return DecontaminationReport(items=len(texts), benchmarks=dict(self.sizes), hits=hits)


def _edits(a: Sequence[str], b: Sequence[str], limit: int) -> int:
    """Token edit distance of *a* and *b*, or limit + 1 once it is sure to exceed *limit*."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


_NUMBER = re.compile(r"^\d+$")


def lightly_edited(item: str, problem: str) -> bool:
    """Whether *item* is *problem* with a few words changed or one number changed (short problems)."""
    a, b = tokens(item), tokens(problem)
    if not b or len(b) > 60:
        return False
    nums_a = [t for t in a if _NUMBER.match(t)]
    nums_b = [t for t in b if _NUMBER.match(t)]
    masked_a = ["#" if _NUMBER.match(t) else t for t in a]
    masked_b = ["#" if _NUMBER.match(t) else t for t in b]
    if masked_a == masked_b:
        return sum(x != y for x, y in zip(nums_a, nums_b)) <= 1
    if nums_a != nums_b:
        return False
    # A Chinese word is one to four tokens (characters): a few words changed is more token edits.
    limit = max(1, min(len(b) // 4, 6 if _mostly_cjk(b) else 3))
    return _edits(a, b, limit) <= limit


def _mostly_cjk(toks: Sequence[str]) -> bool:
    return sum(len(t) == 1 and _CJK_CHAR.match(t) is not None for t in toks) * 2 > len(toks)


def decontaminate(texts: Sequence[str], against: Iterable[str], *, workspace: Any = None,
                  on_progress: Callable[[int, int], None] | None = None) -> DecontaminationReport:
    """Scan *texts* against the benchmarks named by *against* (see load_against)."""
    return BenchmarkIndex(load_against(against, workspace)).scan(texts, on_progress)
