"""The Discord adapter's message side driven by dpytest, a second harness independent of our fake
(tests/fakes/discord): it swaps the client's HTTP and connection state for its own backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import discord
import discord.ext.test as dpytest
import pytest

from bot.adapters.discord import DiscordAdapter
from bot.adapters.discord.adapter import intents
from bot.config import Config, DiscordConfig, Secret
from bot.core import BotCore
from classifier import Classifier
from storage import Repository
from tests.modelfactory import meme_jpeg, not_meme_jpeg


@dataclass
class Harness:
    adapter: DiscordAdapter
    repo: Repository
    channel: discord.TextChannel
    member: discord.Member
    files: Path

    def image(self, name: str, data: bytes) -> str:
        path = self.files / name
        path.write_bytes(data)
        return str(path)


@pytest.fixture
async def harness(
    config: Config, repo: Repository, classifier: Classifier, tmp_path: Path
) -> AsyncIterator[Harness]:
    core = BotCore(classifier=classifier, repo=repo, moderation=config.moderation, storage=config.storage)
    wanted = intents()
    wanted.members = True  # dpytest builds its members from the member cache
    client = discord.Client(intents=wanted)
    adapter = DiscordAdapter(
        DiscordConfig(token=Secret("dpytest-token")), core.handle, max_file_bytes=1 << 20, client=client
    )
    await adapter.open()
    await client._async_setup_hook()  # what login() would do: discord.py's loop-bound set-up
    dpytest.configure(client, members=["alice"])
    config_ = dpytest.get_config()
    try:
        yield Harness(adapter, repo, config_.channels[0], config_.members[0], tmp_path)
    finally:
        await core.aclose()
        await adapter.stop()
        await dpytest.empty_queue()


async def test_a_posted_meme_gets_a_verdict_with_buttons(harness: Harness) -> None:
    await dpytest.message("look", attachments=[harness.image("meme.jpg", meme_jpeg())])
    reply = dpytest.get_message()
    assert reply.content.startswith("😂 Meme")


async def test_several_images_get_one_numbered_reply(harness: Harness) -> None:
    files = [harness.image("a.jpg", meme_jpeg()), harness.image("b.jpg", not_meme_jpeg())]
    await dpytest.message("two", attachments=files)
    reply = dpytest.get_message()
    assert "1. 😂 Meme" in reply.content and "2. 🖼️ Not a meme" in reply.content
    assert dpytest.verify().message().nothing()  # one reply for the post, not one per image


async def test_a_non_meme_in_a_memes_only_channel_is_removed(harness: Harness) -> None:
    channel = str(harness.channel.id)
    await harness.repo.update_chat_settings(platform="discord", chat_id=channel, memes_only=True)
    posted = await dpytest.message("hi", attachments=[harness.image("photo.jpg", not_meme_jpeg())])
    notice = dpytest.get_message()
    assert notice.content.startswith("🚫 Removed a non-meme from") and "memes only" in notice.content
    with pytest.raises(discord.NotFound):
        await harness.channel.fetch_message(posted.id)


async def test_a_text_message_gets_no_answer(harness: Harness) -> None:
    await dpytest.message("just words")
    assert dpytest.verify().message().nothing()
