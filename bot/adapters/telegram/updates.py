"""Telegram updates -> platform-neutral events: images, albums, edits, commands, button presses."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from telegram import Bot, CallbackQuery, Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.adapters.base import EventHandler
from bot.adapters.telegram.albums import AlbumCollector, Part
from bot.adapters.telegram.calls import call_api
from bot.adapters.telegram.chat import ChatContexts, chat_sender_id
from bot.adapters.telegram.media import Downloader, FoundImage, find_images
from bot.events import ButtonPressed, CommandIssued, ImagePosted, ImageRef, RepliedMessage, Sender

log = logging.getLogger(__name__)
Migrate = Callable[[int, int], Awaitable[None]]

# The command menu (setMyCommands); in groups, an unaddressed /command not listed here belongs to
# another bot and is left alone.
BOT_COMMANDS = {
    "classify": "Reply to an image: is it a meme?",
    "correct": "Reply to an image or my verdict: /correct meme|not_meme",
    "explain": "Reply to an image: which parts drove my verdict",
    "memeify": "Reply to a photo of a face: make it a meme",
    "stats": "What I've seen in this chat",
    "report": "What memes-only did lately: /report [days]",
    "help": "What I do and how",
    "memesonly": "Moderators: /memesonly on|off|status",
    "mode": "Moderators: /mode delete|warn|dryrun",
    "threshold": "Moderators: how sure I must be, 0.5-0.99",
    "autoreply": "Moderators: /autoreply on|off",
    "export": "Moderators: corrections as a training zip",
    "review": "Moderators: posts waiting for review, and appeals",
    "reviewchat": "Moderators: send review items to another chat",
    "review_threshold": "Moderators: where the review band starts, or off",
    "labels": "Moderators: this chat's moderator labels",
    "unlabel": "Moderators: undo a label (reply, or its number)",
    "audit": "Moderators: the last 20 moderator actions",
}
KNOWN_COMMANDS = frozenset([*BOT_COMMANDS, "start"])
REMEMBERED_MESSAGES = 10_000


@dataclass(frozen=True)
class ParsedCommand:
    name: str
    args: tuple[str, ...]


def parse_command(
    text: str, entities: Sequence[MessageEntity], *, bot_username: str, private: bool
) -> ParsedCommand | None:
    """`/name@bot args`: None when the text is no command, or the command is another bot's."""
    if not entities or entities[0].type != MessageEntity.BOT_COMMAND or entities[0].offset != 0:
        return None
    head, *args = text.split()
    name, _, addressee = head[1:].partition("@")
    if addressee and addressee.lower() != bot_username.lower():
        return None
    name = name.lower()
    if not addressee and not private and name not in KNOWN_COMMANDS:
        return None
    return ParsedCommand(name, tuple(args))


def sender_of(message: Message) -> Sender:
    if message.sender_chat is not None:  # an anonymous admin (the chat itself) or a channel
        chat = message.sender_chat
        name = "an anonymous admin" if chat.id == message.chat.id else chat.title or "a channel"
        return Sender(chat_sender_id(chat.id), name)
    user = message.from_user
    assert user is not None  # every message in a chat has one or the other
    return Sender(str(user.id), user.full_name or user.username or str(user.id))


class RecentImages:
    """Which files recent messages carried, so a caption edit is not judged again but a new picture is."""

    def __init__(self, capacity: int = REMEMBERED_MESSAGES) -> None:
        self._capacity = capacity
        self._files: OrderedDict[tuple[int, int], frozenset[str]] = OrderedDict()

    def changed(self, message: Message, found: Sequence[FoundImage]) -> bool:
        key, files = (message.chat_id, message.message_id), frozenset(f.unique_id for f in found)
        before = self._files.pop(key, None)
        self._files[key] = files
        while len(self._files) > self._capacity:
            self._files.popitem(last=False)
        return before != files


class CallbackAnswer:
    """answerCallbackQuery exactly once per press: the core's answer, or an empty one after it."""

    def __init__(self, query: CallbackQuery) -> None:
        self._query = query
        self.answered = False

    async def __call__(self, text: str) -> None:
        if self.answered:  # Telegram accepts one answer per press
            return
        self.answered = True
        try:
            await call_api(lambda: self._query.answer(text[:200] or None), what="answerCallbackQuery")
        except TelegramError as exc:  # e.g. the press is too old to answer: nothing left to do
            log.warning("could not answer a button press: %s", exc)


