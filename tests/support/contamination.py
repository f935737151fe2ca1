"""A dataset seeded with benchmark problems, some copied and some lightly edited, beside clean SFT items."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}(?![A-Za-z])")  # a word, not a LaTeX command
_NUMBER = re.compile(r"\d+")
FILLERS = ("certain", "small", "new", "local", "several", "whole", "given", "other", "famous", "quiet")


@dataclass
class Seed:
    """One benchmark problem put into the dataset: how it was changed and where it stands."""

    benchmark: str
    id: str
    kind: str  # copy | words | number
    question: str


def edit_words(question: str, rng: random.Random, k: int) -> str | None:
    """*question* with *k* of its words replaced, dropped or given a word before them."""
    words = list(_WORD.finditer(question))
    if len(words) < k:
        return None
    out = question
    for m in sorted(rng.sample(words, k), key=lambda m: -m.start()):
        op = rng.random()
        new = rng.choice(FILLERS) if op < 0.5 else "" if op < 0.7 else f"{rng.choice(FILLERS)} {m.group()}"
        out = out[:m.start()] + new + out[m.end():]
    return out


def edit_number(question: str, rng: random.Random) -> str | None:
    """*question* with one of its numbers changed."""
    numbers = list(_NUMBER.finditer(question))
    if not numbers:
        return None
    m = rng.choice(numbers)
    return question[:m.start()] + str(int(m.group()) + rng.randint(1, 9)) + question[m.end():]


def seeded_items(shared_data: Path, n_seeds: int = 200, seed: int = 0) -> tuple[list[dict], list[Seed], int]:
    """All real SFT items (the clean set), then *n_seeds* GSM8K/MATH test problems made into SFT items:
    a third copied, a third with one to three words changed, a third with one number changed.

    Returns (items, seeds, number of clean items); the seeds are the last items, in order.
    """
    from mathbench.core.datasets import Dataset
    from mathbench.core.evaluation.benchmarks import load_benchmark

    rng = random.Random(seed)
    items: list[dict] = []
    for f in sorted((shared_data / "sft").glob("*.json")):
        items += Dataset.load(f).items
    n_clean = len(items)
    bench = [("gsm8k", p) for p in load_benchmark(shared_data / "benchmarks" / "gsm8k_test.jsonl")]
    bench += [("math", p) for p in load_benchmark(shared_data / "benchmarks" / "math_test.jsonl")]
    seeds: list[Seed] = []
    for name, p in rng.sample(bench, len(bench)):
        if len(seeds) == n_seeds:
            break
        kind = ("copy", "words", "number")[len(seeds) % 3]
        q = p.question if kind == "copy" else edit_words(p.question, rng, rng.randint(1, 3)) if kind == "words" \
            else edit_number(p.question, rng)
        if q is None:
            continue
        seeds.append(Seed(name, p.id, kind, q))
        items.append({"conversations": [{"from": "human", "value": f"题目：{q}"},
                                         {"from": "gpt", "value": "因此，答案是 \\boxed{0}。"}]})
    return items, seeds, n_clean
