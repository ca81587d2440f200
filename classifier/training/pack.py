"""`memebot dataset pack`: a built dataset as one small tar that `memebot train --data` reads directly.

Why: a GPU machine gets only a small copy of the working tree, so the images travel re-encoded (WebP
by default: about half the bytes of JPEG at the same quality) with their longest side capped. Every
class is re-encoded alike, so the pack adds no shortcut. The tar holds three members: pack.json (how
it was made, counts), pack.csv (name, offset, size, label, split, group, source, kind, text_bearing,
origin: one row per image) and images.bin, the images back to back. One blob instead of a member per
image because tar spends about 770 bytes on each member, a quarter of a 128 px WebP. Training reads
images by offset, without unpacking.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tarfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from classifier.preprocess import DecodeLimits, decode_frames
from classifier.training.data import DataError, DataSpec, Sample, load_samples, split_counts
from classifier.training.grouping import EVAL_SPLITS
from classifier.training.sources import LABELS

PACK_INFO, PACK_INDEX, PACK_IMAGES = "pack.json", "pack.csv", "images.bin"
FIELDS = ("name", "offset", "size", "label", "split", "group", "source", "kind", "text_bearing", "origin")
MIB = 1024 * 1024
FORMATS = {"webp": ("WEBP", ".webp"), "jpeg": ("JPEG", ".jpg")}


class PackError(ValueError):
    """The pack cannot be made as asked (too big, unknown format)."""


@dataclass(frozen=True)
class PackSummary:
    path: Path
    images: int
    bytes: int


class TarStore:
    """Images inside a pack, read by offset with os.pread: no shared file position, so threads and
    forked loader workers read at once; each process opens its own descriptor."""

    def __init__(self, path: Path, index: dict[str, tuple[int, int]]) -> None:
        self.path, self.index = Path(path), index
        self._fd, self._pid = -1, -1

    def read(self, ref: str) -> bytes:
        if self._pid != os.getpid():
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
        offset, size = self.index[ref]
        return os.pread(self._fd, size, offset)

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "index": self.index, "_fd": -1, "_pid": -1}


def read_pack(path: Path, split: str | None = None) -> list[Sample]:
    """The samples of a pack; `split` overrides the stored split of every row."""
    try:
        with tarfile.open(path, "r:") as tar:
            blob = tar.getmember(PACK_IMAGES)
            handle = tar.extractfile(PACK_INDEX)
            if handle is None:
                raise KeyError(PACK_INDEX)
            rows = list(csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8", newline="")))
    except (tarfile.TarError, KeyError, OSError) as error:
        raise DataError(f"{path}: not a training pack ({error})") from error
    try:
        index = {r["name"]: (blob.offset_data + int(r["offset"]), int(r["size"])) for r in rows}
    except (KeyError, ValueError) as error:
        raise DataError(f"{path}: damaged {PACK_INDEX} ({error})") from error
    store = TarStore(Path(path), index)
    samples = []
    for line, row in enumerate(rows, 2):
        if row["label"] not in LABELS or row["split"] not in EVAL_SPLITS:
            raise DataError(f"{path}:{PACK_INDEX}:{line}: bad label or split in {row}")
        text = row["text_bearing"] == "1"
        split_of = split or row["split"]
        samples.append(
            Sample(
                row["name"],
                store,
                row["label"],
                split_of,
                row["source"],
                row["kind"],
                text,
                row["origin"],
                row["group"],
            )
        )
    return samples


def pack_dataset(
    dataset: Path,
    out: Path,
    *,
    size: int = 128,
    quality: int = 80,
    image_format: str = "webp",
    max_mib: float = 60.0,
    workers: int = 2,
    progress: Callable[[str], None] | None = None,
) -> PackSummary:
    """Re-encode the dataset's labelled images into the tar `out` (see the module docstring)."""
    if image_format not in FORMATS:
        raise PackError(f"unknown image format {image_format!r}; use {', '.join(FORMATS)}")
    samples = load_samples([DataSpec(Path(dataset), None)])
    say = progress or (lambda _message: None)
    say(f"re-encoding {len(samples)} images as {image_format} quality {quality}, longest side <= {size}")
    with ThreadPoolExecutor(max(1, workers)) as pool:  # Pillow releases the GIL while coding images
        encoded = list(pool.map(lambda s: _encode(s, size, quality, image_format), samples))
    info = {"source": str(dataset), "size": size, "quality": quality, "format": image_format}
    info |= {"images": len(samples), "counts": split_counts(samples)}
    written = _write_tar(Path(out), samples, encoded, info, image_format, max_bytes=int(max_mib * MIB))
    say(f"wrote {out}: {len(samples)} images, {written / MIB:.1f} MiB")
    return PackSummary(Path(out), len(samples), written)


def _encode(sample: Sample, size: int, quality: int, image_format: str) -> bytes:
    img = decode_frames(sample.read(), DecodeLimits(max_frames=1))[0]
    if max(img.size) > size:
        scale = size / max(img.size)
        target = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        img = img.resize(target, Image.Resampling.BILINEAR, reducing_gap=3.0)  # as classifier.preprocess
    buffer = io.BytesIO()
    img.save(buffer, FORMATS[image_format][0], quality=quality)
    return buffer.getvalue()


def _index_csv(samples: list[Sample], encoded: list[bytes], image_format: str) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(FIELDS)
    offset = 0
    for i, (s, data) in enumerate(zip(samples, encoded, strict=True)):
        name = f"{s.split}/{s.label}/{i:06d}{FORMATS[image_format][1]}"
        row = (
            name,
            offset,
            len(data),
            s.label,
            s.split,
            s.group,
            s.source,
            s.kind,
            int(s.text_bearing),
            s.origin,
        )
        writer.writerow(row)
        offset += len(data)
    return text.getvalue().encode("utf-8")


def _write_tar(
    out: Path,
    samples: list[Sample],
    encoded: list[bytes],
    info: dict[str, Any],
    image_format: str,
    *,
    max_bytes: int,
) -> int:
    """Write the pack next to `out` and move it into place if it is within `max_bytes`; its size."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            _add(tar, PACK_INFO, json.dumps(info, indent=2, sort_keys=True).encode("utf-8"))
            _add(tar, PACK_INDEX, _index_csv(samples, encoded, image_format))
            _add(tar, PACK_IMAGES, b"".join(encoded))
        written = partial.stat().st_size
        if written > max_bytes:
            raise PackError(
                f"the pack would take {written / MIB:.1f} MiB, over the {max_bytes / MIB:g} MiB limit: "
                "lower --quality or --size, or raise --max-mib"
            )
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return written


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size, member.mode, member.mtime = len(data), 0o644, 0  # mtime 0: the same data, the same tar
    tar.addfile(member, io.BytesIO(data))
