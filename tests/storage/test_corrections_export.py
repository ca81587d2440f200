"""The export zip round trip: images in label folders, labels.csv read back by read_export."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from storage import ExportFormatError, ExportRow, Repository, export_corrections, read_export
from storage.export import CSV_HEADER
from tests.storage.conftest import Classify, jpeg, sha

RED, BLUE, GREEN = (220, 20, 20), (20, 20, 220), (20, 200, 20)


@pytest.fixture
async def corrected(repo: Repository, classify: Classify) -> Repository:
    """Telegram chat -100: sha(1) meme (red), sha(2) not_meme (blue, a moderator's call), sha(4)
    voted but not stored. Discord chat 7: sha(3) not_meme (green). sha(5): classified, no votes."""
    images = {1: RED, 2: BLUE, 3: GREEN, 5: RED}
    for n, color in images.items():
        await repo.store_image(sha256=sha(n), data=jpeg(color), width=24, height=16, retention_days=30)
    votes = [
        ({"image_sha256": sha(1), "label": "not_meme"}, [("a", "meme", False), ("b", "meme", False)]),
        ({"image_sha256": sha(2)}, [("a", "meme", False), ("mod", "not_meme", True)]),
        ({"platform": "discord", "chat_id": "7", "image_sha256": sha(3)}, [("c", "not_meme", False)]),
        ({"image_sha256": sha(4)}, [("a", "not_meme", False)]),
    ]
    for where, users in votes:
        record = await classify(**where)
        for user, label, trusted in users:
            await repo.record_correction(
                classification_id=record.id, user_id=user, label=label, trusted=trusted
            )
    await classify(image_sha256=sha(5))
    return repo


async def test_export_round_trip(corrected: Repository, tmp_path: Path) -> None:
    out = tmp_path / "exports" / "corrections.zip"

    summary = await export_corrections(corrected, out)

    assert (summary.path, summary.images, summary.meme, summary.not_meme) == (out, 3, 1, 2)
    assert summary.skipped_missing_image == 1
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == sorted(
            [
                "README.txt",
                "labels.csv",
                f"meme/{sha(1)}.jpg",
                f"not_meme/{sha(2)}.jpg",
                f"not_meme/{sha(3)}.jpg",
            ]
        )
        header = archive.read("labels.csv").decode().splitlines()[0]
        colors = {
            name: Image.open(io.BytesIO(archive.read(name))).convert("RGB").getpixel((12, 8))
            for name in archive.namelist()
            if name.endswith(".jpg")
        }
        assert "labels.csv" in archive.read("README.txt").decode()
    assert header == (
        "sha256,label,meme_votes,not_meme_votes,trusted_votes,platform,first_seen,last_seen,model_label,file"
    )
    assert _close(colors[f"meme/{sha(1)}.jpg"], RED)
    assert _close(colors[f"not_meme/{sha(2)}.jpg"], BLUE)
    assert _close(colors[f"not_meme/{sha(3)}.jpg"], GREEN)
    assert files_in(out.parent) == ["corrections.zip"]  # no partial file left


async def test_read_export_gives_back_the_labelled_images(corrected: Repository, tmp_path: Path) -> None:
    summary = await export_corrections(corrected, tmp_path / "all.zip")
    labelled = {image.sha256: image for image in await corrected.labelled_images()}

    rows = read_export(summary.path)

    assert [row.sha256 for row in rows] == [sha(1), sha(2), sha(3)]
    for row in rows:
        image = labelled[row.sha256]
        assert row == ExportRow(
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
    assert (rows[0].model_label, rows[1].trusted_votes, rows[2].platform) == ("not_meme", 1, "discord")
    assert rows[0].first_seen.tzinfo is not None


async def test_export_of_one_chat(corrected: Repository, tmp_path: Path) -> None:
    discord = await export_corrections(corrected, tmp_path / "discord.zip", platform="discord", chat_id="7")
    telegram = await export_corrections(corrected, tmp_path / "telegram.zip", platform="telegram")

    assert [row.sha256 for row in read_export(discord.path)] == [sha(3)]
    assert [row.sha256 for row in read_export(telegram.path)] == [sha(1), sha(2)]
    assert telegram.skipped_missing_image == 1


async def test_a_failed_export_leaves_the_old_file_and_no_partial(
    corrected: Repository, tmp_path: Path
) -> None:
    out = tmp_path / "corrections.zip"
    out.write_bytes(b"previous export")

    with pytest.raises(ValueError, match="platform"):
        await export_corrections(corrected, out, chat_id="7")

    assert out.read_bytes() == b"previous export"
    assert [name for name in files_in(tmp_path) if name.endswith(".partial")] == []


async def test_an_empty_export_is_still_a_valid_export(repo: Repository, tmp_path: Path) -> None:
    summary = await export_corrections(repo, tmp_path / "empty.zip")

    assert (summary.images, summary.skipped_missing_image) == (0, 0)
    assert read_export(summary.path) == []


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def labels_csv(*rows: tuple[str, ...], header: tuple[str, ...] = CSV_HEADER) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows([header, *rows])
    return text.getvalue().encode()


GOOD_ROW = (
    "a" * 64,
    "meme",
    "1",
    "0",
    "0",
    "telegram",
    "2024-01-01T00:00:00+00:00",
    "2024-01-02T00:00:00+00:00",
    "meme",
    f"meme/{'a' * 64}.jpg",
)


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"README.txt": b"hi"}, "not a memebot export"),
        ({"labels.csv": labels_csv(header=("sha256", "label"))}, "header"),
        ({"labels.csv": labels_csv(GOOD_ROW)}, "not in the zip"),
        ({"labels.csv": labels_csv(GOOD_ROW[:5]), f"meme/{'a' * 64}.jpg": b""}, "columns"),
        ({"labels.csv": labels_csv(("x", "cat", *GOOD_ROW[2:])), f"meme/{'a' * 64}.jpg": b""}, "label"),
        (
            {"labels.csv": labels_csv((*GOOD_ROW[:2], "many", *GOOD_ROW[3:])), f"meme/{'a' * 64}.jpg": b""},
            "many",
        ),
    ],
)
def test_read_export_refuses_what_is_not_an_export(
    tmp_path: Path, files: dict[str, bytes], problem: str
) -> None:
    path = write_zip(tmp_path / "bad.zip", files)
    with pytest.raises(ExportFormatError, match=problem):
        read_export(path)


def test_read_export_refuses_a_file_that_is_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_bytes(labels_csv(GOOD_ROW))
    with pytest.raises(ExportFormatError, match="not a memebot export"):
        read_export(path)


def _close(pixel: object, color: tuple[int, int, int]) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(a - b) < 40 for a, b in zip(pixel, color, strict=True))
