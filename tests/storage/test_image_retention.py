"""Stored images expire after their retention, unless a correction pinned them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage import Repository
from tests.storage.conftest import Classify, jpeg, sha

DAY = timedelta(days=1)


async def store(repo: Repository, n: int, retention_days: int = 7) -> None:
    await repo.store_image(
        sha256=sha(n), data=jpeg((n, n, n)), width=24, height=16, retention_days=retention_days
    )


async def test_stored_image_lives_until_it_expires(repo: Repository) -> None:
    await store(repo, 1, retention_days=7)
    now = datetime.now(UTC)

    assert await repo.has_image(sha(1))
    assert await repo.purge_expired_images(now=now + 6 * DAY) == 0
    assert await repo.purge_expired_images(now=now + 8 * DAY) == 1
    assert not await repo.has_image(sha(1))


async def test_zero_retention_stores_nothing(repo: Repository) -> None:
    await store(repo, 1, retention_days=0)
    await store(repo, 2, retention_days=-3)

    assert not await repo.has_image(sha(1))
    assert not await repo.has_image(sha(2))


async def test_seeing_an_image_again_pushes_its_expiry_out_never_in(repo: Repository) -> None:
    await store(repo, 1, retention_days=1)
    await store(repo, 1, retention_days=10)
    await store(repo, 1, retention_days=2)  # a shorter retention does not pull the expiry in
    now = datetime.now(UTC)

    assert await repo.purge_expired_images(now=now + 9 * DAY) == 0
    assert await repo.purge_expired_images(now=now + 11 * DAY) == 1


async def test_a_correction_pins_the_image_forever(repo: Repository, classify: Classify) -> None:
    record = await classify(image_sha256=sha(1))
    await store(repo, 1)
    await store(repo, 2)

    await repo.record_correction(classification_id=record.id, user_id="bob", label="not_meme", trusted=False)

    assert await repo.purge_expired_images(now=datetime.now(UTC) + 36500 * DAY) == 1
    assert await repo.has_image(sha(1))
    assert not await repo.has_image(sha(2))


async def test_an_image_corrected_before_it_was_stored_is_pinned_on_arrival(
    repo: Repository, classify: Classify
) -> None:
    record = await classify(image_sha256=sha(1))
    await repo.record_correction(classification_id=record.id, user_id="bob", label="meme", trusted=False)

    await store(repo, 1, retention_days=1)

    assert await repo.purge_expired_images(now=datetime.now(UTC) + 400 * DAY) == 0
    assert await repo.has_image(sha(1))


async def test_purge_needs_an_aware_time(repo: Repository) -> None:
    with pytest.raises(ValueError, match="timezone"):
        await repo.purge_expired_images(now=datetime(2030, 1, 1))  # naive: the point of the test


async def test_touching_a_repost_pushes_its_expiry_without_new_bytes(repo: Repository) -> None:
    assert not await repo.touch_image(sha256=sha(1), retention_days=10)  # nothing stored yet
    await store(repo, 1, retention_days=1)
    assert await repo.touch_image(sha256=sha(1), retention_days=10)
    now = datetime.now(UTC)

    assert await repo.purge_expired_images(now=now + 9 * DAY) == 0
    assert await repo.purge_expired_images(now=now + 11 * DAY) == 1
