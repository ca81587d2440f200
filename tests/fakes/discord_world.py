"""The small guild most Discord tests need: a moderated channel, a plain one, a member, a moderator."""

from __future__ import annotations

from dataclasses import dataclass

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
