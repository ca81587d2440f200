"""Platform-neutral events; each carries its way back to the chat (ChatContext)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ImageRef:
    """An image in a chat message; `fetch()` downloads it lazily, capped by the adapter."""

    name: str
    fetch: Callable[[], Awaitable[bytes]]
    size: int | None = None  # declared by the platform, so oversize files are refused unfetched
    mime_type: str | None = None
    message_id: str | None = None  # the message carrying it, when not the event's (albums)
    note: str | None = None  # e.g. "judged on the sticker's thumbnail"


@dataclass(frozen=True)
class Sender:
    user_id: str
    display_name: str


@dataclass(frozen=True)
class Button:
    label: str
    payload: str  # Telegram callback_data / Discord custom_id; at most 64 bytes


@dataclass(frozen=True)
class SentMessage:
    message_id: str


class ChatContext(Protocol):
    """The way back to one chat (opsdroid's `event.respond`), handed over with every event."""

    @property
    def platform(self) -> str: ...

    @property
    def chat_id(self) -> str: ...

    async def send(
        self,
        text: str,
        *,
        reply_to: str | None = None,
        buttons: Sequence[Button] = (),
        private: bool = False,
    ) -> SentMessage:
        """Post a message; `private` asks for an only-you answer where the platform has one."""
        ...

    async def send_file(
        self, *, filename: str, data: bytes, caption: str = "", reply_to: str | None = None
    ) -> SentMessage:
        """Send a document (e.g. an export zip)."""
        ...

    async def send_image(
        self,
        *,
        filename: str,
        data: bytes,
        caption: str = "",
        reply_to: str | None = None,
        buttons: Sequence[Button] = (),
    ) -> SentMessage:
        """Send a picture shown inline that users can save (PNG or JPEG bytes), unlike send_file."""
        ...

    async def delete(self, message_id: str) -> None:
        """Delete a message; raises PermissionMissing or MessageGone."""
        ...

    async def is_moderator(self, user_id: str) -> bool: ...

    async def tell_user(self, user_id: str, text: str) -> bool:
        """A private message to one person (a DM); False where the platform or the person refuses it."""
        ...

    async def open_chat(self, chat_id: str) -> ChatContext:
        """The way to another chat of the same platform (a review chat, or the chat a review item is
        from); raises ChatUnavailable when the bot cannot reach it."""
        ...


@dataclass(frozen=True)
class RepliedMessage:
    """The message a command replied to (or targeted, e.g. a Discord context menu)."""

    message_id: str
    images: tuple[ImageRef, ...] = ()


@dataclass(frozen=True)
class ImagePosted:
    ctx: ChatContext
    sender: Sender
    message_id: str
    images: tuple[ImageRef, ...]
    edited: bool = False


@dataclass(frozen=True)
class CommandIssued:
    ctx: ChatContext
    sender: Sender
    name: str  # lower case, without the slash or an @botname suffix
    args: tuple[str, ...] = ()
    message_id: str | None = None
    reply_to: RepliedMessage | None = None


async def _no_answer(text: str) -> None:
    return None


@dataclass(frozen=True)
class ButtonPressed:
    ctx: ChatContext
    sender: Sender
    payload: str
    message_id: str | None = None  # the message that carries the button
    answer: Callable[[str], Awaitable[None]] = field(default=_no_answer)  # a toast / ephemeral ack


Event = ImagePosted | CommandIssued | ButtonPressed
