"""Files the fake Bot API can serve, and the Telegram objects (PhotoSize, Document ...) for them."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass

from PIL import Image

from .records import JsonDict

# getFile refuses files above this size, like the real Bot API does.
DOWNLOAD_LIMIT = 20 * 1024 * 1024
# Telegram keeps a photo in several sizes: small thumbnails plus the full picture.
THUMBNAIL_SIDES = (90, 320, 800)
FALLBACK_SIDE = 512


@dataclass(frozen=True)
class StoredFile:
    """Bytes behind a file_id; `file_size` may claim more than `data` holds (20 MB tests)."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    file_size: int

    def ids(self) -> JsonDict:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id, "file_size": self.file_size}


class FileStore:
    """Every file known to the fake, by file_id and by download path."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}

    def add(self, data: bytes, folder: str, suffix: str, *, file_size: int | None = None) -> StoredFile:
        n = next(self._counter)
        stored = StoredFile(
            file_id=f"FAKE-{folder}-{n:06d}",
            file_unique_id=f"AQAD{n:06d}",
            file_path=f"{folder}/file_{n}{suffix}",
            data=data,
            file_size=len(data) if file_size is None else file_size,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def by_id(self, file_id: str) -> StoredFile | None:
        return self._by_id.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        return self._by_path.get(file_path)

    # -- Telegram objects -------------------------------------------------------------------

    def photo_sizes(self, image: bytes, *, oversize: bool = False) -> list[JsonDict]:
        """PhotoSize list, smallest first; the last entry is the original bytes."""
        picture = _open(image)
        if picture is None:  # not decodable: still a photo message, so the bot's decoder is tested
            return [self._photo_size(self.add(image, "photos", ".jpg"), FALLBACK_SIDE, FALLBACK_SIDE)]
        width, height = picture.size
        sizes = []
        for side in THUMBNAIL_SIDES:
            if max(width, height) > side:
                small = picture.convert("RGB")
                small.thumbnail((side, side))
                stored = self.add(_jpeg(small), "photos", ".jpg")
                sizes.append(self._photo_size(stored, *small.size))
        original = self.add(image, "photos", _suffix(picture), file_size=_claimed(image, oversize))
        sizes.append(self._photo_size(original, width, height))
        return sizes

    def thumbnail(self, image: bytes) -> JsonDict:
        width, height = _dimensions(image)
        return self._photo_size(self.add(image, "thumbnails", ".jpg"), width, height)

    def document(self, data: bytes, file_name: str, mime_type: str, *, oversize: bool = False) -> JsonDict:
        stored = self.add(data, "documents", _extension(file_name), file_size=_claimed(data, oversize))
        return {**stored.ids(), "file_name": file_name, "mime_type": mime_type}

    def sticker(self, data: bytes, *, is_animated: bool, is_video: bool, thumbnail: bytes | None) -> JsonDict:
        suffix = ".tgs" if is_animated else ".webm" if is_video else ".webp"
        width, height = _dimensions(data)
        sticker: JsonDict = {
            **self.add(data, "stickers", suffix).ids(),
            "type": "regular",
            "width": width,
            "height": height,
            "is_animated": is_animated,
            "is_video": is_video,
            "emoji": "😀",
        }
        if thumbnail is not None:
            sticker["thumbnail"] = self.thumbnail(thumbnail)
        return sticker

    def animation(self, data: bytes, file_name: str, mime_type: str, thumbnail: bytes | None) -> JsonDict:
        width, height = _dimensions(thumbnail if thumbnail is not None and _open(data) is None else data)
        animation: JsonDict = {
            **self.add(data, "animations", _extension(file_name)).ids(),
            "width": width,
            "height": height,
            "duration": 1,
            "file_name": file_name,
            "mime_type": mime_type,
        }
        if thumbnail is not None:
            animation["thumbnail"] = self.thumbnail(thumbnail)
        return animation

    @staticmethod
    def _photo_size(stored: StoredFile, width: int, height: int) -> JsonDict:
        return {**stored.ids(), "width": width, "height": height}


def _open(data: bytes) -> Image.Image | None:
    try:
        picture = Image.open(io.BytesIO(data))
        picture.load()
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return picture


def _dimensions(data: bytes) -> tuple[int, int]:
    picture = _open(data)
    return picture.size if picture is not None else (FALLBACK_SIDE, FALLBACK_SIDE)


def _jpeg(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _suffix(picture: Image.Image) -> str:
    return "." + (picture.format or "jpg").lower().replace("jpeg", "jpg")


def _extension(file_name: str) -> str:
    _, dot, extension = file_name.rpartition(".")
    return f".{extension}" if dot else ""


def _claimed(data: bytes, oversize: bool) -> int:
    return DOWNLOAD_LIMIT + 1 if oversize else len(data)
