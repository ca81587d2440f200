"""A database that refuses writes (a full disk): verdicts are still given, the user is told what was
not saved, nothing raises past the core, and writing works again once space returns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from storage import DatabaseError, Repository
from tests.bot.fakechat import Harness
from tests.modelfactory import meme_jpeg, not_meme_jpeg


class DiskSpace:
    """SQLite's own "database or disk is full" (SQLITE_FULL), by capping the file at its current size
    with PRAGMA max_page_count on every transaction; `restore()` gives the space back."""

    def __init__(self) -> None:
        self.full = False

    def on_begin(self, connection: Any) -> None:
        limit = 1 if self.full else 1_073_741_823  # SQLite keeps the current size when asked for less
        connection.exec_driver_sql(f"PRAGMA max_page_count = {limit}")

    def restore(self) -> None:
        self.full = False


@pytest.fixture
def disk() -> Iterator[DiskSpace]:
    space = DiskSpace()
    event.listen(Engine, "begin", space.on_begin)
    yield space
    event.remove(Engine, "begin", space.on_begin)


async def fill_up(disk: DiskSpace, write: Callable[[int], Awaitable[object]]) -> None:
    """Write rows until the capped file is really full (SQLite fills pages before it needs more)."""
    disk.full = True
    for i in range(100_000):
        try:
            await write(i)
        except DatabaseError as exc:
            assert "full" in str(exc)
            return
    raise AssertionError("the database never filled up")


def classifications(repo: Repository) -> Callable[[int], Awaitable[object]]:
    def write(i: int) -> Awaitable[object]:
        return repo.record_classification(
            platform="filler",
            chat_id="x",
            message_id=str(i),
            user_id="u",
            image_sha256=f"{i:064x}",
            label="meme",
            confidence=0.9,
            model_version="fill",
        )

    return write


async def test_a_full_disk_still_gives_the_verdict_and_recovers(
    bot: Harness, repo: Repository, disk: DiskSpace, caplog: pytest.LogCaptureFixture
) -> None:
    await fill_up(disk, classifications(repo))
    await bot.post(meme_jpeg())
    said = bot.chat.pop()
    assert said.text.startswith("😂 Meme") and "couldn't save this verdict" in said.text
    assert not said.buttons  # no buttons for a verdict that is not on record
    assert "Sorry, something went wrong" not in said.text and "database or disk is full" in caplog.text

    disk.restore()
    posted = await bot.post(not_meme_jpeg())
    said = bot.chat.pop()
    assert said.text.startswith("🖼️ Not a meme") and "couldn't save" not in said.text and said.buttons
    record = await repo.find_classification(platform="test", chat_id="chat-1", message_id=posted)
    assert record is not None and record.label == "not_meme"


async def test_a_correction_that_cannot_be_saved_says_so(
    bot: Harness, repo: Repository, disk: DiskSpace
) -> None:
    posted = await bot.post(meme_jpeg(3))
    bot.chat.pop()
    record = await repo.find_classification(platform="test", chat_id="chat-1", message_id=posted)
    assert record is not None
    await fill_up(
        disk,
        lambda i: repo.record_correction(
            classification_id=record.id, user_id=f"u{i}", label="meme", trusted=False
        ),
    )
    await bot.command("/correct not_meme", reply_to=posted)
    assert "couldn't save that correction" in bot.chat.pop().text