class UpdateRouter:
    """Translates each update and hands the event to the core; nothing Telegram-specific leaks."""

    def __init__(
        self,
        *,
        bot: Bot,
        handler: EventHandler,
        chats: ChatContexts,
        migrate: Migrate,
        album_window_s: float,
        max_file_bytes: int,
    ) -> None:
        self._bot = bot
        self._handler = handler
        self._chats = chats
        self._migrate = migrate
        self._downloader = Downloader(bot)
        self._max_file_bytes = max_file_bytes
        self._albums = AlbumCollector(album_window_s, self._post_album)
        self._recent = RecentImages()

    async def on_update(self, update: object, context: object) -> None:
        if not isinstance(update, Update):
            return
        if update.callback_query is not None:
            await self._on_button(update.callback_query)
        elif update.message is not None:
            await self._on_message(update.message, edited=False)
        elif update.edited_message is not None:
            await self._on_message(update.edited_message, edited=True)

    async def _on_message(self, message: Message, *, edited: bool) -> None:
        if message.migrate_to_chat_id is not None:  # this group became a supergroup
            await self._migrate(message.chat_id, message.migrate_to_chat_id)
            return
        if message.migrate_from_chat_id is not None:
            await self._migrate(message.migrate_from_chat_id, message.chat_id)
            return
        if message.from_user is not None and message.from_user.id == self._bot.id:
            return
        command = self._command(message)
        if command is not None:
            if not edited:  # re-running an edited command would repeat its answer
                await self._on_command(message, command)
            return
        found = find_images(message, max_bytes=self._max_file_bytes)
        if not found:
            return
        if not self._recent.changed(message, found) and edited:
            return  # only the caption (or text) was edited
        if message.media_group_id is not None and not edited:
            await self._albums.add(message, found)
            return
        ctx = self._chats.for_message(message)
        refs = self._refs(message, found)
        await self._handler(ImagePosted(ctx, sender_of(message), str(message.message_id), refs, edited))

    async def _post_album(self, parts: list[Part]) -> None:
        first = parts[0][0]
        refs = tuple(ref for message, found in parts for ref in self._refs(message, found))
        ctx = self._chats.for_message(first)
        await self._handler(ImagePosted(ctx, sender_of(first), str(first.message_id), refs))

    def _command(self, message: Message) -> ParsedCommand | None:
        text, entities = message.text, message.entities
        if text is None:
            text, entities = message.caption, message.caption_entities
        if not text:
            return None
        private = message.chat.type == ChatType.PRIVATE
        return parse_command(text, entities, bot_username=self._bot.username, private=private)

    async def _on_command(self, message: Message, command: ParsedCommand) -> None:
        replied = message.reply_to_message
        if replied is not None and replied.forum_topic_created is not None:
            replied = None  # in a forum, every message "replies" to its topic's first message
        target = replied
        if target is None and find_images(message, max_bytes=self._max_file_bytes):
            target = message  # a picture captioned with the command: the command is about it
        reply_to = None
        if target is not None:
            found = find_images(target, max_bytes=self._max_file_bytes)
            reply_to = RepliedMessage(str(target.message_id), self._refs(target, found))
        event = CommandIssued(
            self._chats.for_message(message),
            sender_of(message),
            command.name,
            command.args,
            str(message.message_id),
            reply_to,
        )
        await self._handler(event)

    async def _on_button(self, query: CallbackQuery) -> None:
        answer = CallbackAnswer(query)
        try:
            if query.message is None or query.data is None:  # a press on an inline-mode message
                await answer("This button doesn't work here.")
                return
            user = query.from_user
            sender = Sender(str(user.id), user.full_name or user.username or str(user.id))
            ctx = self._chats.for_message(query.message)
            message_id = str(query.message.message_id)
            await self._handler(ButtonPressed(ctx, sender, query.data, message_id, answer))
        finally:
            if not answer.answered:  # stop the button's spinner even when the core said nothing
                await answer("")

    def _refs(self, message: Message, found: Sequence[FoundImage]) -> tuple[ImageRef, ...]:
        return tuple(self._downloader.ref(image, message.message_id) for image in found)
