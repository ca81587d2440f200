"""Running on Discord through bot/app.py: the wiring, and a clean shutdown on SIGTERM."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import signal

from bot.adapters.console import ConsoleAdapter
from bot.adapters.discord import DiscordAdapter
from bot.app import build_adapters, open_repository, run_bot
from bot.config import Config, DiscordConfig, Secret
from bot.events import Event
from tests.conftest import with_moderation
from tests.discord_adapter.conftest import World, eventually, image_file
from tests.fakes.discord_api import FakeDiscord
from tests.modelfactory import not_meme_jpeg


async def ignore(event: Event) -> None:
    return None


async def test_a_discord_token_builds_the_discord_adapter_instead_of_the_console(config: Config) -> None:
    streams = {"stdin": io.StringIO(), "stdout": io.StringIO()}
    with_token = dataclasses.replace(config, discord=DiscordConfig(token=Secret("some-token")))
    async with await open_repository(config) as repo:
        [adapter] = build_adapters(with_token, ignore, repo=repo, **streams)
        [console] = build_adapters(config, ignore, repo=repo, **streams)
    assert isinstance(adapter, DiscordAdapter) and isinstance(console, ConsoleAdapter)


async def serving() -> bool:
    """run_bot has reached its serving loop: the purge task starts after the signal handlers."""
    return any(t.get_name() == "purge-images" for t in asyncio.all_tasks())


async def test_run_bot_serves_discord_and_cleans_up_its_notices_on_sigterm(
    fake: FakeDiscord, world: World, config: Config
) -> None:
    # Memes-only everywhere, and notices that would stay a minute: shutdown must remove them.
    config = with_moderation(config, memes_only=True, notice_seconds=60.0)
    config = dataclasses.replace(config, discord=DiscordConfig(token=Secret(fake.token)))
    running = asyncio.create_task(run_bot(config))
    try:
        await fake.wait_for(lambda: fake.identify_count == 1, timeout=20)
        posted = await fake.post_message(world.memes, world.alice, attachments=[image_file(not_meme_jpeg())])
        await fake.wait_for(lambda: posted.deleted)
        notice = (await fake.wait_for(lambda: fake.bot_messages(world.memes)))[0]
        assert notice.content.startswith("🚫 Removed a non-meme")

        # SIGTERM only once run_bot is serving (its signal handlers are in place by then).
        await eventually(serving, timeout=20)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(asyncio.shield(running), 20)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert notice.deleted and fake.open_connections == 0
