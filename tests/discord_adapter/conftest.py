"""The real discord.py client and the real BotCore (brightness model, temp SQLite) against FakeDiscord."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from PIL import Image

from bot.adapters.discord import DiscordAdapter
from bot.app import open_repository
from bot.config import Config, DiscordConfig, Secret
from bot.core import BotCore
from classifier import Classifier
from storage import ChatStats, Repository
from tests.fakes.discord_api import (
    Channel,
    FakeDiscord,
    InteractionRecord,
    InteractionReply,
    StoredMessage,
)
from tests.fakes.discord_world import World, build_world, checked_fake


@dataclass
class Bot:
    """One running memebot: its adapter, core and repository, and helpers to watch it answer."""

    fake: FakeDiscord
    adapter: DiscordAdapter
    core: BotCore
    repo: Repository

    async def stop(self) -> None:
        await self.core.aclose()  # app order: pending notices go while the client is still connected
        await self.adapter.stop()
        await self.repo.aclose()

    async def reply_to(self, posted: StoredMessage) -> StoredMessage:
        """The bot's (one) message replying to `posted`."""
        channel = posted.channel

        def replies() -> list[StoredMessage]:
            return [m for m in self.fake.bot_messages(channel) if m.reference_id == posted.id]

        return (await self.fake.wait_for(replies, timeout=10))[0]

    async def answer(self, interaction: InteractionRecord, index: int = 0) -> InteractionReply:
        """The `index`-th real answer (not the deferral) the bot gave to an interaction."""

        def answers() -> list[InteractionReply]:
            found = [r for r in interaction.replies if r.kind in ("edit", "followup") or r.type == 4]
            return found if len(found) > index else []

        return (await self.fake.wait_for(answers, timeout=10))[index]

    async def stats(self, channel: Channel) -> ChatStats:
        return await self.repo.chat_stats(platform="discord", chat_id=str(channel.id))


StartBot = Callable[..., Awaitable[Bot]]
T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 5.0) -> T:  # noqa: ASYNC109
    """Poll `check` (a database read, say) until it gives something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check}")
        await asyncio.sleep(0.02)
    return result


def image_file(data: bytes, name: str = "image.jpg") -> tuple[str, bytes, str]:
    return (name, data, "image/png" if name.endswith(".png") else "image/jpeg")


def png(colour: tuple[int, int, int] = (245, 245, 245), size: tuple[int, int] = (64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
async def fake(caplog: pytest.LogCaptureFixture) -> AsyncIterator[FakeDiscord]:
    async with checked_fake(caplog) as fake:
        yield fake


@pytest.fixture
def world(fake: FakeDiscord) -> World:
    return build_world(fake)


@pytest.fixture
async def start_bot(
    fake: FakeDiscord, world: World, config: Config, classifier: Classifier
) -> AsyncIterator[StartBot]:
    """Start a bot (several in turn share the SQLite file, like a restart); all stop at the end."""
    running: list[Bot] = []

    async def start(cfg: Config | None = None, **discord: Any) -> Bot:
        cfg = cfg or config
        repo = await open_repository(cfg)
        core = BotCore(classifier=classifier, repo=repo, moderation=cfg.moderation, storage=cfg.storage)
        settings = dataclasses.replace(DiscordConfig(token=Secret(fake.token)), **discord)
        adapter = DiscordAdapter(
            settings, core.handle, max_file_bytes=cfg.classifier.max_image_bytes, guild_ready_timeout=0.05
        )
        try:
            await adapter.start()
        except BaseException:
            await repo.aclose()
            raise
        running.append(Bot(fake, adapter, core, repo))
        return running[-1]

    yield start
    for bot in running:
        await bot.stop()


@pytest.fixture
async def bot(start_bot: StartBot) -> Bot:
    return await start_bot()
