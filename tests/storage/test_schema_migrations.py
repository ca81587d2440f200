"""The Alembic migrations build the schema from nothing or from an earlier revision, and match the models.

Every test taking `db_url` runs on a real SQLite file and on a real PostgreSQL server.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable

from storage import Repository
from storage.engine import create_engine
from storage.migrate import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from storage.models import Base
from tests.storage.sql import fetch, on, run_sql

EXPECTED_COLUMNS = {
    "chat_settings": {
        "platform",
        "chat_id",
        "memes_only",
        "action",
        "threshold",
        "auto_reply",
        "review_threshold",
        "review_chat_id",
        "updated_at",
    },
    "classifications": {
        "id",
        "platform",
        "chat_id",
        "message_id",
        "user_id",
        "image_sha256",
        "label",
        "confidence",
        "model_version",
        "action_taken",
        "created_at",
    },
    "verdict_messages": {"id", "classification_id", "message_id"},
    "images": {"sha256", "data", "width", "height", "first_seen", "last_seen", "expires_at", "pinned"},
    "corrections": {"id", "classification_id", "user_id", "label", "trusted", "created_at", "updated_at"},
    "trusted_labels": {
        "id",
        "platform",
        "chat_id",
        "image_sha256",
        "label",
        "phash",
        "pixels",
        "classification_id",
        "set_by",
        "set_by_name",
        "created_at",
        "updated_at",
    },
    "review_items": {
        "id",
        "platform",
        "chat_id",
        "classification_id",
        "kind",
        "status",
        "poster_id",
        "poster_name",
        "review_chat_id",
        "review_message_id",
        "created_at",
        "decided_by",
        "decided_by_name",
        "decided_at",
    },
    "audit_log": {
        "id",
        "platform",
        "chat_id",
        "created_at",
        "actor_id",
        "actor_name",
        "action",
        "subject",
        "old_value",
        "new_value",
    },
}


async def columns(url: str) -> dict[str, set[str]]:
    def look(sync: Connection) -> dict[str, set[str]]:
        inspector = inspect(sync)
        return {
            table: {column["name"] for column in inspector.get_columns(table)}
            for table in inspector.get_table_names()
        }

    return await on(url, look)


async def version(url: str) -> list[str]:
    return [row[0] for row in await fetch(url, "SELECT version_num FROM alembic_version")]


async def test_open_creates_every_table_at_head(db_url: str) -> None:
    repo = await Repository.open(db_url)
    await repo.aclose()

    found = await columns(db_url)
    assert found == {**EXPECTED_COLUMNS, "alembic_version": {"version_num"}}
    assert await version(db_url) == [head_revision()] == ["0003"]


async def test_indexes_and_constraints_exist(db_url: str) -> None:
    await upgrade(db_url)

    def look(sync: Connection) -> tuple[set[str], dict[str, list[tuple[Any, ...]]]]:
        inspector = inspect(sync)
        indexes = {str(index["name"]) for table in EXPECTED_COLUMNS for index in inspector.get_indexes(table)}
        foreign_keys = {
            table: [
                (
                    fk["referred_table"],
                    fk["constrained_columns"],
                    fk["referred_columns"],
                    fk["options"].get("ondelete"),
                )
                for fk in inspector.get_foreign_keys(table)
            ]
            for table in ("corrections", "verdict_messages")
        }
        return indexes, foreign_keys

    indexes, foreign_keys = await on(db_url, look)
    assert {
        "ix_classifications_image_sha256",
        "ix_classifications_platform_chat_id_created_at",
        "ix_classifications_platform_chat_id_message_id",
        "ix_images_expires_at",
        "ix_verdict_messages_classification_id",
        "ix_verdict_messages_message_id",
    } <= indexes
    for table in ("corrections", "verdict_messages"):
        assert foreign_keys[table] == [("classifications", ["classification_id"], ["id"], "CASCADE")]


async def test_opening_twice_keeps_data_and_version(db_url: str) -> None:
    repo = await Repository.open(db_url)
    await repo.update_chat_settings(platform="discord", chat_id="9", memes_only=True)
    await repo.aclose()

    repo = await Repository.open(db_url)
    try:
        settings = await repo.get_chat_settings(platform="discord", chat_id="9")
    finally:
        await repo.aclose()
    assert settings.memes_only is True
    assert await version(db_url) == ["0003"]


async def test_downgrade_to_base_and_upgrade_again(db_url: str) -> None:
    await upgrade(db_url)
    await downgrade(db_url, "base")
    assert set(await columns(db_url)) == {"alembic_version"}
    assert await version(db_url) == []

    repo = await Repository.open(db_url)
    await repo.aclose()
    assert set(await columns(db_url)) == set(EXPECTED_COLUMNS) | {"alembic_version"}


async def test_processes_opening_a_new_database_at_once_migrate_it_once(db_url: str) -> None:
    """Bot processes started together each run the migrations: they queue, and the later ones find
    the schema at head instead of failing on tables that already exist."""
    opened = await asyncio.wait_for(
        asyncio.gather(*(Repository.open(db_url) for _ in range(4)), return_exceptions=True), timeout=60
    )
    for repository in opened:
        if isinstance(repository, Repository):
            await repository.aclose()
    assert [type(error) for error in opened if isinstance(error, BaseException)] == []
    assert await version(db_url) == [head_revision()]
    assert set(await columns(db_url)) == set(EXPECTED_COLUMNS) | {"alembic_version"}


async def test_database_at_an_earlier_revision_is_upgraded_on_open(db_url: str) -> None:
    await upgrade(db_url, "base")
    engine = create_engine(db_url)
    try:
        assert await current_revision(engine) is None
        repo = await Repository.open(db_url)
        await repo.aclose()
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def _insert_classification(url: str, *, message_id: str, reply_message_id: str | None) -> None:
    """A row as revision 0001 stored it, verdict reply id in its own column, with a member's vote."""

    def insert(sync: Connection) -> None:
        sync.execute(
            text(
                "INSERT INTO classifications (platform, chat_id, message_id, user_id, image_sha256, label,"
                " confidence, model_version, reply_message_id, created_at) VALUES ('telegram', '-100',"
                " :message_id, 'alice', :sha, 'meme', 0.9, 'v1', :reply, '2026-01-01 00:00:00+00:00')"
            ),
            {"message_id": message_id, "sha": message_id.rjust(64, "0"), "reply": reply_message_id},
        )
        sync.execute(
            text(
                "INSERT INTO corrections (classification_id, user_id, label, trusted, created_at, updated_at)"
                " SELECT id, 'bob', 'not_meme', false, created_at, created_at FROM classifications"
                " WHERE message_id = :message_id"
            ),
            {"message_id": message_id},
        )

    await on(url, insert)


