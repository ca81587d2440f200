"""Labelled images for training and evaluation, from every place they come from, as one list of Samples.

A `--data` argument is `PATH` or `PATH:SPLIT` (SPLIT: train, val, test, or auto). PATH is one of:
- a dataset folder holding manifest.csv, or the csv itself: its split column is used;
- a plain folder with meme/ and not_meme/ subfolders: split 80/10/10 by near-duplicate groups (auto);
- a corrections zip from `memebot export`: every row goes to train (people's corrections are for
  learning; a held-out split of them is asked for explicitly, e.g. `corrections.zip:test`);
- a training pack (.tar from `memebot dataset pack`, see pack.py): its own split column.
A split after the colon overrides the source's own.
"""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from classifier.training.grouping import EVAL_SPLITS
from classifier.training.manifest import MANIFEST_FILE, ManifestRow, read_folder_rows, read_manifest
from classifier.training.sources import LABELS

CORRECTIONS_SOURCE = "corrections"


class DataError(ValueError):
    """A --data argument that cannot be read as labelled images."""


class ImageStore(Protocol):
    def read(self, ref: str) -> bytes: ...


class FileStore:
    """Images that are files on disk; `ref` is the path."""

    def read(self, ref: str) -> bytes:
        return Path(ref).read_bytes()


class ZipStore:
    """Members of a zip; each process (DataLoader worker) opens its own handle on first use."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        self._pid = -1

    def read(self, ref: str) -> bytes:
        if self._zip is None or self._pid != os.getpid():
            self._zip, self._pid = zipfile.ZipFile(self.path), os.getpid()
        return self._zip.read(ref)

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_zip": None, "_pid": -1}


FILES = FileStore()


@dataclass(frozen=True)
class Sample:
    ref: str  # where the image is inside its store
    store: ImageStore
    label: str  # meme | not_meme
    split: str  # train | val | test | wild
    source: str  # dataset source folder, synth_<kind>, a folder's name, or "corrections"
    kind: str
    text_bearing: bool  # a not_meme with text in it is a hard negative
    origin: str  # a human-readable name for reports
    group: str = ""  # near-duplicates and one template share a group (and so a split)

    def read(self) -> bytes:
        return self.store.read(self.ref)


@dataclass(frozen=True)
class DataSpec:
    path: Path
    split: str | None  # None: the source's own split (or its default)

    @classmethod
    def parse(cls, text: str) -> DataSpec:
        head, _, tail = text.rpartition(":")
        if head and tail in (*EVAL_SPLITS, "auto"):
            return cls(Path(head), None if tail == "auto" else tail)
        return cls(Path(text), None)

    def __str__(self) -> str:
        return f"{self.path}:{self.split}" if self.split else str(self.path)


def load_samples(specs: Iterable[DataSpec], *, seed: int = 0) -> list[Sample]:
    """Every labelled image of every spec, in a fixed order."""
    samples: list[Sample] = []
    for spec in specs:
        found = _load_one(spec, seed)
        if not found:
            raise DataError(f"{spec.path}: holds no labelled images")
        samples.extend(found)
    return samples


def _load_one(spec: DataSpec, seed: int) -> list[Sample]:
    path = spec.path
    if (path.is_dir() and (path / MANIFEST_FILE).is_file()) or path.suffix == ".csv":
        return [_from_row(row, spec.split) for row in read_manifest(path)]
    if path.is_dir() and ((path / "meme").is_dir() or (path / "not_meme").is_dir()):
        return [_from_row(row, None) for row in read_folder_rows(path, split=spec.split, seed=seed)]
    if path.suffix == ".zip" and path.is_file():
        return _from_export(path, spec.split or "train")
    if path.suffix == ".tar" and path.is_file():
        from classifier.training.pack import read_pack  # the pack module builds on this one

        return read_pack(path, spec.split)
    raise DataError(
        f"{path}: not a dataset folder (manifest.csv), a meme/ + not_meme/ folder, "
        "a `memebot export` zip or a `memebot dataset pack` tar"
    )


def _from_row(row: ManifestRow, split: str | None) -> Sample:
    return Sample(
        ref=str(row.path),
        store=FILES,
        label=row.label,
        split=split or row.split,
        source=row.source,
        kind=row.kind,
        text_bearing=row.text_bearing,
        origin=row.origin,
        group=row.group,
    )


def _from_export(path: Path, split: str) -> list[Sample]:
    from storage.export import ExportFormatError, read_export  # storage pulls in SQLAlchemy: only here

    try:
        rows = read_export(path)
    except ExportFormatError as error:
        raise DataError(str(error)) from error
    store = ZipStore(path)
    return [
        Sample(
            ref=row.file,
            store=store,
            label=row.label,
            split=split,
            source=CORRECTIONS_SOURCE,
            kind="correction",
            text_bearing=False,
            origin=f"{path.name}:{row.file}",
            group=f"{CORRECTIONS_SOURCE}/{row.sha256}",
        )
        for row in rows
    ]


def split_counts(samples: Sequence[Sample]) -> dict[str, dict[str, int]]:
    """{split: {label: n}} with every split and label present."""
    counts = Counter((s.split, s.label) for s in samples)
    return {split: {label: counts[(split, label)] for label in LABELS} for split in EVAL_SPLITS}


def summarise(samples: Sequence[Sample], specs: Sequence[DataSpec]) -> dict[str, Any]:
    """What a model was trained on: the --data arguments, counts per split, label and source."""
    per_source: dict[str, dict[str, dict[str, int]]] = {}
    for (split, label, source), n in sorted(Counter((s.split, s.label, s.source) for s in samples).items()):
        per_source.setdefault(split, {}).setdefault(label, {})[source] = n
    hard = Counter(s.split for s in samples if s.label == "not_meme" and s.text_bearing)
    return {
        "data": [str(spec) for spec in specs],
        "images": len(samples),
        "totals": split_counts(samples),
        "counts": per_source,
        "text_bearing_negatives": {split: hard[split] for split in EVAL_SPLITS},
    }
