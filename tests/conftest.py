"""Fixtures shared by every test folder: a brightness-driven model checkpoint and a config."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.config import Config, ConsoleConfig, ModerationConfig, StorageConfig
from classifier import ClassifierSettings
from tests.modelfactory import brightness_checkpoint


@pytest.fixture(scope="session")
def bright_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ResNet101 checkpoint that calls bright images memes and dark ones not (64 px input)."""
    return brightness_checkpoint(tmp_path_factory.mktemp("model") / "brightness")


@pytest.fixture
def config(tmp_path: Path, bright_checkpoint: Path) -> Config:
    return Config(
        classifier=ClassifierSettings(checkpoint=bright_checkpoint, max_wait_ms=2.0, warmup=False),
        storage=StorageConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'memebot.db'}"),
        moderation=ModerationConfig(notice_seconds=0.2),
        console=ConsoleConfig(export_dir=tmp_path / "exports"),
    )


def with_moderation(config: Config, **changes: object) -> Config:
    return dataclasses.replace(config, moderation=dataclasses.replace(config.moderation, **changes))  # type: ignore[arg-type]
