"""The corrections export: a zip of meme/ and not_meme/ images plus labels.csv, and its reader."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from storage.records import LABELS, LabelledImage
from storage.repository import Repository

LABELS_FILE = "labels.csv"
README_FILE = "README.txt"
CSV_HEADER = (
    "sha256",
    "label",
    "meme_votes",
    "not_meme_votes",
    "trusted_votes",
    "platform",
    "first_seen",
    "last_seen",
    "model_label",
    "file",
)
README = """\
memebot corrections export

meme/<sha256>.jpg      images people labelled as memes
not_meme/<sha256>.jpg  images people labelled as not memes
labels.csv             one row per image, columns:
  sha256          SHA-256 of the original upload (hex)
  label           meme | not_meme, decided by the votes: moderators' (trusted) votes outvote
                  everyone else's; otherwise the majority; a tie goes to the most recent vote
  meme_votes, not_meme_votes, trusted_votes   vote counts (one vote per user per image)
  platform        platforms the votes came from, ';'-separated
  first_seen, last_seen                       ISO-8601 UTC times the bot saw the image
  model_label     what the model said the last time it saw the image
  file            path of the image inside this zip

Images are the downscaled JPEG copies the bot kept, not the original uploads.
`memebot train` reads this zip as it is.
"""


class ExportFormatError(ValueError):
    """The file is not a memebot corrections export (or a damaged one)."""


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    images: int
    meme: int
    not_meme: int
    skipped_missing_image: int  # labelled images whose bytes were not stored


@dataclass(frozen=True)
class ExportRow:
    """One line of labels.csv."""

    sha256: str
    label: str
    meme_votes: int
    not_meme_votes: int
    trusted_votes: int
    platform: str
    first_seen: datetime
    last_seen: datetime
    model_label: str
    file: str


async def export_corrections(
    repo: Repository, out: Path, *, platform: str | None = None, chat_id: str | None = None
) -> ExportSummary:
    """Writes the labelled images (optionally of one platform or chat) to the zip `out`."""
    out = Path(out)
    partial = _partial_file_next_to(out)
    try:
        rows, skipped = await _write_zip(repo, partial, platform=platform, chat_id=chat_id)
        os.replace(partial, out)
    except BaseException:
        _discard(partial)
        raise
    return ExportSummary(
        path=out,
        images=len(rows),
        meme=sum(row.label == "meme" for row in rows),
        not_meme=sum(row.label == "not_meme" for row in rows),
        skipped_missing_image=skipped,
    )


def _partial_file_next_to(out: Path) -> Path:
    # Written next to `out` (same filesystem) and renamed into place: `out` is never a half zip.
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    os.close(fd)
    return Path(name)


def _discard(path: Path) -> None:
    path.unlink(missing_ok=True)


async def _write_zip(
    repo: Repository, path: Path, *, platform: str | None, chat_id: str | None
) -> tuple[list[ExportRow], int]:
    rows: list[ExportRow] = []
    skipped = 0
    with zipfile.ZipFile(path, "w") as archive:
        async for image in repo.iter_labelled_images(platform=platform, chat_id=chat_id):
            if image.data is None:
                skipped += 1
                continue
            row = _export_row(image)
            # JPEGs do not compress further; stored, and written off the event loop.
            await asyncio.to_thread(archive.writestr, row.file, image.data, zipfile.ZIP_STORED)
            rows.append(row)
        archive.writestr(LABELS_FILE, _labels_csv(rows), zipfile.ZIP_DEFLATED)
        archive.writestr(README_FILE, README, zipfile.ZIP_DEFLATED)
    return rows, skipped


def _export_row(image: LabelledImage) -> ExportRow:
    return ExportRow(
        sha256=image.sha256,
        label=image.label,
        meme_votes=image.meme_votes,
        not_meme_votes=image.not_meme_votes,
        trusted_votes=image.trusted_votes,
        platform=image.platforms,
        first_seen=image.first_seen,
        last_seen=image.last_seen,
        model_label=image.model_label,
        file=f"{image.label}/{image.sha256}.jpg",
    )


def _labels_csv(rows: Sequence[ExportRow]) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        times = (row.first_seen.isoformat(), row.last_seen.isoformat())
        counts = (row.meme_votes, row.not_meme_votes, row.trusted_votes)
        writer.writerow((row.sha256, row.label, *counts, row.platform, *times, row.model_label, row.file))
    return text.getvalue()


def read_export(path: Path) -> list[ExportRow]:
    """The rows of an export's labels.csv, checked against the format and the zip's contents."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            with archive.open(LABELS_FILE) as raw:
                reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
                header = tuple(next(reader, ()))
                if header != CSV_HEADER:
                    raise ExportFormatError(f"{path}: labels.csv header is {header}, expected {CSV_HEADER}")
                return [
                    _parse_row(values, names, f"{path}:labels.csv:{line}")
                    for line, values in enumerate(reader, 2)
                ]
    except (zipfile.BadZipFile, KeyError) as error:
        raise ExportFormatError(f"{path}: not a memebot export ({error})") from error


def _parse_row(values: Sequence[str], names: set[str], where: str) -> ExportRow:
    if len(values) != len(CSV_HEADER):
        raise ExportFormatError(f"{where}: {len(values)} columns, expected {len(CSV_HEADER)}")
    sha256, label, memes, not_memes, trusted, platform, first_seen, last_seen, model_label, file = values
    if label not in LABELS:
        raise ExportFormatError(f"{where}: unknown label {label!r}")
    if file not in names:
        raise ExportFormatError(f"{where}: {file!r} is not in the zip")
    try:
        return ExportRow(
            sha256=sha256,
            label=label,
            meme_votes=int(memes),
            not_meme_votes=int(not_memes),
            trusted_votes=int(trusted),
            platform=platform,
            first_seen=datetime.fromisoformat(first_seen),
            last_seen=datetime.fromisoformat(last_seen),
            model_label=model_label,
            file=file,
        )
    except ValueError as error:
        raise ExportFormatError(f"{where}: {error}") from error
