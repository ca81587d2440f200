"""TelegramChat: the way back to one Telegram chat (send, send a file, delete, who moderates)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from telegram import (
    Bot,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Message,
    ReplyParameters,
)
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.adapters.telegram.calls import DEFAULT_POLICY, RetryPolicy, call_api
from bot.errors import ChatUnavailable, MessageGone, ModeratorCheckFailed, PermissionMissing
from bot.events import Button, SentMessage

log = logging.getLogger(__name__)
T = TypeVar("T")
Migrate = Callable[[int, int], Awaitable[None]]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_CACHED_MEMBERS = 10_000  # past this, expired answers are dropped before adding another
# An admin check holds up a verdict: one retry, not four, before saying that Telegram did not answer.
MEMBER_LOOKUP_POLICY = RetryPolicy(attempts=2, max_flood_wait_s=5.0)
MODERATOR_STATUSES = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})
NEEDS_DELETE_RIGHT = "I need the 'Delete messages' admin right here."
TOO_OLD_TO_DELETE = "it is older than 48 hours, and Telegram doesn't let bots delete older messages."


def chat_sender_id(chat_id: int) -> str:
    """The user id given to a message sent on behalf of a chat (an anonymous admin, a channel)."""
    return f"chat:{chat_id}"


class ModeratorCache:
    """Remembers getChatMember answers for a while: a busy chat would otherwise ask on every image.

    A failed lookup (Telegram down or erring) is remembered too, for `failure_ttl_s`, per chat: while
    Telegram is down, each command or image would otherwise wait out every retry again."""

    def __init__(
        self, ttl_s: float, clock: Callable[[], float] = time.monotonic, *, failure_ttl_s: float = 30.0
    ) -> None:
        self._ttl_s = ttl_s
        self._failure_ttl_s = failure_ttl_s
        self._clock = clock
        self._known: dict[tuple[int, int], tuple[bool, float]] = {}
        self._failed_until: dict[int, float] = {}

    async def check(self, chat_id: int, user_id: int, lookup: Callable[[], Awaitable[bool]]) -> bool:
        now = self._clock()
        known = self._known.get((chat_id, user_id))
        if known is not None and known[1] > now:
            return known[0]
        if self._failed_until.get(chat_id, 0.0) > now:
            raise ModeratorCheckFailed("Telegram")
        try:
            answer = await lookup()
        except ModeratorCheckFailed:
            if len(self._failed_until) >= MAX_CACHED_MEMBERS:
                self._failed_until = {k: v for k, v in self._failed_until.items() if v > now}
            self._failed_until[chat_id] = self._clock() + self._failure_ttl_s
            raise
        self._failed_until.pop(chat_id, None)
        if self._ttl_s > 0:
            if len(self._known) >= MAX_CACHED_MEMBERS:
                self._known = {key: value for key, value in self._known.items() if value[1] > now}
            self._known[(chat_id, user_id)] = (answer, now + self._ttl_s)
        return answer


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes = field(repr=False)
    caption: str = ""
    reply_to: str | None = None
    buttons: Sequence[Button] = ()


class TelegramChat:
    """ChatContext for one chat (and forum topic); follows the chat when a group migrates."""

    platform = "telegram"

    def __init__(
        self,
        *,
        bot: Bot,
        chat_id: int,
        private: bool,
        moderators: ModeratorCache,
        migrate: Migrate,
        thread_id: int | None = None,
    ) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._private = private
        self._moderators = moderators
        self._migrate = migrate
        self._thread_id = thread_id

    @property
    def chat_id(self) -> str:
        return str(self._chat_id)

    async def send(
        self, text: str, *, reply_to: str | None = None, buttons: Sequence[Button] = (), private: bool = False
    ) -> SentMessage:
        # Telegram has no only-you messages in a group: a `private` answer is a reply like any other.
        markup = keyboard(buttons)
        message = await self._call(
            "sendMessage",
            lambda chat_id: self._bot.send_message(
                chat_id,
                _fit(text, MAX_TEXT),
                reply_parameters=_reply(reply_to),
                reply_markup=markup,
                message_thread_id=self._thread_id,
            ),
            idempotent=False,
        )
        return SentMessage(str(message.message_id))

    async def send_file(
        self, *, filename: str, data: bytes, caption: str = "", reply_to: str | None = None
    ) -> SentMessage:
        upload = Upload(filename, data, caption, reply_to)
        return await self._upload("sendDocument", self._bot.send_document, upload)

    async def send_image(
        self,
        *,
        filename: str,
        data: bytes,
        caption: str = "",
        reply_to: str | None = None,
        buttons: Sequence[Button] = (),
    ) -> SentMessage:
        upload = Upload(filename, data, caption, reply_to, buttons)
        try:
            return await self._upload("sendPhoto", self._bot.send_photo, upload)
        except BadRequest as exc:  # over 10 MB, or a shape Telegram won't show as a photo
            log.info("sending %s as a document instead of a photo: %s", filename, exc.message)
            return await self._upload("sendDocument", self._bot.send_document, upload)

    async def _upload(
        self, what: str, send: Callable[..., Awaitable[Message]], upload: Upload
    ) -> SentMessage:
        """sendDocument and sendPhoto take the same arguments; only the method differs."""
        markup = keyboard(upload.buttons)
        message = await self._call(
            what,
            lambda chat_id: send(
                chat_id,
                upload.data,
                filename=upload.filename,
                caption=_fit(upload.caption, MAX_CAPTION) or None,
                reply_parameters=_reply(upload.reply_to),
                reply_markup=markup,
                message_thread_id=self._thread_id,
            ),
            idempotent=False,
        )
        return SentMessage(str(message.message_id))

    async def delete(self, message_id: str) -> None:
        try:
            await self._call(
                "deleteMessage", lambda chat_id: self._bot.delete_message(chat_id, int(message_id))
            )
        except BadRequest as exc:
            reason = exc.message.lower()
            if "not found" in reason:
                raise MessageGone(message_id) from None
            if "can't be deleted" in reason or "rights" in reason:
                raise PermissionMissing(await self._why_undeletable()) from None
            raise

    async def is_moderator(self, user_id: str) -> bool:
        if user_id == chat_sender_id(self._chat_id):  # an anonymous admin posts as the chat itself
            return True
        if self._private:  # everyone runs their own private chat with the bot
            return user_id == self.chat_id
        if not user_id.isdigit():  # a channel or another chat posting here
            return False
        chat_id, member_id = self._chat_id, int(user_id)
        return await self._moderators.check(chat_id, member_id, lambda: self._is_admin(member_id))

    async def tell_user(self, user_id: str, text: str) -> bool:
        """A private chat message; Telegram refuses it until the person has started the bot."""
        if not user_id.isdigit():
            return False
        try:
            await call_api(
                lambda: self._bot.send_message(int(user_id), _fit(text, MAX_TEXT)),
                what=f"sendMessage to user {user_id}",
                idempotent=False,
            )
        except (BadRequest, Forbidden) as exc:
            log.info("could not message Telegram user %s privately: %s", user_id, exc.message)
            return False
        return True

    async def open_chat(self, chat_id: str) -> TelegramChat:
        if chat_id == self.chat_id:
            return self
        number = int(chat_id)
        return TelegramChat(
            bot=self._bot,
            chat_id=number,
            private=number > 0,  # Telegram's group and channel ids are negative
            moderators=self._moderators,
            migrate=self._migrate,
        )

    async def _is_admin(self, user_id: int) -> bool:
        try:
            member = await self._member(user_id)
        except BadRequest as exc:  # not in the chat: no moderator
            log.info("getChatMember(%s, %s) failed: %s", self._chat_id, user_id, exc.message)
            return False
        except TelegramError as exc:  # down, erring or unreachable: nobody can say who moderates
            log.warning("getChatMember(%s, %s) failed: %s", self._chat_id, user_id, exc)
            raise ModeratorCheckFailed("Telegram") from None
        return member.status in MODERATOR_STATUSES

    async def _why_undeletable(self) -> str:
        """Telegram says "can't be deleted" both for a missing right and for old messages."""
        if self._private:
            return TOO_OLD_TO_DELETE
        try:
            me = await self._member(self._bot.id)
        except BadRequest:
            return NEEDS_DELETE_RIGHT
        can_delete = me.status == ChatMemberStatus.OWNER or bool(getattr(me, "can_delete_messages", False))
        return TOO_OLD_TO_DELETE if can_delete else NEEDS_DELETE_RIGHT

    async def _member(self, user_id: int) -> ChatMember:
        return await self._call(
            "getChatMember",
            lambda chat_id: self._bot.get_chat_member(chat_id, user_id),
            policy=MEMBER_LOOKUP_POLICY,
        )

    async def _call(
        self,
        what: str,
        make: Callable[[int], Awaitable[T]],
        *,
        idempotent: bool = True,
        policy: RetryPolicy = DEFAULT_POLICY,
    ) -> T:
        try:
            return await call_api(
                lambda: make(self._chat_id),
                what=f"{what} in chat {self._chat_id}",
                idempotent=idempotent,
                on_migrated=self._migrated,
                policy=policy,
            )
        except Forbidden as exc:
            log.warning("Telegram chat %s refused %s: %s (bot removed or blocked)", self._chat_id, what, exc)
            raise ChatUnavailable(exc.message) from exc

    async def _migrated(self, new_chat_id: int) -> None:
        old, self._chat_id, self._thread_id = self._chat_id, new_chat_id, None
        await self._migrate(old, new_chat_id)


class ChatContexts:
    """Makes the TelegramChat for each incoming message; the moderator cache outlives them all."""

    def __init__(self, *, bot: Bot, moderators: ModeratorCache, migrate: Migrate) -> None:
        self._bot = bot
        self._moderators = moderators
        self._migrate = migrate

    def for_message(self, message: MaybeInaccessibleMessage) -> TelegramChat:
        # Answers stay in the forum topic the message came from.
        in_topic = isinstance(message, Message) and message.is_topic_message
        return TelegramChat(
            bot=self._bot,
            chat_id=message.chat.id,
            private=message.chat.type == ChatType.PRIVATE,
            moderators=self._moderators,
            migrate=self._migrate,
            thread_id=message.message_thread_id if in_topic and isinstance(message, Message) else None,
        )


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """Buttons two to a row (a right/wrong pair per image); the payload is the callback_data."""
    if not buttons:
        return None
    for button in buttons:
        if len(button.payload.encode()) > MAX_CALLBACK_DATA:
            raise ValueError(f"button payload over {MAX_CALLBACK_DATA} bytes: {button.payload!r}")
    row = [InlineKeyboardButton(b.label, callback_data=b.payload) for b in buttons]
    return InlineKeyboardMarkup([row[i : i + 2] for i in range(0, len(row), 2)])


def _reply(reply_to: str | None) -> ReplyParameters | None:
    # Sent without the reply when the message is gone (deleted, or left behind by a migration).
    if reply_to is None:
        return None
    return ReplyParameters(int(reply_to), allow_sending_without_reply=True)


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
