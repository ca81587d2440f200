"""Near-duplicate search over many 64-bit perceptual hashes (numpy only), and disjoint sets."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from classifier.hashing import HASH_BITS, dhash, hamming, hex64, phash

__all__ = ["HASH_BITS", "UnionFind", "dhash", "hamming", "hex64", "near_pairs", "phash"]

# Chunk rows so the pairwise distance block stays a few MB however many images there are.
_CHUNK = 512


def near_pairs(hashes: np.ndarray, max_distance: int) -> Iterator[tuple[int, int]]:
    """Index pairs (i < j) whose 64-bit hashes differ in at most `max_distance` bits."""
    values = np.asarray(hashes, dtype=np.uint64)
    for start in range(0, len(values), _CHUNK):
        block = values[start : start + _CHUNK]
        # Only compare against later items so each pair is reported once.
        later = values[start:]
        distances = np.bitwise_count(block[:, None] ^ later[None, :])
        rows, cols = np.nonzero(distances <= max_distance)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            i, j = start + row, start + col
            if i < j:
                yield i, j


class UnionFind:
    """Disjoint sets over 0..n-1; `find` gives each set's smallest member as its root (stable)."""

    def __init__(self, n: int) -> None:
        self._parent = list(range(n))

    def find(self, item: int) -> int:
        root = item
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[item] != root:  # path compression
            self._parent[item], item = root, self._parent[item]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)
