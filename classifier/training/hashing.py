"""Perceptual hashes (dHash, pHash) and near-duplicate search over many 64-bit hashes, numpy only."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image

HASH_BITS = 64
_PHASH_SIZE = 32
_PHASH_LOW = 8
# Chunk rows so the pairwise distance block stays a few MB however many images there are.
_CHUNK = 512


def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II basis: a 2-D DCT of X is D @ X @ D.T (no scipy needed)."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    basis = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    basis[0] /= np.sqrt(2.0)
    return basis


_DCT = _dct_matrix(_PHASH_SIZE)


def _bits_to_int(bits: np.ndarray) -> int:
    value = 0
    for bit in bits.ravel():
        value = (value << 1) | int(bit)
    return value


def _gray(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(img.convert("L").resize(size, Image.Resampling.BOX), dtype=np.float64)


def dhash(img: Image.Image) -> int:
    """64-bit difference hash: is each pixel of a 9x8 thumbnail brighter than its right neighbour."""
    pixels = _gray(img, (9, 8))
    return _bits_to_int(pixels[:, 1:] > pixels[:, :-1])


def phash(img: Image.Image) -> int:
    """64-bit DCT hash: the 8x8 lowest frequencies of a 32x32 thumbnail against their median.

    Robust to re-encoding, resizing and small edits, and insensitive to aspect-ratio changes
    (everything is squashed to 32x32 first), which matters: Memotion's images were squashed.
    """
    pixels = _gray(img, (_PHASH_SIZE, _PHASH_SIZE))
    low = (_DCT @ pixels @ _DCT.T)[:_PHASH_LOW, :_PHASH_LOW]
    return _bits_to_int(low > np.median(low))


def hex64(value: int) -> str:
    return f"{value:016x}"


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


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
