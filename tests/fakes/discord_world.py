"""The small guild most Discord tests need: a moderated channel, a plain one, a member, a moderator."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.fakes.discord_api import Channel, FakeDiscord, Guild, Permission, PermissionOverwrite, User


@dataclass(frozen=True)
class World:
    guild: Guild
    memes: Channel  # the bot has Manage Messages here (by overwrite)
    general: Channel  # the bot may only talk here
    alice: User  # a member
    mod: User  # Manage Messages through the "mods" role


def build_world(fake: FakeDiscord) -> World:
    guild = fake.add_guild("Meme Guild")
    mods = fake.add_role(guild, "mods", permissions=Permission.MANAGE_MESSAGES)
    bot_may_moderate = PermissionOverwrite(guild.bot_role, allow=Permission.MANAGE_MESSAGES)
    memes = fake.add_channel(guild, "memes", overwrites=[bot_may_moderate])
    general = fake.add_channel(guild, "general")
    alice = fake.add_member(guild, "alice")
    return World(guild, memes, general, alice, fake.add_member(guild, "mod", roles=[mods]))


@contextlib.asynccontextmanager
async def checked_fake(caplog: pytest.LogCaptureFixture) -> AsyncIterator[FakeDiscord]:
    """A running fake that fails the test, when it ends, on any logged error or unknown route."""
    async with FakeDiscord(heartbeat_interval=0.5) as fake:
        yield fake
    # discord.py logs (rather than raises) errors in handlers: any of them fails the test.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert fake.unknown_routes == []
