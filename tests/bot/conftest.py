"""Fixtures for core tests: a real classifier and SQLite repository behind a fake chat."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.config import Config
from bot.core import BotCore
from classifier import Classifier
from storage import Repository
from tests.bot.fakechat import FakeChat, Harness


@pytest.fixture
def make_harness(config: Config, repo: Repository, classifier: Classifier) -> Callable[..., Harness]:
    def make(chat: FakeChat | None = None, cfg: Config | None = None) -> Harness:
        cfg = cfg or config
        core = BotCore(classifier=classifier, repo=repo, moderation=cfg.moderation, storage=cfg.storage)
        return Harness(core, chat or FakeChat())

    return make


@pytest.fixture
async def bot(make_harness: Callable[..., Harness]) -> AsyncIterator[Harness]:
    harness = make_harness()
    yield harness
    await harness.core.aclose()