async def test_upgrade_from_0001_keeps_verdict_replies_resolvable(db_url: str) -> None:
    await upgrade(db_url, "0001")
    await _insert_classification(db_url, message_id="10", reply_message_id="11")
    await _insert_classification(db_url, message_id="20", reply_message_id=None)

    repo = await Repository.open(db_url)
    try:
        where = {"platform": "telegram", "chat_id": "-100"}
        found = await repo.find_classification(**where, reply_message_id="11")
        assert found is not None and (found.message_id, found.reply_message_id) == ("10", "11")
        unanswered = await repo.find_classification(**where, message_id="20")
        assert unanswered is not None and unanswered.reply_message_id is None
        assert (await repo.chat_stats(**where)).feedback_votes == 2  # the corrections survived
    finally:
        await repo.aclose()
    assert await version(db_url) == ["0003"]


async def test_downgrade_to_0001_keeps_the_newest_verdict_reply(db_url: str) -> None:
    await upgrade(db_url, "0001")
    await _insert_classification(db_url, message_id="10", reply_message_id="11")
    repo = await Repository.open(db_url)
    try:
        record = await repo.find_classification(platform="telegram", chat_id="-100", message_id="10")
        assert record is not None
        await repo.add_verdict_message(classification_id=record.id, message_id="12")
    finally:
        await repo.aclose()

    await downgrade(db_url, "0001")
    assert await version(db_url) == ["0001"]

    assert await fetch(db_url, "SELECT message_id, reply_message_id FROM classifications") == [("10", "12")]
    assert await fetch(db_url, "SELECT count(*) FROM corrections") == [(1,)]
    assert "verdict_messages" not in await columns(db_url)


async def _database_at_0002(db_url: str) -> None:
    """A database at 0002 holding a classification (written at 0001) with a vote, and a chat's settings."""
    await upgrade(db_url, "0001")
    await _insert_classification(db_url, message_id="10", reply_message_id=None)
    await upgrade(db_url, "0002")
    await run_sql(
        db_url,
        "INSERT INTO chat_settings (platform, chat_id, memes_only, action, threshold, auto_reply,"
        " updated_at) VALUES ('telegram', '-100', true, 'dryrun', 0.9, true, '2026-01-01 00:00:00+00:00')",
    )


