"""A fake Telegram Bot API on 127.0.0.1 that the real python-telegram-bot talks to in tests.

Usage (the real Application, pointed at the fake by base_url)::

    async with FakeTelegram() as tg:
        builder = ApplicationBuilder().token(tg.token).base_url(tg.base_url)
        app = builder.base_file_url(tg.base_file_url).build()   # then start polling
        alice = tg.user(1, "Alice")
        tg.send_text(tg.private_chat(alice), alice, "/start")   # as Alice would
        reply = await tg.wait_for_message(alice["id"])          # what the bot answered
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Sequence
from typing import TypeVar

from .telegram.methods import METHODS, commands_key
from .telegram.records import ApiError, Call, Fault, JsonDict, SentMessage, Upload
from .telegram.server import BotApiServer
from .telegram.state import ANONYMOUS_ADMIN, TelegramState, chat_member, now

__all__ = ["ApiError", "Call", "FakeTelegram", "JsonDict", "SentMessage", "Upload"]

T = TypeVar("T")
ChatRef = int | JsonDict
MessageRef = int | JsonDict
SUPPORTED_METHODS = frozenset([*METHODS, "getUpdates"])


class FakeTelegram:
    """The test's handle on the fake: act as users, inject faults, inspect what the bot did."""

    def __init__(
        self,
        *,
        token: str = "123456789:TEST-fake-token",
        bot_username: str = "memebot_test_bot",
        require_delete_rights: bool = True,
    ) -> None:
        bot_user: JsonDict = {
            "id": int(token.partition(":")[0]),
            "is_bot": True,
            "first_name": "Memebot",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self._state = TelegramState(token, bot_user)
        self._state.require_delete_rights = require_delete_rights
        self._server = BotApiServer(self._state)

    async def start(self) -> FakeTelegram:
        await self._server.start()
        return self

    async def stop(self) -> None:
        await self._server.stop()

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def token(self) -> str:
        return self._state.token

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def base_url(self) -> str:
        """For `ApplicationBuilder().base_url(...)`: PTB appends the token itself."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    @property
    def bot_user(self) -> JsonDict:
        return self._state.bot_user

    @property
    def require_delete_rights(self) -> bool:
        """Whether deleting others' group messages needs the bot's can_delete_messages (default)."""
        return self._state.require_delete_rights

    @require_delete_rights.setter
    def require_delete_rights(self, required: bool) -> None:
        self._state.require_delete_rights = required

    @property
    def anonymous_admin(self) -> JsonDict:
        """Pass as the sender to post as an anonymous group admin (the message gets sender_chat)."""
        return ANONYMOUS_ADMIN

    # -- people, chats, members --------------------------------------------------------------

    def user(self, id: int, name: str, *, username: str | None = None, language_code: str = "en") -> JsonDict:
        user = {
            "id": id,
            "is_bot": False,
            "first_name": name,
            "username": username or name.lower(),
            "language_code": language_code,
        }
        self._state.users[id] = user
        return user

    def private_chat(self, user: JsonDict) -> JsonDict:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        if "username" in user:
            chat["username"] = user["username"]
        return self._state.add_chat(chat)

    def group(
        self, id: int, title: str, type: str = "supergroup", *, username: str | None = None
    ) -> JsonDict:
        if id >= 0:
            raise ValueError("group chat ids are negative (supergroups look like -100xxxxxxxxxx)")
        chat: JsonDict = {"id": id, "title": title, "type": type}
        if username:
            chat["username"] = username
        return self._state.add_chat(chat)

    def set_member(self, chat: ChatRef, user: JsonDict, status: str = "member", **rights: bool) -> JsonDict:
        """Register what getChatMember says: creator, administrator (rights), member, left, kicked.

        Unregistered, the bot is an administrator that may delete messages; users who posted in the
        chat are members; anyone else has left.
        """
        member = chat_member(user, status, rights)
        self._state.users.setdefault(user["id"], user)
        self._state.members[(self._chat(chat)["id"], user["id"])] = member
        return member

    # -- what users do: each posts an update and returns the message (or callback query) ------

    def send_text(
        self, chat: ChatRef, user: JsonDict, text: str, *, reply_to: MessageRef | None = None
    ) -> JsonDict:
        """A text message; a leading /command (also /command@bot) gets its bot_command entity."""
        content: JsonDict = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
        return self._post(chat, user, content, reply_to)

    def send_photo(
        self,
        chat: ChatRef,
        user: JsonDict,
        image: bytes,
        *,
        caption: str | None = None,
        media_group_id: str | None = None,
        reply_to: MessageRef | None = None,
        oversize: bool = False,
    ) -> JsonDict:
        """A photo in Telegram's sizes (real resized JPEGs, the original last).

        `oversize` makes the largest size claim more than 20 MB, so getFile refuses it.
        """
        content: JsonDict = {"photo": self._state.files.photo_sizes(image, oversize=oversize)}
        if caption is not None:
            content["caption"] = caption
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        return self._post(chat, user, content, reply_to)

    def send_album(
        self, chat: ChatRef, user: JsonDict, images: Sequence[bytes], *, caption: str | None = None
    ) -> list[JsonDict]:
        """Several photos sharing a media_group_id, one update each; the caption goes on the first."""
        group_id = self._state.next_id()
        return [
            self.send_photo(chat, user, image, caption=caption if i == 0 else None, media_group_id=group_id)
            for i, image in enumerate(images)
        ]

    def send_document(
        self,
        chat: ChatRef,
        user: JsonDict,
        data: bytes,
        file_name: str,
        mime_type: str,
        *,
        caption: str | None = None,
        reply_to: MessageRef | None = None,
        oversize: bool = False,
    ) -> JsonDict:
        document = self._state.files.document(data, file_name, mime_type, oversize=oversize)
        content: JsonDict = {"document": document}
        if caption is not None:
            content["caption"] = caption
        return self._post(chat, user, content, reply_to)

    def send_sticker(
        self,
        chat: ChatRef,
        user: JsonDict,
        data: bytes,
        *,
        is_animated: bool = False,
        is_video: bool = False,
        thumbnail: bytes | None = None,
    ) -> JsonDict:
        sticker = self._state.files.sticker(
            data, is_animated=is_animated, is_video=is_video, thumbnail=thumbnail
        )
        return self._post(chat, user, {"sticker": sticker}, None)

    def send_animation(
        self,
        chat: ChatRef,
        user: JsonDict,
        data: bytes,
        *,
        file_name: str = "animation.mp4",
        mime_type: str = "video/mp4",
        thumbnail: bytes | None = None,
        caption: str | None = None,
    ) -> JsonDict:
        """A GIF/MP4; like Telegram, the message carries it as both `animation` and `document`."""
        animation = self._state.files.animation(data, file_name, mime_type, thumbnail)
        document = {k: v for k, v in animation.items() if k not in ("width", "height", "duration")}
        content: JsonDict = {"animation": animation, "document": document}
        if caption is not None:
            content["caption"] = caption
        return self._post(chat, user, content, None)

    def edit_message(
        self,
        chat: ChatRef,
        message: MessageRef,
        *,
        text: str | None = None,
        caption: str | None = None,
        photo: bytes | None = None,
    ) -> JsonDict:
        """The user edits their message; the bot gets an edited_message update."""
        chat_id = self._chat(chat)["id"]
        edited = dict(self._message(chat_id, message))
        if text is not None:
            edited["text"] = text
        if caption is not None:
            edited["caption"] = caption
        if photo is not None:
            edited["photo"] = self._state.files.photo_sizes(photo)
        edited["edit_date"] = now()
        self._state.messages[chat_id][edited["message_id"]] = edited
        self._state.post_update("edited_message", edited)
        return edited

    def press_button(
        self, chat: ChatRef, user: JsonDict, message: MessageRef, callback_data: str
    ) -> JsonDict:
        """The user presses an inline button of a bot message; returns the callback_query."""
        chat_id = self._chat(chat)["id"]
        target = self._message(chat_id, message)
        rows = target.get("reply_markup", {}).get("inline_keyboard", [])
        offered = [button.get("callback_data") for row in rows for button in row]
        if callback_data not in offered:
            raise ValueError(f"message {target['message_id']} has no button {callback_data!r}: {offered}")
        query: JsonDict = {
            "id": self._state.next_id(),
            "from": user,
            "message": copy.deepcopy(target),
            "chat_instance": f"instance{chat_id}",
            "data": callback_data,
        }
        self._state.open_callbacks.add(query["id"])
        self._state.post_update("callback_query", query)
        return query

    def post_update(self, kind: str, payload: JsonDict) -> JsonDict:
        """Any other update, e.g. `post_update("my_chat_member", {...})`; returns the update."""
        return self._state.post_update(kind, payload)

    # -- faults --------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        description: str = "Too Many Requests: retry after 1",
        parameters: JsonDict | None = None,
        *,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` get this error (429 gets retry_after 1 by default)."""
        if error_code == 429 and parameters is None:
            parameters = {"retry_after": 1}
        self._fault(method, Fault("error", times, error=ApiError(error_code, description, parameters)))

    def rate_limit_next(self, method: str, retry_after: int = 1, *, times: int = 1) -> None:
        description = f"Too Many Requests: retry after {retry_after}"
        self.fail_next(method, 429, description, {"retry_after": retry_after}, times=times)

    def forbid_next(
        self,
        method: str,
        description: str = "Forbidden: bot was kicked from the group chat",
        *,
        times: int = 1,
    ) -> None:
        self.fail_next(method, 403, description, times=times)

    def migrate_next(self, method: str, new_chat_id: int, *, times: int = 1) -> None:
        description = "Bad Request: group chat was upgraded to a supergroup chat"
        self.fail_next(method, 400, description, {"migrate_to_chat_id": new_chat_id}, times=times)

    def drop_connection_next(self, method: str, *, times: int = 1) -> None:
        """Close the connection without an answer (PTB raises NetworkError)."""
        self._fault(method, Fault("drop", times))

    def stop_long_polling(self) -> None:
        """From now on getUpdates is answered at once, updates or not (a server that does not long-poll)."""
        self._state.no_long_polling = True

    def stall_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Answer (and carry out) the call only after `seconds`: past the client's read timeout, PTB
        raises TimedOut although the call took effect, as can happen with the real API."""
        self._fault(method, Fault("stall", times, seconds=seconds))

    # -- what the bot did ----------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every request, in order; file downloads appear as method "downloadFile"."""
        return self._state.calls

    def calls_to(self, method: str) -> list[JsonDict]:
        return [call.params for call in self._state.calls if call.method == method]

    @property
    def unknown_methods(self) -> list[str]:
        """Methods the bot called that the fake does not speak (answered 404)."""
        return self._state.unknown_methods

    def sent_messages(self, chat: ChatRef | None = None) -> list[SentMessage]:
        """Everything the bot sent (texts, photos, documents), optionally in one chat."""
        chat_id = None if chat is None else _chat_id(chat)
        return [sent for sent in self._state.sent if chat_id in (None, sent.chat_id)]

    def sent_documents(self, chat: ChatRef | None = None) -> list[SentMessage]:
        return [sent for sent in self.sent_messages(chat) if sent.kind == "document"]

    def sent_photos(self, chat: ChatRef | None = None) -> list[SentMessage]:
        return [sent for sent in self.sent_messages(chat) if sent.kind == "photo"]

    def deleted(self, chat: ChatRef) -> list[int]:
        """Ids of the messages the bot deleted in the chat, anyone's."""
        return list(self._state.deleted[_chat_id(chat)])

    def message(self, chat: ChatRef, message_id: int) -> JsonDict | None:
        """A message as the chat shows it now; None once deleted."""
        return self._state.messages[_chat_id(chat)].get(message_id)

    @property
    def callback_answers(self) -> list[JsonDict]:
        return self._state.callback_answers

    @property
    def commands(self) -> list[JsonDict]:
        """The bot's command list for the default scope and language (setMyCommands)."""
        return self.commands_for()

    def commands_for(self, scope: JsonDict | None = None, language_code: str = "") -> list[JsonDict]:
        """The command list for a scope, e.g. `{"type": "all_chat_administrators"}`."""
        return self._state.commands.get(commands_key(scope, language_code), [])

    @property
    def webhook(self) -> JsonDict | None:
        return self._state.webhook

    @property
    def pending_updates(self) -> list[JsonDict]:
        """Updates the bot has not confirmed yet."""
        return list(self._state.updates)

    # A timeout argument (ASYNC109) reads better in tests than wrapping every wait in asyncio.timeout.
    async def wait_for(self, predicate: Callable[[], T | None], timeout: float = 5.0) -> T:  # noqa: ASYNC109
        """Wait until `predicate()` is truthy, re-checking whenever the fake's state changes."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    changed = self._state.changed
                    if result := predicate():
                        return result
                    await changed.wait()
        except TimeoutError:
            recent = [call.method for call in self._state.calls if call.method != "getUpdates"][-10:]
            raise AssertionError(
                f"condition not met within {timeout}s; last calls: {recent}; "
                f"unknown methods: {self._state.unknown_methods}"
            ) from None

    async def wait_for_message(
        self,
        chat: ChatRef,
        *,
        containing: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> SentMessage:
        """The first message the bot sent to the chat whose text or caption contains `containing`."""

        def found() -> SentMessage | None:
            for sent in self.sent_messages(chat):
                if containing is None or containing in (sent.text or sent.caption or ""):
                    return sent
            return None

        return await self.wait_for(found, timeout)

    # -- helpers -------------------------------------------------------------------------------

    def _chat(self, chat: ChatRef) -> JsonDict:
        if isinstance(chat, dict):
            return self._state.chats.setdefault(chat["id"], chat)
        if chat not in self._state.chats:
            raise ValueError(f"unknown chat {chat}: create it with group() or private_chat()")
        return self._state.chats[chat]

    def _message(self, chat_id: int, message: MessageRef) -> JsonDict:
        message_id = message["message_id"] if isinstance(message, dict) else message
        found = self._state.messages[chat_id].get(message_id)
        if found is None:
            raise ValueError(f"no message {message_id} in chat {chat_id}")
        return found

    def _post(
        self, chat: ChatRef, user: JsonDict, content: JsonDict, reply_to: MessageRef | None
    ) -> JsonDict:
        target = self._chat(chat)
        if reply_to is not None:
            replied = self._message(target["id"], reply_to)
            content["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
        message = self._state.new_message(target, user, content)
        self._state.post_update("message", message)
        return message

    def _fault(self, method: str, fault: Fault) -> None:
        if method not in SUPPORTED_METHODS:
            raise ValueError(f"the fake does not speak {method!r}; it knows {sorted(SUPPORTED_METHODS)}")
        self._state.faults[method].append(fault)


def _chat_id(chat: ChatRef) -> int:
    return chat["id"] if isinstance(chat, dict) else chat


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
