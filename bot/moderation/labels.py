"""Trusted labels: a moderator's word on an image, applied to its reposts and near-duplicates."""

from __future__ import annotations

from classifier.hashing import Fingerprint, hamming

# Measured by scripts/near_duplicate_distances.py on 400 real templates (docs/moderation/near-duplicates.md):
# reposts (re-encoded, resized, brighter, grey) differ by at most 0.74, another caption on the same
# template by at least 1.00; a crop of 3% or more is a new image. The pHash bound (reposts: <= 8)
# only picks the candidates cheaply.
NEAR_PHASH = 12
NEAR_DIFFERENCE = 0.85


def near_duplicate(a: Fingerprint, b: Fingerprint) -> bool:
    return hamming(a.phash, b.phash) <= NEAR_PHASH and a.difference(b) <= NEAR_DIFFERENCE
