"""Chat settings: defaults until changed, partial updates, validation, and chat id migration."""

from __future__ import annotations

import pytest

from storage import ChatDefaults, ChatSettings, Repository
from tests.storage.conftest import Classify


async def test_unconfigured_chat_gets_the_defaults(db_url: str) -> None:
    defaults = ChatDefaults(memes_only=True, action="warn", threshold=0.65, auto_reply=False)
    repo = await Repository.open(db_url, defaults=defaults)
    try:
        settings = await repo.get_chat_settings(platform="discord", chat_id="42")
    finally:
        await repo.aclose()
    assert settings == ChatSettings(
        "discord", "42", memes_only=True, action="warn", threshold=0.65, auto_reply=False
    )


async def test_update_changes_only_the_given_settings(repo: Repository) -> None:
    first = await repo.update_chat_settings(platform="telegram", chat_id="1", memes_only=True)
    second = await repo.update_chat_settings(platform="telegram", chat_id="1", action="dryrun", threshold=0.9)

    assert first == ChatSettings(
        "telegram", "1", memes_only=True, action="delete", threshold=0.8, auto_reply=True
    )
    assert second == ChatSettings(
        "telegram", "1", memes_only=True, action="dryrun", threshold=0.9, auto_reply=True
    )
    assert await repo.get_chat_settings(platform="telegram", chat_id="1") == second


async def test_settings_are_per_platform_and_chat(repo: Repository) -> None:
    await repo.update_chat_settings(platform="telegram", chat_id="1", auto_reply=False)

    assert (await repo.get_chat_settings(platform="discord", chat_id="1")).auto_reply is True
    assert (await repo.get_chat_settings(platform="telegram", chat_id="2")).auto_reply is True


@pytest.mark.parametrize(
    ("action", "threshold", "message"),
    [("ban", None, "action"), (None, 0.0, "threshold"), (None, 1.0, "threshold"), (None, 1.5, "threshold")],
)
async def test_invalid_settings_are_refused_and_nothing_changes(
    repo: Repository, action: str | None, threshold: float | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await repo.update_chat_settings(
            platform="telegram", chat_id="1", memes_only=True, action=action, threshold=threshold
        )
    assert (await repo.get_chat_settings(platform="telegram", chat_id="1")).memes_only is False


def test_invalid_defaults_are_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        ChatDefaults(threshold=2.0)
    with pytest.raises(ValueError, match="action"):
        ChatDefaults(action="kick")


async def test_migrate_chat_moves_settings_and_history(repo: Repository, classify: Classify) -> None:
    await repo.update_chat_settings(platform="telegram", chat_id="-5", memes_only=True, action="warn")
    old = await classify(chat_id="-5", message_id="77")
    elsewhere = await classify(platform="discord", chat_id="-5", message_id="78")

    await repo.migrate_chat(platform="telegram", old_chat_id="-5", new_chat_id="-1005")

    moved = await repo.get_chat_settings(platform="telegram", chat_id="-1005")
    assert (moved.memes_only, moved.action) == (True, "warn")
    assert (await repo.get_chat_settings(platform="telegram", chat_id="-5")).memes_only is False
    found = await repo.find_classification(platform="telegram", chat_id="-1005", message_id="77")
    assert found is not None and found.id == old.id
    assert await repo.find_classification(platform="telegram", chat_id="-5", message_id="77") is None
    assert (await repo.get_classification(elsewhere.id)) == elsewhere  # another platform's chat "-5"
    assert (await repo.chat_stats(platform="telegram", chat_id="-1005")).images == 1


async def test_migrate_chat_keeps_the_newer_settings(repo: Repository) -> None:
    await repo.update_chat_settings(platform="telegram", chat_id="-5", action="warn")
    await repo.update_chat_settings(platform="telegram", chat_id="-1005", action="dryrun")

    await repo.migrate_chat(platform="telegram", old_chat_id="-5", new_chat_id="-1005")

    assert (await repo.get_chat_settings(platform="telegram", chat_id="-1005")).action == "dryrun"
    assert (await repo.get_chat_settings(platform="telegram", chat_id="-5")).action == "delete"


async def test_migrate_chat_replaces_older_settings_of_the_new_id(repo: Repository) -> None:
    await repo.update_chat_settings(platform="telegram", chat_id="-1005", action="dryrun")
    await repo.update_chat_settings(platform="telegram", chat_id="-5", action="warn")

    await repo.migrate_chat(platform="telegram", old_chat_id="-5", new_chat_id="-1005")

    assert (await repo.get_chat_settings(platform="telegram", chat_id="-1005")).action == "warn"
