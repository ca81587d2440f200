"""A tiny, trivially learnable dataset (bright = meme, dark = not_meme) in every form training reads:
a manifest, plain meme/ + not_meme/ folders, a `memebot export` zip and a training pack."""

from __future__ import annotations

import csv
import hashlib
import io
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from classifier.training.manifest import ManifestRow, write_manifest
from classifier.training.pack import pack_dataset
from storage.export import CSV_HEADER, LABELS_FILE

# (label, split, source, kind, text_bearing) per image: 12 train, 2 val, 2 test.
LAYOUT = (
    [("meme", "train", "memotion", "meme", True)] * 6
    + [("not_meme", "train", "documents", "document", True)] * 3
    + [("not_meme", "train", "scenes", "photo", False)] * 3
    + [("meme", "val", "memotion", "meme", True), ("not_meme", "val", "documents", "document", True)]
    + [("meme", "test", "memotion", "meme", True), ("not_meme", "test", "scenes", "photo", False)]
)


@dataclass(frozen=True)
class TinyData:
    manifest: Path  # a dataset folder with manifest.csv
    folder: Path  # meme/ + not_meme/
    export_zip: Path
    pack: Path


def tiny_jpeg(label: str, seed: int) -> bytes:
    """A bright (meme) or dark (not_meme) picture with noise, of a random aspect ratio."""
    rng = random.Random(seed)
    size = rng.choice([(48, 36), (36, 48), (40, 40)])
    base = rng.randint(190, 240) if label == "meme" else rng.randint(15, 60)
    img = Image.new("RGB", size, (base, base, base))
    for _ in range(30):
        xy = (rng.randrange(size[0]), rng.randrange(size[1]))
        img.putpixel(xy, tuple(min(255, max(0, base + rng.randint(-40, 40))) for _ in range(3)))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    return out.getvalue()


def make_tiny_data(root: Path) -> TinyData:
    manifest_dir, folder = root / "dataset", root / "folder"
    rows: list[ManifestRow] = []
    for i, (label, split, source, kind, text) in enumerate(LAYOUT):
        data = tiny_jpeg(label, i)
        path = manifest_dir / "images" / split / label / f"{i:03d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        (folder / label).mkdir(parents=True, exist_ok=True)
        (folder / label / f"{i:03d}.jpg").write_bytes(data)
        rows.append(
            ManifestRow(path, label, split, f"g{i}", source, kind, text, 40, 40, "0", "0", f"{source}/{i}")
        )
    write_manifest(rows, manifest_dir / "manifest.csv")
    export_zip = write_export_zip(
        root / "corrections.zip", [(row.label, row.path.read_bytes()) for row in rows]
    )
    pack = pack_dataset(manifest_dir, root / "pack" / "dataset.tar", size=40, quality=90).path
    return TinyData(manifest_dir, folder, export_zip, pack)


def write_export_zip(path: Path, images: list[tuple[str, bytes]]) -> Path:
    """A zip in `memebot export`'s documented format (labels.csv + meme/ and not_meme/ images)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    with zipfile.ZipFile(path, "w") as archive:
        for label, data in images:
            sha = hashlib.sha256(data).hexdigest()
            file = f"{label}/{sha}.jpg"
            votes = (1, 0) if label == "meme" else (0, 1)
            when = "2026-01-01T00:00:00+00:00"
            writer.writerow((sha, label, *votes, 0, "telegram", when, when, "meme", file))
            archive.writestr(file, data)
        archive.writestr(LABELS_FILE, text.getvalue())
    return path
