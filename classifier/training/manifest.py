"""The dataset manifest (manifest.csv + summary.json) and a loader for plain meme/ + not_meme/ folders.

manifest.csv has one row per stored image; `path` is relative to the manifest's folder in the file
and absolute in a ManifestRow read back. Rows from plain folders have the same shape, so training
takes either.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from classifier.training.grouping import (
    EVAL_SPLITS,
    GroupingRule,
    HashedItem,
    assign_groups,
    assign_splits,
)
from classifier.training.hashing import hex64
from classifier.training.sources import IMAGE_SUFFIXES, LABELS, SourceItem

MANIFEST_FILE = "manifest.csv"
SUMMARY_FILE = "summary.json"


class ManifestError(ValueError):
    """A manifest or image folder that cannot be read as a dataset."""


@dataclass(frozen=True)
class ManifestRow:
    path: Path
    label: str  # meme | not_meme ("template" in ambiguous.csv)
    split: str  # train | val | test
    group: str  # images of one group are always in one split
    source: str  # source folder, or synth_<kind> for generated images
    kind: str  # meme, macro, caption_bar, multi_panel, photo, people, chart, document, ...
    text_bearing: bool  # a not_meme with text in it is a hard negative
    width: int
    height: int
    phash: str
    dhash: str
    origin: str  # the source file, or what a synthetic image was made from


FIELDS = tuple(f.name for f in dataclasses.fields(ManifestRow))


def write_manifest(rows: Iterable[ManifestRow], path: Path) -> None:
    root = path.parent.resolve()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(FIELDS)
        for row in rows:
            values = dataclasses.asdict(row)
            values["path"] = row.path.resolve().relative_to(root).as_posix()
            values["text_bearing"] = int(row.text_bearing)
            writer.writerow(values[name] for name in FIELDS)


def read_manifest(path: Path) -> list[ManifestRow]:
    """Rows of a manifest.csv (or a dataset folder holding one), image paths made absolute."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_FILE
    root = path.parent.resolve()
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = set(FIELDS) - set(reader.fieldnames or ())
            if missing:
                raise ManifestError(f"{path}: missing columns {', '.join(sorted(missing))}")
            return [_parse_row(values, root, f"{path}:{line}") for line, values in enumerate(reader, 2)]
    except OSError as error:
        raise ManifestError(f"{path}: {error.strerror or error}") from error


def _parse_row(values: dict[str, str], root: Path, where: str) -> ManifestRow:
    try:
        return ManifestRow(
            path=root / values["path"],
            label=values["label"],
            split=values["split"],
            group=values["group"],
            source=values["source"],
            kind=values["kind"],
            text_bearing=values["text_bearing"] in ("1", "true", "True"),
            width=int(values["width"]),
            height=int(values["height"]),
            phash=values["phash"],
            dhash=values["dhash"],
            origin=values["origin"],
        )
    except (KeyError, ValueError) as error:
        raise ManifestError(f"{where}: {error}") from error


def summarise(rows: Sequence[ManifestRow]) -> dict[str, Any]:
    """Counts per split x label x source, plus per-split totals."""
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for (split, label, source), n in sorted(Counter((r.split, r.label, r.source) for r in rows).items()):
        counts.setdefault(split, {}).setdefault(label, {})[source] = n
    totals = {
        split: {label: sum(r.split == split and r.label == label for r in rows) for label in LABELS}
        for split in EVAL_SPLITS
    }
    return {"counts": counts, "totals": totals, "images": len(rows)}


def write_summary(summary: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def format_summary(rows: Sequence[ManifestRow]) -> str:
    """A text table: one line per (label, source), one column per split."""
    counts = Counter((r.label, r.source, r.split) for r in rows)
    keys = sorted({(label, source) for label, source, _ in counts})
    head = f"{'label':<9} {'source':<30}"
    lines = [head + "".join(f"{s:>8}" for s in EVAL_SPLITS) + f"{'total':>8}"]
    for label, source in keys:
        per = [counts[(label, source, s)] for s in EVAL_SPLITS]
        lines.append(f"{label:<9} {source:<30}" + "".join(f"{n:>8}" for n in per) + f"{sum(per):>8}")
    for label in LABELS:
        per = [sum(n for (lb, _, s), n in counts.items() if lb == label and s == sp) for sp in EVAL_SPLITS]
        lines.append(f"{label:<9} {'= all':<30}" + "".join(f"{n:>8}" for n in per) + f"{sum(per):>8}")
    return "\n".join(lines)


def read_folder_rows(
    root: Path, *, split: str | None = None, seed: int = 0, rule: GroupingRule | None = None
) -> list[ManifestRow]:
    """Rows for a plain `root/meme/*` + `root/not_meme/*` image folder (no images are rewritten).

    With `split` every row gets that split; without, rows are grouped by near-duplicate hashes and
    split 80/10/10 by group like a built dataset. Unreadable files are skipped.
    """
    from classifier.training.grouping import hash_item

    items = [
        SourceItem(f"{label}/{p.name}", p, root.name, label, "unknown", False, None)
        for label in LABELS
        for p in sorted((root / label).glob("*"))
        if p.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not items:
        raise ManifestError(f"{root}: no images in {root / 'meme'} or {root / 'not_meme'}")
    hashed: list[HashedItem] = []
    for item in items:
        try:
            hashed.append(hash_item(item))
        except (OSError, Image.DecompressionBombError, SyntaxError, ValueError):
            continue
    groups = assign_groups(hashed, rule or GroupingRule())
    splits = assign_splits({g: [root.name] for g in set(groups.values())}, seed=seed)
    return [
        ManifestRow(
            path=h.item.path.resolve(),
            label=h.item.role,
            split=split or splits[groups[h.item.key]],
            group=f"{root.name}/{groups[h.item.key]}",
            source=root.name,
            kind="unknown",
            text_bearing=False,
            width=h.width,
            height=h.height,
            phash=hex64(h.phash),
            dhash=hex64(h.dhash),
            origin=h.item.key,
        )
        for h in hashed
    ]
