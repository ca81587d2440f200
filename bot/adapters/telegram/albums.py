"""Albums: Telegram sends one message per picture, sharing a media_group_id; we answer once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telegram import Message

from bot.adapters.telegram.media import FoundImage

Part = tuple[Message, list[FoundImage]]
Dispatch = Callable[[list[Part]], Awaitable[None]]


@dataclass
class _Album:
    parts: list[Part] = field(default_factory=list)


class AlbumCollector:
    """Gathers an album's messages for `window_s` after its first, then dispatches them together.

    Updates are handled concurrently, so the task of the album's first message waits out the
    window while the tasks of the later messages just add theirs and return. Telegram sends an
    album's messages within moments of each other; one arriving later gets a reply of its own.
    """

    def __init__(self, window_s: float, dispatch: Dispatch) -> None:
        self._window_s = window_s
        self._dispatch = dispatch
        self._open: dict[tuple[int, str], _Album] = {}

    async def add(self, message: Message, found: list[FoundImage]) -> None:
        assert message.media_group_id is not None
        key = (message.chat_id, message.media_group_id)
        album = self._open.get(key)
        if album is not None:
            album.parts.append((message, found))
            return
        album = self._open[key] = _Album([(message, found)])
        try:
            await asyncio.sleep(self._window_s)
        finally:
            del self._open[key]
        await self._dispatch(sorted(album.parts, key=lambda part: part[0].message_id))
