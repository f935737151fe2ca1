"""Find duplicate SFT items: exact (same normalised problem text) and near (character n-gram MinHash).

Duplicates come as clusters a person can review; a keep-one policy then says which item of each
cluster stays.

    clusters = find_duplicates([problem_text(it) for it in items], threshold=0.8)
    drop = choose_drops(clusters, policy="first")          # indices to remove
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from mathbench.core.datasets.similarity import MinHasher, jaccard, normalize_problem, same_band_groups, shingle

POLICIES = ("first", "last", "longest", "shortest", "valid")
_NUMBERS = re.compile(r"\d+(?:\.\d+)?")
_ALL_PAIRS_UP_TO = 64


@dataclass
class Cluster:
    """Items that repeat one problem: kind 'exact' or 'near', with the lowest pairwise similarity seen."""

    kind: str
    members: list[int]
    similarity: float = 1.0
    keep: int | None = None
    numbers_differ: bool = False  # near duplicates whose numbers differ may be variants, not copies

    def to_dict(self) -> dict:
        return {"kind": self.kind, "members": self.members, "similarity": round(self.similarity, 4),
                "numbers_differ": self.numbers_differ, "keep": self.keep}


@dataclass
class _UnionFind:
    parent: list[int] = field(default_factory=list)

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _pairs(members: list[int]):
    """The pairs of one LSH group to compare: all of them, or in a very large group each member with the
    first and with its neighbour (a group of near-copies is joined as well, without n² comparisons)."""
    if len(members) <= _ALL_PAIRS_UP_TO:
        return ((members[x], members[y]) for x in range(len(members)) for y in range(x + 1, len(members)))
    return ((members[m], members[k]) for k in range(1, len(members)) for m in {0, k - 1})


def find_duplicates(
    texts: Sequence[str],
    *,
    threshold: float = 0.8,
    ngram: int = 5,
    num_perm: int = 128,
    bands: int = 32,
    near: bool = True,
    seed: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Cluster]:
    """Clusters of exact and near-duplicate texts (indices into *texts*), largest first.

    Exact: equal after normalize_problem. Near: MinHash over character *ngram*s with LSH banding
    finds candidate pairs; a pair joins a cluster only when its true Jaccard similarity is at least
    *threshold*. Each item is in at most one cluster; a near cluster may contain exact groups.
    *on_progress(done, total)* hears about the MinHash pass, then about the comparisons.
    """
    norm = [normalize_problem(t) for t in texts]
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(norm):
        if t:
            groups.setdefault(t, []).append(i)
    exact = [g for g in groups.values() if len(g) > 1]
    if not near:
        return sorted((Cluster("exact", g) for g in exact), key=lambda c: (-len(c.members), c.members[0]))

    reps = [g[0] for g in groups.values()]  # one text per exact group
    sh = shingle([norm[i] for i in reps], ngram)
    band_rows = MinHasher(num_perm, bands, seed).band_hashes(
        sh, None if on_progress is None else (lambda done, total: on_progress(done, 2 * total)))
    of = lru_cache(maxsize=1 << 15)(sh.of)
    uf = _UnionFind(list(range(len(reps))))
    sims: dict[int, float] = {}
    candidates = same_band_groups(band_rows)
    for done, run in enumerate(candidates, 1):
        for p, q in _pairs(run.tolist()):
            if uf.find(p) == uf.find(q):
                continue  # already one cluster: comparing them again cannot change it
            s = jaccard(of(p), of(q))
            if s >= threshold:
                uf.union(p, q)
                root = uf.find(p)
                sims[root] = min(sims.get(root, 1.0), s, sims.get(p, 1.0), sims.get(q, 1.0))
        if on_progress is not None and done % 1000 == 0:
            on_progress(len(reps) + len(reps) * done // len(candidates), 2 * len(reps))
    by_root: dict[int, list[int]] = {}
    for r in range(len(reps)):
        by_root.setdefault(uf.find(r), []).append(r)
    clusters: list[Cluster] = []
    for root, rs in by_root.items():
        members = sorted(i for r in rs for i in groups[norm[reps[r]]])
        if len(members) < 2:
            continue
        if len(rs) == 1:
            clusters.append(Cluster("exact", members, 1.0))
        else:
            sim = min([sims.get(uf.find(r), 1.0) for r in rs] + [sims.get(root, 1.0)])
            nums = {tuple(_NUMBERS.findall(unicodedata.normalize("NFKC", texts[i]))) for i in members}
            clusters.append(Cluster("near", members, sim, numbers_differ=len(nums) > 1))
    return sorted(clusters, key=lambda c: (-len(c.members), c.members[0]))


def choose_drops(
    clusters: Sequence[Cluster],
    *,
    policy: str = "first",
    length: Callable[[int], int] | None = None,
    is_valid: Callable[[int], bool] | None = None,
) -> list[int]:
    """Indices to remove so each cluster keeps one item; sets each cluster's `keep`.

    policy: first | last (by position), longest | shortest (by *length(i)*, e.g. the answer's characters),
    valid (a validated item first, then the first; needs *is_valid*).
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown keep policy {policy!r} (one of {', '.join(POLICIES)})")
    drops: list[int] = []
    for c in clusters:
        m = sorted(c.members)
        if policy == "first":
            keep = m[0]
        elif policy == "last":
            keep = m[-1]
        elif policy in ("longest", "shortest"):
            if length is None:
                raise ValueError(f"policy {policy!r} needs a length function")
            keep = (max if policy == "longest" else min)(m, key=lambda i: (length(i), -i))
        else:
            if is_valid is None:
                raise ValueError("policy 'valid' needs validation results")
            keep = next((i for i in m if is_valid(i)), m[0])
        c.keep = keep
        drops += [i for i in m if i != keep]
    return sorted(drops)
