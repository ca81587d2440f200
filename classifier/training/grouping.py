"""Deduplication, near-duplicate groups and grouped, source-stratified train/val/test splits.

Two hashes decide what belongs together: the pHash of the whole image (re-encodes, resizes and
reposts of one meme) and the pHash of its middle band (rows 30-70%), which ignores top and bottom
captions, so memes made from one template with different captions, and the blank template itself,
land in one group. Measured on ../shared/datasets, whole-image pHash <= 8 and band pHash <= 6 link
same-template memes almost exclusively, and the largest group stays under 70 images (receipts).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from classifier.training.hashing import UnionFind, dhash, near_pairs, phash
from classifier.training.sources import TEMPLATE, SourceItem

SPLITS = ("train", "val", "test")
# Whole sources held out of training and of the splits above (sources.WILD_SOURCES): the honest score.
WILD = "wild"
EVAL_SPLITS = (*SPLITS, WILD)
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)
_BAND = (0.3, 0.7)
_HASH_DRAFT = 96  # JPEGs are decoded at a reduced scale for hashing: 32x32 thumbnails need no more


@dataclass(frozen=True)
class GroupingRule:
    group_phash: int = 8
    group_band: int = 6
    dup_phash: int = 2  # a near-identical copy (same role): pHash AND dHash within these is dropped
    dup_dhash: int = 4
    template_dup: int = 6  # templates: the same template at another size (README: dHash <= 6)


@dataclass(frozen=True)
class HashedItem:
    item: SourceItem
    sha256: str
    dhash: int
    phash: int
    band: int
    width: int
    height: int


def image_hashes(img: Image.Image) -> tuple[int, int, int]:
    """(dHash, pHash, middle-band pHash) of an image."""
    rgb = img.convert("RGB")
    top, bottom = round(rgb.height * _BAND[0]), max(round(rgb.height * _BAND[1]), 1)
    band = rgb.crop((0, top, rgb.width, max(bottom, top + 1)))
    return dhash(rgb), phash(rgb), phash(band)


def hash_item(item: SourceItem) -> HashedItem:
    data = item.path.read_bytes()
    with Image.open(item.path) as img:
        width, height = img.size
        img.draft("RGB", (_HASH_DRAFT, _HASH_DRAFT))
        d, p, b = image_hashes(img)
    return HashedItem(item, hashlib.sha256(data).hexdigest(), d, p, b, width, height)


def dedupe(items: Sequence[HashedItem], rule: GroupingRule) -> tuple[list[HashedItem], dict[str, str]]:
    """Drop byte-identical and near-identical copies within a role; keeps the first of each set.

    Returns the kept items (order preserved) and {dropped key: kept key}.
    """
    sets = UnionFind(len(items))
    first_by_sha: dict[str, int] = {}
    for index, hashed in enumerate(items):
        sets.union(first_by_sha.setdefault(hashed.sha256, index), index)
    phashes = np.array([h.phash for h in items], dtype=np.uint64)
    for i, j in near_pairs(phashes, max(rule.dup_phash, rule.template_dup)):
        a, b = items[i], items[j]
        if a.item.role != b.item.role:
            continue  # a meme and a photo that look alike are both kept (one group, see assign_groups)
        distance = (a.phash ^ b.phash).bit_count()
        if a.item.role == TEMPLATE:
            same = distance <= rule.template_dup or (a.dhash ^ b.dhash).bit_count() <= rule.template_dup
        else:
            same = distance <= rule.dup_phash and (a.dhash ^ b.dhash).bit_count() <= rule.dup_dhash
        if same:
            sets.union(i, j)
    kept = [h for i, h in enumerate(items) if sets.find(i) == i]
    dropped = {h.item.key: items[sets.find(i)].item.key for i, h in enumerate(items) if sets.find(i) != i}
    return kept, dropped


def assign_groups(items: Sequence[HashedItem], rule: GroupingRule) -> dict[str, str]:
    """Item key -> group id (the smallest member key): near-duplicates, same template, same family."""
    sets = UnionFind(len(items))
    for field_name, limit in (("phash", rule.group_phash), ("band", rule.group_band)):
        values = np.array([getattr(h, field_name) for h in items], dtype=np.uint64)
        for i, j in near_pairs(values, limit):
            sets.union(i, j)
    first_in_family: dict[str, int] = {}
    for index, hashed in enumerate(items):
        if hashed.item.family is not None:
            sets.union(first_in_family.setdefault(hashed.item.family, index), index)
    members: dict[int, list[str]] = defaultdict(list)
    for index, hashed in enumerate(items):
        members[sets.find(index)].append(hashed.item.key)
    return {key: min(keys) for keys in members.values() for key in keys}


def _order(seed: int, name: str) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def assign_splits(
    group_sources: Mapping[str, Iterable[str]],
    *,
    seed: int,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
) -> dict[str, str]:
    """Group id -> split, stratified by each group's main source so every source is in every split.

    Within a source, groups are taken in a seeded random order; the first three seed test, val and
    train (so even a small source reaches each split), then each goes where the image count is
    furthest below its target fraction.
    """
    sizes: dict[str, Counter[str]] = {group: Counter(sources) for group, sources in group_sources.items()}
    by_source: dict[str, list[str]] = defaultdict(list)
    for group, members in sizes.items():
        main = sorted(members.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        by_source[main].append(group)
    split_of: dict[str, str] = {}
    for source in sorted(by_source):
        groups = sorted(by_source[source], key=lambda g: _order(seed, g))
        filled = dict.fromkeys(SPLITS, 0)
        done = 0
        for index, group in enumerate(groups):
            size = sum(sizes[group].values())
            if index < len(SPLITS) and len(groups) >= len(SPLITS):
                split = SPLITS[::-1][index]
            else:
                deficits = [f * (done + size) - filled[s] for s, f in zip(SPLITS, fractions, strict=True)]
                split = SPLITS[int(np.argmax(deficits))]
            split_of[group] = split
            filled[split] += size
            done += size
    return split_of


def split_quota(total: int, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> dict[str, int]:
    """`total` spread over the splits by fraction (largest remainders), summing exactly to total."""
    raw = [total * f / sum(fractions) for f in fractions]
    quota = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: quota[i] - raw[i])[: total - sum(quota)]:
        quota[i] += 1
    return dict(zip(SPLITS, quota, strict=True))


def overlapping_wild(items: Sequence[HashedItem], rule: GroupingRule) -> dict[str, str]:
    """Wild items that are byte-identical or near-identical (pHash within `group_phash`, or dHash
    within `template_dup`, the datasets README's rule) to any other item: {wild key: other key}.
    Such a picture, or its blank template, is not from a place the model never saw."""
    out: dict[str, str] = {}
    sha: dict[str, str] = {h.sha256: h.item.key for h in items if not h.item.wild}
    for h in items:
        if h.item.wild and h.sha256 in sha:
            out[h.item.key] = sha[h.sha256]
    for field_name, limit in (("phash", rule.group_phash), ("dhash", rule.template_dup)):
        values = np.array([getattr(h, field_name) for h in items], dtype=np.uint64)
        for i, j in near_pairs(values, limit):
            a, b = items[i], items[j]
            if a.item.wild != b.item.wild:
                wild, other = (a, b) if a.item.wild else (b, a)
                out.setdefault(wild.item.key, other.item.key)
    return out


def label_conflicts(items: Sequence[HashedItem], rule: GroupingRule) -> list[tuple[str, str]]:
    """Near-identical pairs whose folders give them different labels (meme vs not_meme): label noise."""
    phashes = np.array([h.phash for h in items], dtype=np.uint64)
    conflicts = []
    for i, j in near_pairs(phashes, rule.dup_phash):
        a, b = items[i], items[j]
        roles = {a.item.role, b.item.role}
        if roles == {"meme", "not_meme"} and (a.dhash ^ b.dhash).bit_count() <= rule.dup_dhash:
            conflicts.append((a.item.key, b.item.key))
    return conflicts
