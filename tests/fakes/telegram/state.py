"""Everything the fake Bot API knows: chats, members, messages, pending updates, what the bot did."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict, deque

from .media import FileStore
from .records import ApiError, Call, Fault, JsonDict, SentMessage

# The user Telegram shows as the author of messages that anonymous group admins send.
ANONYMOUS_ADMIN: JsonDict = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
# Updates Telegram leaves out unless a bot asks for them in allowed_updates.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
ADMIN_RIGHTS: JsonDict = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": False,
    "can_restrict_members": False,
    "can_promote_members": False,
    "can_change_info": False,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": False,
}
MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "left", "kicked"})


def now() -> int:
    return int(time.time())


def chat_member(user: JsonDict, status: str, rights: dict[str, bool]) -> JsonDict:
    """A ChatMember object; only administrators take rights."""
    if status not in MEMBER_STATUSES:
        raise ValueError(f"unsupported member status {status!r}; use one of {sorted(MEMBER_STATUSES)}")
    if rights and status != "administrator":
        raise ValueError(f"only administrators have rights, not {status!r}")
    if unknown := set(rights) - set(ADMIN_RIGHTS):
        raise ValueError(f"unknown administrator rights: {sorted(unknown)}")
    member: JsonDict = {"status": status, "user": user}
    if status == "administrator":
        member.update(ADMIN_RIGHTS, **rights)
    elif status == "creator":
        member["is_anonymous"] = False
    elif status == "kicked":
        member["until_date"] = 0
    return member


class TelegramState:
    """The fake's single source of truth, shared by the HTTP side and the test side."""

    def __init__(self, token: str, bot_user: JsonDict) -> None:
        self.token = token
        self.bot_user = bot_user
        self.files = FileStore()
        self.chats: dict[int, JsonDict] = {}
        self.users: dict[int, JsonDict] = {bot_user["id"]: bot_user}
        self.members: dict[tuple[int, int], JsonDict] = {}
        self.posters: defaultdict[int, set[int]] = defaultdict(set)
        self.messages: defaultdict[int, dict[int, JsonDict]] = defaultdict(dict)
        self._message_ids: defaultdict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._update_ids = itertools.count(100_000_001)
        self._ids = itertools.count(1)
        self.updates: list[JsonDict] = []
        self.allowed_updates: list[str] = []
        self.poll_generation = 0
        self.webhook: JsonDict | None = None
        self.calls: list[Call] = []
        self.unknown_methods: list[str] = []
        self.sent: list[SentMessage] = []
        self.deleted: defaultdict[int, list[int]] = defaultdict(list)
        self.open_callbacks: set[str] = set()
        self.callback_answers: list[JsonDict] = []
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.faults: defaultdict[str, deque[Fault]] = defaultdict(deque)
        self.require_delete_rights = True
        self.no_long_polling = False  # answer getUpdates at once, as a broken server or proxy does
        self.closing = asyncio.Event()
        self._changed = asyncio.Event()

    # -- change notification: waiters grab `changed`, check their condition, then await it -----

    @property
    def changed(self) -> asyncio.Event:
        return self._changed

    def notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def next_id(self) -> str:
        return f"{next(self._ids):019d}"

    # -- chats, users, members ---------------------------------------------------------------

    def add_chat(self, chat: JsonDict) -> JsonDict:
        self.chats[chat["id"]] = chat
        return chat

    def chat(self, chat_id: int | str) -> JsonDict:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            found = [c for c in self.chats.values() if f"@{c.get('username')}" == chat_id]
            if found:
                return found[0]
        elif int(chat_id) in self.chats:
            return self.chats[int(chat_id)]
        raise ApiError(400, "Bad Request: chat not found")

    def member(self, chat_id: int, user_id: int) -> JsonDict:
        """The registered member record, else what Telegram would say by default."""
        if (chat_id, user_id) in self.members:
            return self.members[(chat_id, user_id)]
        user = self.users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        chat = self.chat(chat_id)
        if user_id == self.bot_user["id"] and chat["type"] != "private":
            return chat_member(user, "administrator", {})
        in_private = chat["type"] == "private" and user_id in (chat_id, self.bot_user["id"])
        present = in_private or user_id in self.posters[chat_id]
        return chat_member(user, "member" if present else "left", {})

    def require_bot_in(self, chat: JsonDict) -> None:
        if chat["type"] == "private":
            return
        status = self.member(chat["id"], self.bot_user["id"])["status"]
        if status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat['type']} chat")
        if status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat['type']} chat")

    def bot_can_delete(self, chat: JsonDict, message: JsonDict) -> bool:
        if message.get("from", {}).get("id") == self.bot_user["id"] or chat["type"] == "private":
            return True
        if not self.require_delete_rights:
            return True
        member = self.member(chat["id"], self.bot_user["id"])
        return member["status"] == "creator" or bool(member.get("can_delete_messages"))

    # -- messages ----------------------------------------------------------------------------

    def new_message(self, chat: JsonDict, sender: JsonDict, content: JsonDict) -> JsonDict:
        """Store a new message in the chat's history (anyone's, the bot's included)."""
        message: JsonDict = {
            "message_id": next(self._message_ids[chat["id"]]),
            "date": now(),
            "chat": chat,
            "from": sender,
            **content,
        }
        if sender["id"] == ANONYMOUS_ADMIN["id"]:
            message["sender_chat"] = chat
        self.users.setdefault(sender["id"], sender)
        self.posters[chat["id"]].add(sender["id"])
        self.messages[chat["id"]][message["message_id"]] = message
        return message

    def message(self, chat_id: int, message_id: int, *, missing: str) -> JsonDict:
        message = self.messages[chat_id].get(message_id)
        if message is None:
            raise ApiError(400, f"Bad Request: {missing}")
        return message

    def sent_message(self, chat_id: int, message_id: int) -> SentMessage | None:
        return next((s for s in self.sent if (s.chat_id, s.message_id) == (chat_id, message_id)), None)

    # -- updates -----------------------------------------------------------------------------

    def post_update(self, kind: str, payload: JsonDict) -> JsonDict:
        update = {"update_id": next(self._update_ids), kind: payload}
        self.updates.append(update)
        self.notify()
        return update

    def confirm(self, offset: int | None) -> None:
        """getUpdates' offset: forget confirmed updates (negative: keep only the last -offset)."""
        if offset is None:
            return
        if offset < 0:
            self.updates = self.updates[offset:]
        else:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]

    def deliverable(self, limit: int) -> list[JsonDict]:
        """Pending updates the bot asked for; the others are dropped, as Telegram does."""
        wanted = set(self.allowed_updates) or None
        self.updates = [u for u in self.updates if _is_wanted(u, wanted)]
        return self.updates[:limit]


def _is_wanted(update: JsonDict, wanted: set[str] | None) -> bool:
    kind = next(key for key in update if key != "update_id")
    return kind in wanted if wanted is not None else kind not in OPT_IN_UPDATES
