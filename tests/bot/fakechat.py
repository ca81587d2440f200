"""A fake adapter for the core: push events in, pop what the bot said (errbot's testbot style)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.core import BotCore
from bot.errors import ChatUnavailable, MessageGone, PermissionMissing
from bot.events import (
    Button,
    ButtonPressed,
    CommandIssued,
    ImagePosted,
    ImageRef,
    RepliedMessage,
    Sender,
    SentMessage,
)


@dataclass
class Said:
    message_id: str
    text: str
    reply_to: str | None = None
    buttons: list[Button] = field(default_factory=list)
    private: bool = False
    file: tuple[str, bytes] | None = None
    image: tuple[str, bytes] | None = None  # sent with send_image: (filename, PNG/JPEG bytes)


class FakeChat:
    """One chat: records what the bot sends and deletes; knows who moderates it."""

    def __init__(
        self,
        *,
        platform: str = "test",
        chat_id: str = "chat-1",
        can_delete: bool = True,
        directory: dict[str, FakeChat] | None = None,
    ) -> None:
        self.platform = platform
        self.chat_id = chat_id
        self.can_delete = can_delete
        self.moderators: set[str] = {"mod"}
        self.said: list[Said] = []
        self.deleted: list[str] = []
        self.live: set[str] = set()
        self.told: list[tuple[str, str]] = []  # private messages: (user id, text)
        self.closed_dms: set[str] = set()  # people who take no private messages
        # The other chats of the platform this one can reach (open_chat), itself included.
        self.directory = directory if directory is not None else {}
        self.directory[chat_id] = self
        self._ids = itertools.count(1000 + 1000 * len(self.directory))

    def new_id(self) -> str:
        message_id = str(next(self._ids))
        self.live.add(message_id)
        return message_id

    async def send(
        self, text: str, *, reply_to: str | None = None, buttons: Sequence[Button] = (), private: bool = False
    ) -> SentMessage:
        said = Said(self.new_id(), text, reply_to, list(buttons), private)
        self.said.append(said)
        return SentMessage(said.message_id)

    async def send_file(
        self, *, filename: str, data: bytes, caption: str = "", reply_to: str | None = None
    ) -> SentMessage:
        said = Said(self.new_id(), caption, reply_to, file=(filename, data))
        self.said.append(said)
        return SentMessage(said.message_id)

    async def send_image(
        self,
        *,
        filename: str,
        data: bytes,
        caption: str = "",
        reply_to: str | None = None,
        buttons: Sequence[Button] = (),
    ) -> SentMessage:
        said = Said(self.new_id(), caption, reply_to, list(buttons), image=(filename, data))
        self.said.append(said)
        return SentMessage(said.message_id)

    async def delete(self, message_id: str) -> None:
        if not self.can_delete:
            raise PermissionMissing("I need the right to delete messages here.")
        if message_id not in self.live:
            raise MessageGone(message_id)
        self.live.discard(message_id)
        self.deleted.append(message_id)

    async def is_moderator(self, user_id: str) -> bool:
        return user_id in self.moderators

    async def tell_user(self, user_id: str, text: str) -> bool:
        if user_id in self.closed_dms:
            return False
        self.told.append((user_id, text))
        return True

    async def open_chat(self, chat_id: str) -> FakeChat:
        if chat_id not in self.directory:
            raise ChatUnavailable(f"no chat {chat_id}")
        return self.directory[chat_id]

    def sibling(self, chat_id: str) -> FakeChat:
        """Another chat of the same platform, reachable from this one (a review chat)."""
        return FakeChat(platform=self.platform, chat_id=chat_id, directory=self.directory)

    def pop(self) -> Said:
        assert self.said, "the bot said nothing"
        return self.said.pop(0)

    def texts(self) -> list[str]:
        return [s.text for s in self.said]


def image_ref(data: bytes, name: str = "image.jpg", **kwargs: object) -> ImageRef:
    async def fetch() -> bytes:
        return data

    return ImageRef(name=name, fetch=fetch, size=kwargs.pop("size", len(data)), **kwargs)  # type: ignore[arg-type]


class Harness:
    """Drives a BotCore the way an adapter would."""

    def __init__(self, core: BotCore, chat: FakeChat) -> None:
        self.core = core
        self.chat = chat
        self.answers: list[str] = []

    def user(self, name: str) -> Sender:
        return Sender(user_id=name, display_name=name.title())

    async def post(self, *images: bytes, user: str = "alice", edited: bool = False) -> str:
        message_id = self.chat.new_id()
        refs = tuple(image_ref(data, f"img{i}.jpg") for i, data in enumerate(images))
        await self.core.handle(ImagePosted(self.chat, self.user(user), message_id, refs, edited))
        return message_id

    async def post_refs(self, *refs: ImageRef, user: str = "alice") -> str:
        message_id = self.chat.new_id()
        await self.core.handle(ImagePosted(self.chat, self.user(user), message_id, refs))
        return message_id

    async def command(
        self,
        text: str,
        *,
        user: str = "alice",
        reply_to: str | None = None,
        images: Sequence[bytes] = (),
        chat: FakeChat | None = None,
    ) -> None:
        name, *args = text.lstrip("/").split()
        replied = None
        if reply_to is not None:
            replied = RepliedMessage(reply_to, tuple(image_ref(d) for d in images))
        where = chat or self.chat
        message_id = where.new_id()
        await self.core.handle(CommandIssued(where, self.user(user), name, tuple(args), message_id, replied))

    async def press(
        self,
        button: Button,
        *,
        user: str = "alice",
        chat: FakeChat | None = None,
        message_id: str | None = None,
    ) -> str:
        async def answer(text: str) -> None:
            self.answers.append(text)

        where = chat or self.chat
        await self.core.handle(ButtonPressed(where, self.user(user), button.payload, message_id, answer))
        return self.answers[-1]

    async def settle(self) -> None:
        await asyncio.sleep(0)
