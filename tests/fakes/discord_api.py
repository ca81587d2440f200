"""A protocol-level fake Discord (gateway websocket + REST) on 127.0.0.1 for the real discord.py client.

    async with FakeDiscord() as fake:          # serves, and points discord.py at it until the block ends
        guild = fake.add_guild("Memes")        # @everyone, the bot's own role (guild.bot_role), an owner
        mods = fake.add_role(guild, "mods", permissions=Permission.MANAGE_MESSAGES)
        memes = fake.add_channel(guild, "memes", overwrites=[
            PermissionOverwrite(guild.bot_role, allow=Permission.MANAGE_MESSAGES)])
        alice = fake.add_member(guild, "alice")
        client = MyBot(intents=..., guild_ready_timeout=0.05)   # 0.05: on_ready waits this long
        async with fake.connected(client):     # login + connect + wait_until_ready; close on exit
            posted = await fake.post_message(memes, alice, attachments=[("cat.png", png_bytes)])
            reply = await fake.wait_for(lambda: fake.bot_messages(memes))

Users act with post_message / edit_message / unfurl / delete_message / slash_command /
context_menu / press_button / choose; the bot's side is in messages(), bot_messages(),
interaction_responses(), registered_commands, calls. Faults: fail_next(); gateway: force_reconnect(),
invalidate_session().
"""

from __future__ import annotations

from .discord.client import point_discord_py_at
from .discord.model import (
    ALL_PERMISSIONS,
    EVERYONE_DEFAULT,
    Channel,
    FileSpec,
    Guild,
    Permission,
    PermissionOverwrite,
    Role,
    Upload,
    User,
)
from .discord.records import Call, Fault, InteractionRecord, InteractionReply, StoredMessage
from .discord.server import FakeDiscord
from .discord.state import DIRECT_MESSAGES, GUILD_MEMBERS, GUILD_MESSAGES, GUILDS, MESSAGE_CONTENT

MISSING_PERMISSIONS = {"message": "Missing Permissions", "code": 50013}
UNKNOWN_MESSAGE = {"message": "Unknown Message", "code": 10008}

__all__ = [
    "ALL_PERMISSIONS",
    "DIRECT_MESSAGES",
    "EVERYONE_DEFAULT",
    "GUILDS",
    "GUILD_MEMBERS",
    "GUILD_MESSAGES",
    "MESSAGE_CONTENT",
    "MISSING_PERMISSIONS",
    "UNKNOWN_MESSAGE",
    "Call",
    "Channel",
    "FakeDiscord",
    "Fault",
    "FileSpec",
    "Guild",
    "InteractionRecord",
    "InteractionReply",
    "Permission",
    "PermissionOverwrite",
    "Role",
    "StoredMessage",
    "Upload",
    "User",
    "point_discord_py_at",
]
