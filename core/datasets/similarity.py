"""How alike two problems are: one normal form for their text, character n-gram shingles, MinHash with LSH bands.

De-duplication, decontamination, synthesis and the demo server all compare problems through these.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

_PUNCT_WS = re.compile(r"[\s\W_]+", re.UNICODE)
_PREFIX = re.compile(r"^\s*(?:题目|问题|question|problem)\s*[:：]\s*", re.IGNORECASE)
_PRIME = (1 << 31) - 1  # a*h + b stays below 2**63 for a, b, h < 2**31: no uint64 overflow


def normalize_problem(text: str) -> str:
    """Problem text folded for comparison: NFKC (full-width -> ASCII), case-folded, no '题目：', no spaces or punctuation."""
    t = unicodedata.normalize("NFKC", text or "")
    t = _PREFIX.sub("", t, count=1).casefold()
    return _PUNCT_WS.sub("", t)


def shingles(text: str, n: int) -> set[int]:
    """The CRC32 hashes of every *n*-character piece of *text* (the whole text when it is shorter)."""
    if len(text) <= n:
        return {zlib.crc32(text.encode("utf-8"))} if text else set()
    return {zlib.crc32(text[i:i + n].encode("utf-8")) for i in range(len(text) - n + 1)}


def jaccard(a: set, b: set) -> float:
    """|a ∩ b| / |a ∪ b| (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class MinHasher:
    """MinHash signatures of shingle sets and their LSH band keys: sets sharing a key are candidate pairs.

    With *bands* bands of num_perm/bands rows, a pair of Jaccard similarity s shares at least one key
    with probability 1 - (1 - s**rows)**bands.
    """

    def __init__(self, num_perm: int = 128, bands: int = 32, seed: int = 1) -> None:
        import numpy as np

        rng = np.random.default_rng(seed)
        self._np = np
        self._p = np.uint64(_PRIME)
        self._a = rng.integers(1, _PRIME, size=num_perm, dtype=np.uint64)
        self._b = rng.integers(0, _PRIME, size=num_perm, dtype=np.uint64)
        self.bands = bands
        self.rows = num_perm // bands

    def signature(self, shingle_set: set[int]) -> Any:
        """The MinHash signature (num_perm uint64 values) of a non-empty shingle set."""
        np = self._np
        h = np.fromiter(shingle_set, dtype=np.uint64, count=len(shingle_set)) % self._p
        return ((h[:, None] * self._a[None, :] + self._b[None, :]) % self._p).min(axis=0)

    def band_keys(self, signature: Any) -> Iterator[tuple[int, bytes]]:
        """One hashable key per band of *signature*."""
        rows = self.rows
        for band in range(self.bands):
            yield band, signature[band * rows:(band + 1) * rows].tobytes()

    def buckets(self, shingle_sets: Iterable[set[int]]) -> dict[tuple[int, bytes], list[int]]:
        """Band key -> positions of the sets that have it (empty sets are left out)."""
        out: dict[tuple[int, bytes], list[int]] = {}
        for r, sh in enumerate(shingle_sets):
            if not sh:
                continue
            for key in self.band_keys(self.signature(sh)):
                out.setdefault(key, []).append(r)
        return out
