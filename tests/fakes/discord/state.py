"""The world of the fake Discord: guilds, channels, messages, commands, and the events they cause."""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .model import (
    Channel,
    ChannelType,
    Guild,
    JsonDict,
    Permission,
    Snowflakes,
    Upload,
    User,
    channel_permissions,
    image_size,
    iso_now,
    safe_filename,
)
from .records import (
    ApiError,
    HostedFile,
    InteractionRecord,
    StoredMessage,
    invalid_form,
    missing_access,
    missing_permissions,
)

# Gateway intents that decide which events a session gets.
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

# (event name, payload, the intent a session needs to receive it; 0 = always)
Emit = Callable[[str, JsonDict, int], None]

_MENTION = re.compile(r"<@!?(\d+)>")
FORWARD = 1  # message_reference.type of a forwarded message (0: a reply)
# What a forwarded message's snapshot keeps of the original.
_SNAPSHOT_FIELDS = (
    "type", "content", "embeds", "attachments", "timestamp", "edited_timestamp", "flags", "mentions",
    "mention_roles", "sticker_items", "components",
)  # fmt: skip
_MESSAGE_EDITABLE = ("content", "embeds", "components", "flags", "sticker_items")


class DiscordState:
    """Everything the fake knows; REST handlers and test helpers change it, the gateway reports it."""

    def __init__(self, *, token: str, bot_name: str, enforce_permissions: bool, upload_limit: int) -> None:
        self.ids = Snowflakes()
        self.upload_limit = upload_limit
        self.token = token
        self.enforce_permissions = enforce_permissions
        # Applications made since 2020 share their id with their bot user.
        self.bot_user = User(self.ids.next(), bot_name, bot=True)
        self.application_id = self.bot_user.id
        self.users: dict[int, User] = {self.bot_user.id: self.bot_user}
        self.guilds: list[Guild] = []
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, StoredMessage] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.commands: dict[int | None, list[JsonDict]] = {}  # guild id (None: global) -> commands
        self.hosted: dict[str, HostedFile] = {}
        self.broken_downloads: dict[str, int] = {}  # file name -> downloads whose connection drops
        self.base_url = ""
        self.emit: Emit = lambda event, data, intent: None

    # -- lookups ---------------------------------------------------------------------------------

    def user(self, user_id: int | str) -> User | None:
        return self.users.get(int(user_id))

    def channel(self, channel_id: int | str) -> Channel | None:
        return self.channels.get(int(channel_id)) if str(channel_id).isdigit() else None

    def guild(self, guild_id: int | str) -> Guild | None:
        return next((g for g in self.guilds if str(g.id) == str(guild_id)), None)

    def message(self, channel: Channel, message_id: int | str) -> StoredMessage | None:
        stored = self.messages.get(int(message_id)) if str(message_id).isdigit() else None
        if stored is None or stored.deleted or stored.channel is not channel:
            return None
        return stored

    def dm_channel(self, user: User) -> Channel:
        for channel in self.channels.values():
            if channel.type is ChannelType.DM and channel.recipient is user:
                return channel
        channel = Channel(self.ids.next(), "", type=ChannelType.DM, recipient=user)
        self.channels[channel.id] = channel
        return channel

    def interaction_by_token(self, token: str) -> InteractionRecord | None:
        return next((i for i in self.interactions.values() if i.token == token), None)

    def new_token(self) -> str:
        return "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)

    # -- permissions -----------------------------------------------------------------------------

    def permissions(self, channel: Channel, user: User) -> int:
        return channel_permissions(channel, user)

    def require(self, channel: Channel, user: User, needed: int) -> None:
        """Raise the 403 Discord gives when `user` lacks `needed` in `channel`."""
        if not self.enforce_permissions:
            return
        perms = self.permissions(channel, user)
        if not perms & Permission.VIEW_CHANNEL:
            raise missing_access()
        if perms & needed != needed:
            raise missing_permissions()

    # -- messages --------------------------------------------------------------------------------

    def create_message(
        self,
        channel: Channel,
        author: User,
        data: Mapping[str, Any],
        uploads: Mapping[int, Upload],
        *,
        message_type: int = 0,
        extra: JsonDict | None = None,
        dispatch: bool = True,
    ) -> StoredMessage:
        """Store a message the way Discord would from a create body (+ `files[n]` uploads)."""
        if author is self.bot_user:
            self.check_limits(data, uploads)
        message_id = self.ids.next()
        payload: JsonDict = {
            "id": str(message_id),
            "channel_id": str(channel.id),
            "author": author.payload(),
            "content": str(data.get("content") or ""),
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(data.get("tts", False)),
            "mention_everyone": False,
            "mentions": self._mentions(str(data.get("content") or "")),
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": list(data.get("components") or []),
            "pinned": False,
            "type": message_type,
            "flags": int(data.get("flags") or 0),
        }
        if data.get("sticker_items"):
            payload["sticker_items"] = list(data["sticker_items"])
        if data.get("nonce") is not None:
            payload["nonce"] = data["nonce"]
        payload.update(extra or {})
        stored = StoredMessage(payload=payload, channel=channel, author=author)
        self._set_attachments(stored, data.get("attachments"), uploads)
        payload["embeds"] = self._embeds(stored, data.get("embeds") or [], from_bot=author.bot)
        self._set_reference(stored, data.get("message_reference"))
        self.messages[message_id] = stored
        channel.last_message_id = message_id
        if dispatch and not stored.ephemeral:
            self.emit("MESSAGE_CREATE", self.message_event(stored), self._message_intent(channel))
        return stored

    def edit_message(
        self,
        stored: StoredMessage,
        data: Mapping[str, Any],
        uploads: Mapping[int, Upload],
        *,
        dispatch: bool = True,
        by_user: bool = True,
    ) -> StoredMessage:
        """Apply an edit; `by_user=False` is Discord's own update (link unfurls): no edited_timestamp."""
        if stored.author is self.bot_user:
            self.check_limits(data, uploads)
        stored.history.append(copy.deepcopy(stored.payload))
        for key in _MESSAGE_EDITABLE:
            if key in data and data[key] is not None:
                stored.payload[key] = data[key]
        if "content" in data:
            stored.payload["mentions"] = self._mentions(stored.content)
        if "attachments" in data or uploads:
            self._set_attachments(stored, data.get("attachments"), uploads)
        if "embeds" in data and data["embeds"] is not None:
            stored.payload["embeds"] = self._embeds(stored, data["embeds"], from_bot=stored.author.bot)
        if by_user:
            stored.payload["edited_timestamp"] = iso_now()
        if dispatch and not stored.ephemeral:
            self.emit("MESSAGE_UPDATE", self.message_event(stored), self._message_intent(stored.channel))
        return stored

    def delete_message(self, stored: StoredMessage) -> None:
        stored.deleted = True
        if stored.ephemeral:
            return
        event: JsonDict = {"id": str(stored.id), "channel_id": str(stored.channel.id)}
        if stored.channel.guild_id is not None:
            event["guild_id"] = str(stored.channel.guild_id)
        self.emit("MESSAGE_DELETE", event, self._message_intent(stored.channel))

    def check_limits(self, data: Mapping[str, Any], uploads: Mapping[int, Upload]) -> None:
        """The limits discord.py leaves to the server: 2000 characters, 10 embeds, 10 files, upload size."""
        if len(str(data.get("content") or "")) > 2000:
            raise invalid_form("content: Must be 2000 or fewer in length.")
        if len(data.get("embeds") or []) > 10:
            raise invalid_form("embeds: Must be 10 or fewer in length.")
        if len(uploads) > 10:
            raise invalid_form("files: Must be 10 or fewer in length.")
        if sum(len(u.data) for u in uploads.values()) > self.upload_limit:
            raise ApiError(413, 40005, "Request entity too large")

    def message_event(self, stored: StoredMessage) -> JsonDict:
        """A message as the gateway sends it: with guild_id and the author's member object."""
        event = copy.deepcopy(stored.payload)
        guild = stored.channel.guild
        if guild is not None:
            event["guild_id"] = str(guild.id)
            member = guild.member(stored.author)
            if member is not None and "webhook_id" not in event:
                event["member"] = member.payload(with_user=False)
        return event

    def _message_intent(self, channel: Channel) -> int:
        return DIRECT_MESSAGES if channel.type is ChannelType.DM else GUILD_MESSAGES

    def _mentions(self, content: str) -> list[JsonDict]:
        found = (self.users.get(int(m)) for m in _MENTION.findall(content))
        return [u.payload() for u in found if u is not None]

    def _set_reference(self, stored: StoredMessage, reference: Mapping[str, Any] | None) -> None:
        if not reference or reference.get("message_id") is None:
            return
        if reference.get("type") == FORWARD:
            self._set_forward(stored, reference)
            return
        target = self.message(stored.channel, reference["message_id"])
        if target is None:
            if reference.get("fail_if_not_exists", True):
                raise invalid_form("message_reference: Unknown message")
            return
        stored.payload["message_reference"] = {
            "type": 0,
            "message_id": str(target.id),
            "channel_id": str(target.channel.id),
            "guild_id": None if target.channel.guild_id is None else str(target.channel.guild_id),
        }
        referenced = copy.deepcopy(target.payload)
        referenced.pop("referenced_message", None)
        stored.payload["referenced_message"] = referenced
        if stored.payload["type"] == 0:
            stored.payload["type"] = 19  # REPLY

    def _set_forward(self, stored: StoredMessage, reference: Mapping[str, Any]) -> None:
        """A forward: the message carries a snapshot of the original's content, from any channel."""
        source = self.channel(reference.get("channel_id") or stored.channel.id)
        target = None if source is None else self.message(source, reference["message_id"])
        if target is None:
            raise invalid_form("message_reference: Unknown message")
        stored.payload["message_reference"] = {
            "type": FORWARD,
            "message_id": str(target.id),
            "channel_id": str(target.channel.id),
            "guild_id": None if target.channel.guild_id is None else str(target.channel.guild_id),
        }
        snapshot = {k: copy.deepcopy(v) for k, v in target.payload.items() if k in _SNAPSHOT_FIELDS}
        stored.payload["message_snapshots"] = [{"message": snapshot}]

    def _set_attachments(
        self, stored: StoredMessage, specs: Iterable[Mapping[str, Any]] | None, uploads: Mapping[int, Upload]
    ) -> None:
        """Attachments from the `attachments` list: `{"id": n}` names upload n, a snowflake keeps one."""
        kept = {a["id"]: (a, u) for a, u in zip(stored.attachments, stored.uploads, strict=True)}
        result: list[tuple[JsonDict, Upload]] = []
        used: set[int] = set()
        if specs is None:
            specs = [{"id": a["id"]} for a in stored.attachments] + [{"id": i} for i in sorted(uploads)]
        for spec in specs:
            key = int(spec["id"])
            if key in uploads and key not in used:
                used.add(key)
                result.append(self._host_attachment(stored, uploads[key], spec.get("description")))
            elif str(spec["id"]) in kept:
                result.append(kept[str(spec["id"])])
        for index in sorted(set(uploads) - used):
            result.append(self._host_attachment(stored, uploads[index], None))
        stored.payload["attachments"] = [a for a, _ in result]
        stored.uploads = [u for _, u in result]

    def _host_attachment(
        self, stored: StoredMessage, upload: Upload, description: str | None
    ) -> tuple[JsonDict, Upload]:
        attachment_id = self.ids.next()
        filename = safe_filename(upload.filename)
        path = f"/attachments/{stored.channel.id}/{attachment_id}/{filename}"
        upload = Upload(filename, upload.data, upload.content_type)
        self.hosted[path] = HostedFile(upload, stored)
        self.hosted["/media" + path] = self.hosted[path]
        signature = f"?ex={secrets.token_hex(4)}&is={secrets.token_hex(4)}&hm={secrets.token_hex(32)}&"
        attachment: JsonDict = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(upload.data),
            "url": self.base_url + path + signature,
            "proxy_url": self.base_url + "/media" + path + signature,
            "content_type": upload.content_type,
            "description": description,
            "ephemeral": False,
            "flags": 0,
        }
        size = image_size(upload)
        if size is not None:
            attachment["width"], attachment["height"] = size
        return attachment, upload

    def _embeds(
        self, stored: StoredMessage, embeds: Iterable[Mapping[str, Any]], *, from_bot: bool
    ) -> list[JsonDict]:
        """Bot embeds become type "rich" and their `attachment://name` URLs point at the attachment."""
        urls = {a["filename"]: (a["url"], a["proxy_url"]) for a in stored.attachments}
        result = []
        for given in embeds:
            embed: JsonDict = copy.deepcopy(dict(given))
            if from_bot:
                embed.setdefault("type", "rich")
            for key in ("image", "thumbnail"):
                media = embed.get(key)
                name = media.get("url", "").removeprefix("attachment://") if isinstance(media, dict) else ""
                if (
                    isinstance(media, dict)
                    and media.get("url", "").startswith("attachment://")
                    and name in urls
                ):
                    media["url"], media["proxy_url"] = urls[name]
            result.append(embed)
        return result

    def host(self, upload: Upload, folder: str = "media") -> str:
        """Serve bytes from the fake (embed media, link previews) and give their URL."""
        path = f"/{folder}/{self.ids.next()}/{safe_filename(upload.filename)}"
        self.hosted[path] = HostedFile(upload)
        return self.base_url + path

    # -- application commands --------------------------------------------------------------------

    def set_commands(self, guild_id: int | None, commands: Iterable[Mapping[str, Any]]) -> list[JsonDict]:
        """Bulk overwrite: ids stay the same for a command that keeps its name and type."""
        old = {(c["name"], c["type"]): c for c in self.commands.get(guild_id, [])}
        result = [self._command(guild_id, c, old.get((c["name"], c.get("type", 1)))) for c in commands]
        self.commands[guild_id] = result
        return result

    def upsert_command(self, guild_id: int | None, command: Mapping[str, Any]) -> JsonDict:
        current = self.commands.setdefault(guild_id, [])
        old = next(
            (c for c in current if (c["name"], c["type"]) == (command["name"], command.get("type", 1))), None
        )
        new = self._command(guild_id, command, old)
        if old is None:
            current.append(new)
        else:
            current[current.index(old)] = new
        return new

    def find_command(self, name: str, command_type: int, guild_id: int | None) -> JsonDict | None:
        for scope in (guild_id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name and command["type"] == command_type:
                    return command
        return None

    def _command(self, guild_id: int | None, body: Mapping[str, Any], old: JsonDict | None) -> JsonDict:
        command_type = int(body.get("type", 1))
        name = str(body.get("name", ""))
        description = str(body.get("description", ""))
        if command_type == 1 and (not re.fullmatch(r"[-_\w]{1,32}", name) or name != name.lower()):
            raise invalid_form(f"name: {name!r} is not a valid slash command name")
        if command_type == 1 and not 1 <= len(description) <= 100:
            raise invalid_form(f"description: must be 1-100 characters, got {len(description)}")
        command: JsonDict = {
            "default_member_permissions": None,
            "contexts": None,
            "integration_types": [0],
            "nsfw": False,
            "options": [],
            **copy.deepcopy(dict(body)),
            "id": old["id"] if old else str(self.ids.next()),
            "application_id": str(self.application_id),
            "version": str(self.ids.next()),
            "type": command_type,
            "name": name,
            "description": description,
        }
        if guild_id is not None:
            command["guild_id"] = str(guild_id)
        return command
