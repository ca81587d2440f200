"""The images in a Telegram message, as ImageRefs that download through getFile when fetched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telegram import Animation, Bot, Document, Message, PhotoSize, Sticker
from telegram.error import BadRequest, NetworkError

from bot.adapters.telegram.calls import call_api
from bot.errors import UserError
from bot.events import ImageRef

GETFILE_LIMIT = 20 * 1024 * 1024  # the Bot API refuses getFile on anything larger
DOWNLOAD_TIMEOUT_S = 60.0
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif")
TOO_BIG = "That file is over the 20 MB that Telegram lets bots download, so I can't check it."
UNREACHABLE = "I couldn't download that file from Telegram just now. Please try again."


@dataclass(frozen=True)
class FoundImage:
    """One picture in a message: which Telegram file to judge, and what to tell the user about it."""

    file_id: str
    unique_id: str  # stable across bots and edits: tells a re-sent picture from a caption edit
    name: str
    size: int | None
    mime_type: str | None = None
    note: str | None = None


def find_images(message: Message, *, max_bytes: int) -> list[FoundImage]:
    """Photos, image documents, stickers and GIFs; other media (videos, voice) are not images."""
    if message.photo:
        return [_photo(message.photo, min(max_bytes, GETFILE_LIMIT))]
    if message.sticker:
        return _sticker(message.sticker)
    if message.animation:  # checked before document: Telegram sends a GIF as both
        return _animation(message.animation)
    if message.document and _is_image(message.document):
        return [_document(message.document)]
    return []


def _photo(sizes: Sequence[PhotoSize], limit: int) -> FoundImage:
    """The largest size we may download; when even the smallest is too big, that one (refused)."""
    fitting = [s for s in sizes if (s.file_size or 0) <= limit]
    best = max(fitting, key=_area) if fitting else min(sizes, key=_area)
    return FoundImage(best.file_id, best.file_unique_id, f"photo_{best.file_unique_id}.jpg", best.file_size)


def _sticker(sticker: Sticker) -> list[FoundImage]:
    if not (sticker.is_animated or sticker.is_video):
        name = f"sticker_{sticker.file_unique_id}.webp"
        return [FoundImage(sticker.file_id, sticker.file_unique_id, name, sticker.file_size, "image/webp")]
    thumb = sticker.thumbnail  # .tgs (Lottie) and .webm cannot be decoded here; the thumbnail can
    if thumb is None:
        return []
    kind = "animated sticker" if sticker.is_animated else "video sticker"
    return [_thumbnail(thumb, f"judged on the {kind}'s thumbnail")]


def _animation(animation: Animation) -> list[FoundImage]:
    if animation.mime_type == "image/gif":  # a real GIF: the classifier samples its frames
        name = animation.file_name or f"animation_{animation.file_unique_id}.gif"
        size = animation.file_size
        return [FoundImage(animation.file_id, animation.file_unique_id, name, size, "image/gif")]
    if animation.thumbnail is None:  # Telegram turns GIFs into MP4 videos, which we cannot decode
        return []
    return [_thumbnail(animation.thumbnail, "judged on the GIF's thumbnail")]


def _document(document: Document) -> FoundImage:
    name = document.file_name or f"document_{document.file_unique_id}"
    return FoundImage(document.file_id, document.file_unique_id, name, document.file_size, document.mime_type)


def _thumbnail(thumb: PhotoSize, note: str) -> FoundImage:
    name = f"thumbnail_{thumb.file_unique_id}.jpg"
    return FoundImage(thumb.file_id, thumb.file_unique_id, name, thumb.file_size, "image/jpeg", note)


def _is_image(document: Document) -> bool:
    if document.mime_type:
        return document.mime_type.startswith("image/")
    return (document.file_name or "").lower().endswith(IMAGE_SUFFIXES)


def _area(size: PhotoSize) -> int:
    return size.width * size.height


class Downloader:
    """Turns found images into ImageRefs whose fetch() asks getFile, then downloads the bytes."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    def ref(self, image: FoundImage, message_id: int) -> ImageRef:
        async def fetch() -> bytes:
            return await self._download(image)

        return ImageRef(
            name=image.name,
            fetch=fetch,
            size=image.size,
            mime_type=image.mime_type,
            message_id=str(message_id),
            note=image.note,
        )

    async def _download(self, image: FoundImage) -> bytes:
        if image.size is not None and image.size > GETFILE_LIMIT:
            raise UserError(TOO_BIG)
        try:
            file = await call_api(lambda: self._bot.get_file(image.file_id), what="getFile")
            data = await call_api(
                lambda: file.download_as_bytearray(read_timeout=DOWNLOAD_TIMEOUT_S), what="file download"
            )
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise UserError(TOO_BIG) from None
            raise UserError(f"Telegram would not give me that file ({exc.message}).") from None
        except NetworkError:
            raise UserError(UNREACHABLE) from None
        return bytes(data)