async def test_upgrade_from_0002_keeps_settings_and_opens_the_review_band(db_url: str) -> None:
    await _database_at_0002(db_url)

    repo = await Repository.open(db_url)
    try:
        where = {"platform": "telegram", "chat_id": "-100"}
        settings = await repo.get_chat_settings(**where)
        assert (settings.memes_only, settings.action, settings.threshold) == (True, "dryrun", 0.9)
        assert (settings.review_threshold, settings.review_chat_id) == (0.5, None)
        record = await repo.find_classification(**where, message_id="10")
        assert record is not None
        await repo.moderation.set_label(
            **where,
            image_sha256=record.image_sha256,
            label="not_meme",
            phash=1,
            pixels=bytes(4096),
            classification_id=record.id,
            user_id="mod",
            user_name="Mod",
        )
        await repo.moderation.queue(
            classification_id=record.id, kind="appeal", poster_id="alice", poster_name="A"
        )
        await repo.moderation.audit(**where, actor_id="mod", actor_name="Mod", action="label")
    finally:
        await repo.aclose()
    assert await version(db_url) == ["0003"]


async def test_downgrade_from_0003_keeps_the_older_data(db_url: str) -> None:
    await _database_at_0002(db_url)
    repo = await Repository.open(db_url)
    try:
        record = await repo.find_classification(platform="telegram", chat_id="-100", message_id="10")
        assert record is not None
        await repo.moderation.queue(
            classification_id=record.id, kind="review", poster_id="alice", poster_name="A"
        )
        await repo.update_chat_settings(platform="telegram", chat_id="-100", review_threshold=0.6)
    finally:
        await repo.aclose()

    await downgrade(db_url, "0002")

    assert await version(db_url) == ["0002"]
    found = await columns(db_url)
    assert not {"trusted_labels", "review_items", "audit_log"} & set(found)
    assert found["chat_settings"] == EXPECTED_COLUMNS["chat_settings"] - {
        "review_threshold",
        "review_chat_id",
    }
    assert await fetch(db_url, "SELECT action, threshold FROM chat_settings") == [("dryrun", 0.9)]
    assert await fetch(db_url, "SELECT count(*) FROM classifications") == [(1,)]
    assert await fetch(db_url, "SELECT count(*) FROM corrections") == [(1,)]
    await upgrade(db_url)  # and back up again
    assert await version(db_url) == ["0003"]


async def test_migration_matches_the_models(db_url: str) -> None:
    await upgrade(db_url)
    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_open_without_upgrade_leaves_the_schema_alone(db_url: str) -> None:
    repo = await Repository.open(db_url, upgrade=False)
    await repo.aclose()
    assert "chat_settings" not in await columns(db_url)


async def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(sqlite_url: str) -> None:
    await upgrade(sqlite_url)
    with sqlite3.connect(Path(sqlite_url.removeprefix("sqlite+aiosqlite:///"))) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar()
            busy_timeout = (await connection.execute(text("PRAGMA busy_timeout"))).scalar()
    finally:
        await engine.dispose()
    assert foreign_keys == 1
    assert busy_timeout is not None and busy_timeout >= 5000


async def test_missing_directories_are_created(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a' / 'b' / 'bot.db'}"
    repo = await Repository.open(url)
    await repo.aclose()
    assert (tmp_path / "a" / "b" / "bot.db").is_file()


@pytest.mark.parametrize("url", ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="in-memory"):
        create_engine(url)


@pytest.mark.parametrize("table", sorted(Base.metadata.tables))
def test_tables_compile_for_postgresql(table: str) -> None:
    ddl = str(CreateTable(Base.metadata.tables[table]).compile(dialect=postgresql.dialect()))
    assert ddl.count("TIMESTAMP") == ddl.count("TIMESTAMP WITH TIME ZONE")  # every time is zone-aware


def test_new_revisions_render_from_the_template(tmp_path: Path) -> None:
    config = alembic_config()
    config.set_main_option(
        "version_locations", os.pathsep.join([str(MIGRATIONS_DIR / "versions"), str(tmp_path)])
    )

    script = command.revision(config, message="add a column", rev_id="0004", version_path=str(tmp_path))

    assert script is not None and not isinstance(script, list)
    source = Path(script.path).read_text()
    compile(source, script.path, "exec")
    assert "revision: str = '0004'" in source
    assert "down_revision: str | None = '0003'" in source
