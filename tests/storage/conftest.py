"""Fixtures for storage tests: a repository on SQLite and on PostgreSQL, classifications, JPEG bytes."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from storage import ClassificationRecord, Repository

Classify = Callable[..., Awaitable[ClassificationRecord]]


def sha(n: int) -> str:
    """A valid-looking, distinct sha256 per n."""
    return f"{n:064x}"


def jpeg(color: tuple[int, int, int], size: tuple[int, int] = (24, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'db' / 'memebot.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Every storage test runs on a real SQLite file and on a real PostgreSQL server."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
async def repo(db_url: str) -> AsyncIterator[Repository]:
    repository = await Repository.open(db_url)
    try:
        yield repository
    finally:
        await repository.aclose()


@pytest.fixture
def classify(repo: Repository) -> Classify:
    """Records a classification; every field has a default that a test may override."""
    counter = iter(range(1, 1_000_000))

    async def record(**overrides: Any) -> ClassificationRecord:
        n = next(counter)
        fields: dict[str, Any] = {
            "platform": "telegram",
            "chat_id": "-100",
            "message_id": str(n),
            "user_id": "poster",
            "image_sha256": sha(n),
            "label": "meme",
            "confidence": 0.9,
            "model_version": "resnet101-v1",
        }
        return await repo.record_classification(**(fields | overrides))

    return record
