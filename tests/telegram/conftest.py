"""The real TelegramAdapter (real PTB Application) and BotCore against the local fake Bot API."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import pytest

from bot.adapters.base import EventHandler
from bot.adapters.telegram import TelegramAdapter
from bot.config import Config, Secret, TelegramConfig
from bot.core import BotCore
from classifier import Classifier
from storage import Repository
from tests.fakes.telegram_api import FakeTelegram, JsonDict

GROUP_ID = -1001234567890
ALBUM_WINDOW_S = 0.3
T = TypeVar("T")


def telegram_config(tg: FakeTelegram, **changes: Any) -> TelegramConfig:
    base = TelegramConfig(
        token=Secret(tg.token),
        base_url=tg.base_url,
        base_file_url=tg.base_file_url,
        album_window_s=ALBUM_WINDOW_S,
    )
    return dataclasses.replace(base, **changes)


async def eventually(predicate: Callable[[], Awaitable[T | None]], timeout: float = 5.0) -> T:  # noqa: ASYNC109
    """For state outside the fake (the database), which has no change event to wait on: re-check."""
    async with asyncio.timeout(timeout):
        while not (result := await predicate()):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        return result


class StartBot(Protocol):
    async def __call__(
        self, cfg: Config | None = None, *, handler: EventHandler | None = None, **telegram: Any
    ) -> TelegramAdapter: ...


@dataclass
class Chats:
    """The people and chats most tests use: a supergroup with a creator, an admin and a member."""

    tg: FakeTelegram
    group: JsonDict
    alice: JsonDict  # a plain member
    olga: JsonDict  # the group's creator
    mo: JsonDict  # an administrator
    migrations: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def chats(tg: FakeTelegram) -> Chats:
    group = tg.group(GROUP_ID, "Memes")
    alice, olga, mo = tg.user(1, "Alice"), tg.user(2, "Olga"), tg.user(3, "Mo")
    tg.set_member(group, alice, "member")
    tg.set_member(group, olga, "creator")
    tg.set_member(group, mo, "administrator", can_delete_messages=True)
    return Chats(tg, group, alice, olga, mo)


@pytest.fixture
async def start_bot(
    tg: FakeTelegram, config: Config, repo: Repository, classifier: Classifier, chats: Chats
) -> AsyncIterator[StartBot]:
    """Starts a bot as bot/app.py does: a fresh BotCore and TelegramAdapter on the shared repo."""

    async def follow_migration(old: str, new: str) -> None:
        chats.migrations.append((old, new))
        await repo.migrate_chat(platform="telegram", old_chat_id=old, new_chat_id=new)

    async with AsyncExitStack() as stack:

        async def start(
            cfg: Config | None = None, *, handler: EventHandler | None = None, **telegram: Any
        ) -> TelegramAdapter:
            cfg = cfg or config
            core = BotCore(classifier=classifier, repo=repo, moderation=cfg.moderation, storage=cfg.storage)
            adapter = TelegramAdapter(
                telegram_config(tg, **telegram),
                handler or core.handle,
                max_file_bytes=cfg.classifier.max_image_bytes,
                on_chat_migrated=follow_migration,
            )
            stack.push_async_callback(adapter.stop)
            await adapter.start()
            stack.push_async_callback(core.aclose)  # before the adapter stops, as in bot/app.py
            return adapter

        yield start


@pytest.fixture
async def bot(start_bot: StartBot) -> TelegramAdapter:
    return await start_bot()
