"""Perceptual hashes (dHash, pHash) of one picture: 64-bit ints that near-identical pictures share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

HASH_BITS = 64
_PHASH_SIZE = 32
_PHASH_LOW = 8


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


FINGERPRINT_SIDE = 64
_MIN_SPREAD = 8.0  # grey levels
_BLOCK = 4  # the fingerprint is compared in 16 x 16 blocks of 4 x 4 pixels


@dataclass(frozen=True)
class Fingerprint:
    """What a picture looks like, small: its pHash and a 64 x 64 grey thumbnail (4 KB).

    The pHash finds candidates fast; the thumbnail tells a repost (re-encoded, resized) from the same
    template with another caption, which a 64-bit hash cannot: their pHashes are often 2 bits apart.
    """

    phash: int
    pixels: bytes = field(repr=False)

    def difference(self, other: Fingerprint) -> float:
        """The largest mean difference of any block between the two thumbnails, each normalised to
        zero mean and unit spread (so brightness and contrast changes count little); 0 is identical."""
        a, b = _normalised(self.pixels), _normalised(other.pixels)
        blocks = FINGERPRINT_SIDE // _BLOCK
        diff = np.abs(a - b).reshape(blocks, _BLOCK, blocks, _BLOCK).mean(axis=(1, 3))
        return float(diff.max())


def fingerprint(img: Image.Image) -> Fingerprint:
    grey = img.convert("L").resize((FINGERPRINT_SIDE, FINGERPRINT_SIDE), Image.Resampling.BOX)
    return Fingerprint(phash=phash(img), pixels=grey.tobytes())


def _normalised(pixels: bytes) -> np.ndarray:
    values = np.frombuffer(pixels, dtype=np.uint8).astype(np.float64)
    if values.size != FINGERPRINT_SIDE * FINGERPRINT_SIDE:
        raise ValueError(f"a fingerprint has {FINGERPRINT_SIDE}x{FINGERPRINT_SIDE} pixels, not {values.size}")
    values = values.reshape(FINGERPRINT_SIDE, FINGERPRINT_SIDE)
    # A floor on the spread: on a near-flat picture, noise would otherwise be scaled up to look like detail.
    return (values - values.mean()) / max(float(values.std()), _MIN_SPREAD)
