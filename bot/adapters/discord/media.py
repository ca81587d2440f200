"""Images in a Discord message (attachments, link embeds such as Tenor/Giphy GIFs, stickers, and
those of a message it forwards) as ImageRefs."""

from __future__ import annotations

import posixpath
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import discord

from bot import replies
from bot.errors import UserError
from bot.events import ImageRef

MB = 1024 * 1024
# For attachments whose content type Discord left out.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tiff", ".heic", ".heif", ".avif")
# Link previews that show one picture; "gifv" is a Tenor/Giphy GIF (an mp4 plus a still thumbnail).
EMBED_KINDS = ("image", "gifv")
# Lottie stickers are vector animations (JSON): no pixels to judge, so they are left alone.
STICKER_SUFFIXES = {
    discord.StickerFormatType.png: "png",
    discord.StickerFormatType.apng: "png",
    discord.StickerFormatType.gif: "gif",
}
GONE = "That image is gone: its message was deleted before I could read it."


@dataclass(frozen=True)
class FoundImage:
    """An image and a key that stays the same across edits, to tell new images from old ones."""

    key: str
    ref: ImageRef


class MediaReader:
    """Turns a message's images into ImageRefs whose downloads stop at `max_bytes`."""

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def images_in(self, message: discord.Message) -> list[FoundImage]:
        """The message's own images, then those of the messages it forwards (its snapshots)."""
        found: list[FoundImage] = []
        parts: list[discord.Message | discord.MessageSnapshot] = [message, *message.message_snapshots]
        for part in parts:
            found += [self._attachment(a) for a in part.attachments if _is_image(a)]
            found += [f for f in map(self._embed, part.embeds) if f is not None]
            found += [f for f in map(self._sticker, part.stickers) if f is not None]
        return found

    def attachment_ref(self, attachment: discord.Attachment) -> ImageRef:
        return self._attachment(attachment).ref

    def _attachment(self, attachment: discord.Attachment) -> FoundImage:
        async def fetch() -> bytes:
            # The core already refused files over the classifier's limit; this is max_file_mb.
            if attachment.size > self.max_bytes:
                raise UserError(_too_large(attachment.size, self.max_bytes))
            try:
                return await attachment.read()
            except discord.NotFound:
                raise UserError(GONE) from None
            except discord.HTTPException as exc:
                raise UserError(f"I couldn't download that image (Discord answered {exc.status}).") from None
            except (aiohttp.ClientError, TimeoutError, OSError):  # reset, timed out, unreachable
                raise UserError(replies.DOWNLOAD_FAILED) from None

        ref = ImageRef(
            name=attachment.filename, fetch=fetch, size=attachment.size, mime_type=attachment.content_type
        )
        return FoundImage(f"attachment:{attachment.id}", ref)

    def _embed(self, embed: discord.Embed) -> FoundImage | None:
        if embed.type not in EMBED_KINDS:
            return None
        media = embed.thumbnail if embed.thumbnail.url else embed.image
        # Discord's media proxy first: the original URL is whatever a user linked, possibly internal.
        url = media.proxy_url or media.url
        if not url or urlsplit(url).scheme not in ("http", "https"):
            return None
        note = None
        if embed.type == "gifv":
            provider = embed.provider.name or "linked"
            note = f"judged on the {provider} GIF's preview frame"
        ref = ImageRef(name=_basename(url, "linked-image"), fetch=self._downloader(url), note=note)
        return FoundImage(f"embed:{embed.url or url}", ref)

    def _sticker(self, sticker: discord.StickerItem) -> FoundImage | None:
        suffix = STICKER_SUFFIXES.get(sticker.format)
        if suffix is None:
            return None
        ref = ImageRef(name=f"{sticker.name}.{suffix}", fetch=self._downloader(sticker.url), note="sticker")
        return FoundImage(f"sticker:{sticker.id}", ref)

    def _downloader(self, url: str) -> Callable[[], Awaitable[bytes]]:
        async def fetch() -> bytes:
            return await self.download(url)

        return fetch

    async def download(self, url: str) -> bytes:
        """GET `url`, refusing (without reading on) anything past `max_bytes`."""
        if self._session is None:
            raise RuntimeError("MediaReader.open() was not called")
        try:
            async with self._session.get(url) as response:
                if response.status in (403, 404, 410):
                    raise UserError("That image is no longer available.")
                if response.status != 200:
                    raise UserError(
                        f"I couldn't download that image (the server answered {response.status})."
                    )
                declared = response.content_length
                if declared is not None and declared > self.max_bytes:
                    raise UserError(_too_large(declared, self.max_bytes))
                data = bytearray()
                async for chunk in response.content.iter_chunked(256 * 1024):
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise UserError(
                            f"That file is too large to check (the limit is {_mb(self.max_bytes)})."
                        )
                return bytes(data)
        except (aiohttp.ClientError, TimeoutError, OSError):
            raise UserError(replies.DOWNLOAD_FAILED) from None


class SeenImages:
    """Which images each recent message had, so an edit is judged only on what it added."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._keys: OrderedDict[int, frozenset[str]] = OrderedDict()

    def get(self, message_id: int) -> frozenset[str] | None:
        return self._keys.get(message_id)

    def remember(self, message_id: int, keys: frozenset[str]) -> None:
        self._keys[message_id] = keys
        self._keys.move_to_end(message_id)
        while len(self._keys) > self._capacity:
            self._keys.popitem(last=False)


def _is_image(attachment: discord.Attachment) -> bool:
    content_type = (attachment.content_type or "").split(";")[0].strip().lower()
    if content_type:
        return content_type.startswith("image/") and content_type != "image/svg+xml"
    return attachment.filename.lower().endswith(IMAGE_SUFFIXES)


def _basename(url: str, default: str) -> str:
    return posixpath.basename(urlsplit(url).path) or default


def _too_large(size: int, limit: int) -> str:
    return f"That file is too large to check ({_mb(size)}; the limit is {_mb(limit)})."


def _mb(size: int) -> str:
    return f"{size / MB:.1f} MB"
