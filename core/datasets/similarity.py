"""How alike problems are: one normal form for their text, n-gram shingles, MinHash signatures and LSH bands.

De-duplication, decontamination, synthesis and the demo server all compare problems through these.
Shingling and MinHash run on numpy arrays a batch at a time, so 200,000 texts take seconds and
little memory.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

_PUNCT_WS = re.compile(r"[\s\W_]+", re.UNICODE)
_PREFIX = re.compile(r"^\s*(?:题目|问题|question|problem)\s*[:：]\s*", re.IGNORECASE)
_BASE = 0x9E3779B97F4A7C15  # odd multipliers (golden ratio, splitmix64's)
_MIX1, _MIX2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_BATCH = 1 << 17  # shingles per MinHash batch: a 64 MB work array at 128 permutations


def normalize_problem(text: str) -> str:
    """Problem text folded for comparison: NFKC (full-width -> ASCII), case-folded, no '题目：', no spaces or punctuation."""
    t = unicodedata.normalize("NFKC", text or "")
    t = _PREFIX.sub("", t, count=1).casefold()
    return _PUNCT_WS.sub("", t)


def jaccard(a: set, b: set) -> float:
    """|a ∩ b| / |a ∪ b| (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _mix(z: Any) -> Any:
    """splitmix64's finaliser over a uint64 array: every input bit moves every output bit."""
    import numpy as np

    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(_MIX1)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(_MIX2)
    return z ^ (z >> np.uint64(31))


@dataclass
class Shingles:
    """The n-gram ids of many texts in one array: text i owns ids[starts[i]:starts[i + 1]] (a text shorter
    than n is one id; an empty text none)."""

    ids: Any  # uint32 array
    starts: Any  # int64 array, len(texts) + 1

    def __len__(self) -> int:
        return len(self.starts) - 1

    def of(self, i: int) -> set[int]:
        """The ids of text *i* as a set."""
        return set(self.ids[self.starts[i]:self.starts[i + 1]].tolist())


def shingle(texts: Sequence[str], n: int) -> Shingles:
    """Every *n*-character piece of every text, hashed to a 32-bit id (vectorised rolling hash)."""
    import numpy as np

    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    counts = np.where(lengths >= n, lengths - n + 1, np.minimum(lengths, 1))
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    ids = np.zeros(int(starts[-1]), dtype=np.uint32)
    full = lengths >= n
    if full.any():
        windows = counts[full]
        first = offsets[:-1][full]
        pos = np.arange(int(windows.sum()), dtype=np.int64) - np.repeat(np.cumsum(windows) - windows - first, windows)
        h = np.zeros(len(pos), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for k in range(n):
                h = h * np.uint64(_BASE) + codes[pos + k]
            ids[np.repeat(full, counts)] = (_mix(h) >> np.uint64(32)).astype(np.uint32)
    for i in np.flatnonzero((lengths > 0) & ~full):  # shorter than n: the whole text is one piece
        h = np.uint64(0)
        with np.errstate(over="ignore"):
            for c in codes[offsets[i]:offsets[i + 1]]:
                h = h * np.uint64(_BASE) + c
            ids[starts[i]] = np.uint32(_mix(np.array([h], dtype=np.uint64))[0] >> np.uint64(32))
    return Shingles(ids, starts)


class MinHasher:
    """MinHash signatures of shingled texts, condensed to one hash per LSH band: texts sharing a band hash
    are candidate pairs.

    With *bands* bands of num_perm/bands rows, a pair of Jaccard similarity s shares at least one band
    with probability 1 - (1 - s**rows)**bands.
    """

    def __init__(self, num_perm: int = 128, bands: int = 32, seed: int = 1) -> None:
        import numpy as np

        rng = np.random.default_rng(seed)
        # x -> a*x + b (mod 2**32), a odd: a random bijection of the (already well mixed) 32-bit ids.
        self.a = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
        self.b = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64).astype(np.uint32)
        self.bands = bands
        self.rows = num_perm // bands

    def band_hashes(self, sh: Shingles, on_progress: Callable[[int, int], None] | None = None) -> Any:
        """A (texts × bands) uint64 array; the rows of texts without shingles are 0 (see Shingles.starts)."""
        import numpy as np

        n = len(sh)
        out = np.zeros((n, self.bands), dtype=np.uint64)
        counts = np.diff(sh.starts)
        i = 0
        while i < n:
            # As many texts as fit in one batch of shingles (at least one).
            j = max(i + 1, int(np.searchsorted(sh.starts, sh.starts[i] + _BATCH, side="right")) - 1)
            j = min(j, n)
            keep = np.flatnonzero(counts[i:j] > 0) + i
            if len(keep):
                values = np.multiply.outer(self.a, sh.ids[sh.starts[i]:sh.starts[j]])
                values += self.b[:, None]
                sig = np.minimum.reduceat(values, sh.starts[keep] - sh.starts[i], axis=1).T
                out[keep] = self._bands(sig.astype(np.uint64))
            i = j
            if on_progress is not None:
                on_progress(i, n)
        return out

    def _bands(self, sig: Any) -> Any:
        import numpy as np

        rows = sig[:, : self.bands * self.rows].reshape(len(sig), self.bands, self.rows)
        h = np.zeros((len(sig), self.bands), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for r in range(self.rows):
                h = h * np.uint64(_BASE) + rows[:, :, r]
            h = _mix(h)
        return h | np.uint64(1)  # never 0, the mark of a text without shingles


def same_band_groups(bands: Any) -> list[Any]:
    """Groups of row indices that share a band hash in some band (each group sorted, at least two)."""
    import numpy as np

    groups = []
    for band in range(bands.shape[1]):
        col = bands[:, band]
        order = np.argsort(col, kind="stable")
        values = col[order]
        cut = np.flatnonzero(np.diff(values)) + 1
        first = np.concatenate(([0], cut))
        end = np.concatenate((cut, [len(values)]))
        for s, e in zip(*(x[(end - first > 1) & (values[first] != 0)] for x in (first, end))):
            groups.append(np.sort(order[s:e]))
    return groups
