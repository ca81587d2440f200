"""Corrections: one vote per user per classification, and the per-chat numbers behind /stats."""

from __future__ import annotations

from typing import Any

import pytest

from storage import ChatStats, CorrectionRecord, Repository, UnknownClassification
from tests.storage.conftest import Classify
from tests.storage.sql import fetch


async def correction_rows(db_url: str) -> list[tuple[Any, ...]]:
    return await fetch(
        db_url, "SELECT classification_id, user_id, label, trusted FROM corrections ORDER BY id"
    )


async def test_a_user_changing_their_mind_updates_their_vote(
    repo: Repository, classify: Classify, db_url: str
) -> None:
    record = await classify(label="meme")

    first = await repo.record_correction(
        classification_id=record.id, user_id="bob", label="not_meme", trusted=False
    )
    second = await repo.record_correction(
        classification_id=record.id, user_id="bob", label="meme", trusted=True
    )

    assert first == CorrectionRecord(first.id, record.id, "bob", "not_meme", trusted=False, created=True)
    assert second == CorrectionRecord(first.id, record.id, "bob", "meme", trusted=True, created=False)
    assert await correction_rows(db_url) == [(record.id, "bob", "meme", True)]


async def test_different_users_each_get_a_vote(repo: Repository, classify: Classify, db_url: str) -> None:
    record = await classify()

    await repo.record_correction(classification_id=record.id, user_id="bob", label="not_meme", trusted=False)
    other = await repo.record_correction(
        classification_id=record.id, user_id="eve", label="not_meme", trusted=False
    )

    assert other.created is True
    assert len(await correction_rows(db_url)) == 2


async def test_correction_validation(repo: Repository, classify: Classify) -> None:
    record = await classify()
    with pytest.raises(ValueError, match="label"):
        await repo.record_correction(classification_id=record.id, user_id="bob", label="funny", trusted=False)
    with pytest.raises(UnknownClassification):
        await repo.record_correction(
            classification_id=record.id + 1, user_id="bob", label="meme", trusted=False
        )


async def test_chat_stats(repo: Repository, classify: Classify) -> None:
    meme_a = await classify(label="meme")
    meme_b = await classify(label="meme")
    not_meme = await classify(label="not_meme")
    elsewhere = await classify(chat_id="-999", label="not_meme")
    votes = [
        (meme_a, "alice", "meme"),  # agrees
        (meme_b, "alice", "not_meme"),
        (not_meme, "bob", "meme"),
        (not_meme, "carol", "not_meme"),  # agrees
        (elsewhere, "bob", "meme"),
    ]
    for record, user, label in votes:
        await repo.record_correction(classification_id=record.id, user_id=user, label=label, trusted=False)

    stats = await repo.chat_stats(platform="telegram", chat_id="-100")

    assert stats == ChatStats(
        images=3, memes=2, not_memes=1, corrections=2, feedback_votes=4, agreeing_votes=2
    )
    assert stats.meme_share == pytest.approx(2 / 3)
    assert stats.agreement_rate == pytest.approx(0.5)


async def test_stats_of_an_empty_chat(repo: Repository) -> None:
    stats = await repo.chat_stats(platform="discord", chat_id="1")

    assert stats == ChatStats(0, 0, 0, 0, 0, 0)
    assert stats.meme_share is None and stats.agreement_rate is None
