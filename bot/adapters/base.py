"""The adapter contract: start, stop; events go to the core's `handle`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.events import Event

EventHandler = Callable[[Event], Awaitable[None]]


class ChatAdapter(Protocol):
    """A chat platform. `start` connects and begins delivering events to the handler it was
    built with; it returns once running. `stop` disconnects and waits for in-flight work."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def wait_closed(self) -> None:
        """Return when the adapter ends on its own (console EOF, fatal auth error)."""
        ...
