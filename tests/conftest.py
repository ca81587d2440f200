"""Fixtures shared by every test folder: a brightness-driven model checkpoint and a config."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.app import open_repository
from bot.config import Config, ConsoleConfig, ModerationConfig, StorageConfig
from classifier import Classifier, ClassifierSettings
from storage import Repository
from tests.modelfactory import brightness_checkpoint
from tests.postgres import PostgresServer, PostgresUnavailable, find_bindir, required


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """CLI tests run setup_logging(), which binds a handler to pytest's captured stderr: undo it
    so later tests never log into a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "alembic")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


@pytest.fixture(scope="session")
def bright_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ResNet101 checkpoint that calls bright images memes and dark ones not (64 px input)."""
    return brightness_checkpoint(tmp_path_factory.mktemp("model") / "brightness")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole run; skipped where none is installed, unless required."""
    try:
        server = PostgresServer(find_bindir()).start()
    except PostgresUnavailable as error:
        if required():
            pytest.fail(str(error))
        pytest.skip(str(error))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the shared server."""
    return postgres_server.create_database()


@pytest.fixture
async def repo(config: Config) -> AsyncIterator[Repository]:
    """The real repository on a fresh SQLite file, migrated as at start-up."""
    repo = await open_repository(config)
    yield repo
    await repo.aclose()


@pytest.fixture
async def classifier(config: Config) -> AsyncIterator[Classifier]:
    async with Classifier.from_settings(config.classifier) as classifier:
        yield classifier


@pytest.fixture
def config(tmp_path: Path, bright_checkpoint: Path) -> Config:
    return Config(
        classifier=ClassifierSettings(checkpoint=bright_checkpoint, max_wait_ms=2.0, warmup=False),
        storage=StorageConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'memebot.db'}"),
        moderation=ModerationConfig(notice_seconds=0.2, appeal_seconds=60.0),
        console=ConsoleConfig(export_dir=tmp_path / "exports"),
    )


def with_moderation(config: Config, **changes: object) -> Config:
    return dataclasses.replace(config, moderation=dataclasses.replace(config.moderation, **changes))  # type: ignore[arg-type]
