"""Discord objects the fake serves (users, guilds, roles, channels, members) and permission maths."""

from __future__ import annotations

import enum
import io
import mimetypes
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JsonDict = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000


class Permission(enum.IntFlag):
    """Discord permission bits (the ones a chat bot meets; any int works where these are taken)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    SEND_MESSAGES_IN_THREADS = 1 << 38


ALL_PERMISSIONS = (1 << 53) - 1
# What a fresh guild's @everyone role may do.
EVERYONE_DEFAULT = (
    Permission.CREATE_INSTANT_INVITE
    | Permission.ADD_REACTIONS
    | Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.USE_EXTERNAL_EMOJIS
    | Permission.USE_APPLICATION_COMMANDS
    | Permission.SEND_MESSAGES_IN_THREADS
)
# Without Send Messages these mean nothing, so Discord (and discord.py) drop them.
_NEEDS_SEND = (
    Permission.SEND_TTS_MESSAGES
    | Permission.MENTION_EVERYONE
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
)


class Snowflakes:
    """Time-based, strictly increasing Discord ids."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        now = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(self._last + 1, now)
        return self._last


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Upload:
    """A file with its name and type: posted by a test user or uploaded by the bot."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


FileSpec = Upload | tuple[str, bytes] | tuple[str, bytes, str]


def as_upload(spec: FileSpec) -> Upload:
    if isinstance(spec, Upload):
        return spec
    if len(spec) == 3:
        return Upload(spec[0], spec[1], spec[2])
    return Upload(spec[0], spec[1], guess_content_type(spec[0]))


def guess_content_type(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def safe_filename(filename: str) -> str:
    """Discord keeps letters, digits, dot, dash and underscore in attachment names."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", filename) or "unknown"


def image_size(upload: Upload) -> tuple[int, int] | None:
    """Width and height as Discord reports them for images; None for anything Pillow cannot open."""
    if not upload.content_type.startswith(("image/", "video/")):
        return None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(upload.data)) as image:
            return image.size
    except Exception:
        return None


@dataclass(eq=False)
class User:
    id: int
    name: str
    bot: bool = False
    global_name: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> JsonDict:
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass(eq=False)
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    bot_id: int | None = None  # set on the role Discord makes for a bot when it joins

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    def payload(self) -> JsonDict:
        payload: JsonDict = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(int(self.permissions)),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.bot_id is not None,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            payload["tags"] = {"bot_id": str(self.bot_id)}
        return payload


@dataclass(eq=False)
class PermissionOverwrite:
    """A channel's allow/deny for one role or one user."""

    target: Role | User
    allow: int = 0
    deny: int = 0

    def payload(self) -> JsonDict:
        return {
            "id": str(self.target.id),
            "type": 0 if isinstance(self.target, Role) else 1,
            "allow": str(int(self.allow)),
            "deny": str(int(self.deny)),
        }


class ChannelType(enum.IntEnum):
    TEXT = 0
    DM = 1


@dataclass(eq=False)
class Channel:
    id: int
    name: str
    guild: Guild | None = None
    type: ChannelType = ChannelType.TEXT
    overwrites: list[PermissionOverwrite] = field(default_factory=list)
    position: int = 0
    topic: str | None = None
    nsfw: bool = False
    recipient: User | None = None  # the other side of a DM
    last_message_id: int | None = None

    @property
    def guild_id(self) -> int | None:
        return None if self.guild is None else self.guild.id

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def payload(self) -> JsonDict:
        if self.type is ChannelType.DM:
            assert self.recipient is not None
            return {
                "id": str(self.id),
                "type": int(self.type),
                "recipients": [self.recipient.payload()],
                "last_message_id": _opt_str(self.last_message_id),
            }
        return {
            "id": str(self.id),
            "type": int(self.type),
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [o.payload() for o in self.overwrites],
            "topic": self.topic,
            "nsfw": self.nsfw,
            "parent_id": None,
            "rate_limit_per_user": 0,
            "last_message_id": _opt_str(self.last_message_id),
            "flags": 0,
        }


@dataclass(eq=False)
class Member:
    user: User
    roles: list[Role] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    def payload(self, *, with_user: bool = True) -> JsonDict:
        payload: JsonDict = {
            "roles": [str(r.id) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            payload["user"] = self.user.payload()
        return payload


@dataclass(eq=False)
class Guild:
    id: int
    name: str
    owner: User
    roles: list[Role] = field(default_factory=list)  # roles[0] is @everyone (id == guild id)
    channels: list[Channel] = field(default_factory=list)
    members: dict[int, Member] = field(default_factory=dict)
    joined_at: str = field(default_factory=iso_now)

    @property
    def everyone(self) -> Role:
        return self.roles[0]

    @property
    def bot_role(self) -> Role:
        """The managed role Discord gives the bot when it joins (carries `bot_permissions`)."""
        return next(r for r in self.roles if r.bot_id is not None)

    def member(self, user: User) -> Member | None:
        return self.members.get(user.id)

    def channel(self, name: str) -> Channel:
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise LookupError(f"guild {self.name!r} has no channel #{name}")

    def role(self, name: str) -> Role:
        for role in self.roles:
            if role.name == name:
                return role
        raise LookupError(f"guild {self.name!r} has no role {name!r}")

    def payload(self, *, members: list[Member] | None = None) -> JsonDict:
        """The full GUILD_CREATE payload; `members` limits the member list (no members intent)."""
        shown = list(self.members.values()) if members is None else members
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner.id),
            "region": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "application_id": None,
            "features": [],
            "roles": [r.payload() for r in self.roles],
            "emojis": [],
            "stickers": [],
            "channels": [c.payload() for c in self.channels],
            "threads": [],
            "members": [m.payload() for m in shown],
            "member_count": len(self.members),
            "large": False,
            "unavailable": False,
            "joined_at": self.joined_at,
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }


def permissions_in(guild: Guild, user: User, channel: Channel | None) -> int:
    """Discord's permission algorithm: base role permissions, then @everyone, role, member overwrites."""
    if user.id == guild.owner.id:
        return ALL_PERMISSIONS
    member = guild.member(user)
    roles = member.roles if member is not None else []
    base = int(guild.everyone.permissions)
    for role in roles:
        base |= int(role.permissions)
    if base & Permission.ADMINISTRATOR:
        return ALL_PERMISSIONS
    if channel is None:
        return base

    def overwrite_for(target_id: int) -> PermissionOverwrite | None:
        return next((o for o in channel.overwrites if o.target.id == target_id), None)

    perms = base
    everyone = overwrite_for(guild.everyone.id)
    if everyone is not None:
        perms = (perms & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for role in roles:
        overwrite = overwrite_for(role.id)
        if overwrite is not None:
            allow |= overwrite.allow
            deny |= overwrite.deny
    perms = (perms & ~deny) | allow
    own = overwrite_for(user.id)
    if own is not None:
        perms = (perms & ~own.deny) | own.allow
    if not perms & Permission.VIEW_CHANNEL:
        return 0
    if not perms & Permission.SEND_MESSAGES:
        perms &= ~_NEEDS_SEND
    return perms


def channel_permissions(channel: Channel, user: User) -> int:
    """Permissions of `user` in `channel`; in a DM everything but moderation."""
    if channel.guild is None:
        return int(EVERYONE_DEFAULT)
    return permissions_in(channel.guild, user, channel)


def _opt_str(value: int | None) -> str | None:
    return None if value is None else str(value)
