"""Classifications: recorded with UTC times, found by message, any verdict message or image."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage import Repository, UnknownClassification
from tests.storage.conftest import Classify, sha


async def test_record_returns_the_stored_classification(repo: Repository, classify: Classify) -> None:
    before = datetime.now(UTC)
    record = await classify(
        message_id="10", user_id="alice", label="not_meme", confidence=0.75, action_taken="warned"
    )

    assert record.id > 0
    assert (record.message_id, record.user_id, record.label, record.confidence) == (
        "10",
        "alice",
        "not_meme",
        0.75,
    )
    assert record.action_taken == "warned" and record.reply_message_id is None
    assert record.created_at.tzinfo is not None
    assert before <= record.created_at <= datetime.now(UTC) + timedelta(seconds=1)
    assert await repo.get_classification(record.id) == record


async def test_find_by_message_reply_or_image(repo: Repository, classify: Classify) -> None:
    record = await classify(message_id="10", image_sha256=sha(500))
    await repo.add_verdict_message(classification_id=record.id, message_id="11")
    where = {"platform": "telegram", "chat_id": "-100"}

    by_message = await repo.find_classification(**where, message_id="10")
    by_reply = await repo.find_classification(**where, reply_message_id="11")
    by_image = await repo.find_classification(**where, image_sha256=sha(500))

    assert by_message == by_reply == by_image
    assert by_message is not None and by_message.reply_message_id == "11"
    assert await repo.find_classification(**where, message_id="11") is None
    assert await repo.find_classification(platform="telegram", chat_id="-200", message_id="10") is None


async def test_every_verdict_message_leads_back_to_its_record(repo: Repository, classify: Classify) -> None:
    record = await classify(message_id="10")
    elsewhere = await classify(chat_id="-200", message_id="10")
    await repo.add_verdict_message(classification_id=record.id, message_id="11")
    await repo.add_verdict_message(classification_id=elsewhere.id, message_id="11")  # ids are per chat
    await repo.add_verdict_message(classification_id=record.id, message_id="12")  # /classify again
    where = {"platform": "telegram", "chat_id": "-100"}

    by_first = await repo.find_classification(**where, reply_message_id="11")
    by_second = await repo.find_classification(**where, reply_message_id="12")

    assert by_first == by_second == await repo.get_classification(record.id)
    assert by_first is not None and (by_first.id, by_first.reply_message_id) == (record.id, "12")
    other = await repo.find_classification(platform="telegram", chat_id="-200", reply_message_id="11")
    assert other is not None and (other.id, other.reply_message_id) == (elsewhere.id, "11")
    assert await repo.find_classification(**where, reply_message_id="13") is None


async def test_verdict_messages_follow_a_migrated_chat(repo: Repository, classify: Classify) -> None:
    record = await classify(chat_id="-5", message_id="77")
    await repo.add_verdict_message(classification_id=record.id, message_id="78")

    await repo.migrate_chat(platform="telegram", old_chat_id="-5", new_chat_id="-1005")

    found = await repo.find_classification(platform="telegram", chat_id="-1005", reply_message_id="78")
    assert found is not None and found.id == record.id
    assert await repo.find_classification(platform="telegram", chat_id="-5", reply_message_id="78") is None


async def test_find_returns_the_newest_match(repo: Repository, classify: Classify) -> None:
    await classify(message_id="10", label="meme")
    newest = await classify(message_id="10", label="not_meme")  # an edited message, classified again

    found = await repo.find_classification(platform="telegram", chat_id="-100", message_id="10")

    assert found == newest


async def test_find_matches_every_given_criterion(repo: Repository, classify: Classify) -> None:
    first = await classify(message_id="10", image_sha256=sha(1))
    second = await classify(message_id="10", image_sha256=sha(2))  # one message, two images
    where = {"platform": "telegram", "chat_id": "-100", "message_id": "10"}

    assert await repo.find_classification(**where, image_sha256=sha(1)) == first
    assert await repo.find_classification(**where, image_sha256=sha(2)) == second
    assert await repo.find_classification(**where, image_sha256=sha(3)) is None


async def test_find_needs_a_criterion(repo: Repository) -> None:
    with pytest.raises(ValueError, match="needs"):
        await repo.find_classification(platform="telegram", chat_id="-100")


async def test_set_action_taken(repo: Repository, classify: Classify) -> None:
    record = await classify()
    await repo.set_action_taken(classification_id=record.id, action_taken="delete_failed")

    stored = await repo.get_classification(record.id)
    assert stored is not None and stored.action_taken == "delete_failed"
    with pytest.raises(ValueError, match="action_taken"):
        await repo.set_action_taken(classification_id=record.id, action_taken="banned")


async def test_unknown_classification_ids(repo: Repository) -> None:
    assert await repo.get_classification(12345) is None
    with pytest.raises(UnknownClassification):
        await repo.add_verdict_message(classification_id=12345, message_id="1")
    with pytest.raises(UnknownClassification):
        await repo.set_action_taken(classification_id=12345, action_taken="deleted")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"label": "cat"}, "label"),
        ({"confidence": 1.5}, "confidence"),
        ({"action_taken": "x"}, "action_taken"),
    ],
)
async def test_invalid_classifications_are_refused(
    classify: Classify, override: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await classify(**override)
