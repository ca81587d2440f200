"""The Alembic migrations build the schema from nothing or from an earlier revision, and match the models."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
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


def db_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite+aiosqlite:///"))


def columns(path: Path) -> dict[str, set[str]]:
    with sqlite3.connect(path) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: {row[1] for row in db.execute(f"PRAGMA table_info({table})")} for table in tables}


def version(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT version_num FROM alembic_version")]


async def test_open_creates_every_table_at_head(db_url: str) -> None:
    repo = await Repository.open(db_url)
    await repo.aclose()

    found = columns(db_path(db_url))
    assert found == {**EXPECTED_COLUMNS, "alembic_version": {"version_num"}}
    assert version(db_path(db_url)) == [head_revision()] == ["0003"]


async def test_indexes_and_constraints_exist(db_url: str) -> None:
    await upgrade(db_url)
    with sqlite3.connect(db_path(db_url)) as db:
        indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        foreign_keys = {
            table: db.execute(f"PRAGMA foreign_key_list({table})").fetchall()
            for table in ("corrections", "verdict_messages")
        }
    assert {
        "ix_classifications_image_sha256",
        "ix_classifications_platform_chat_id_created_at",
        "ix_classifications_platform_chat_id_message_id",
        "ix_images_expires_at",
        "ix_verdict_messages_classification_id",
        "ix_verdict_messages_message_id",
    } <= indexes
    for table in ("corrections", "verdict_messages"):
        assert [(fk[2], fk[3], fk[4], fk[6]) for fk in foreign_keys[table]] == [
            ("classifications", "classification_id", "id", "CASCADE")
        ]


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
    assert version(db_path(db_url)) == ["0003"]


async def test_downgrade_to_base_and_upgrade_again(db_url: str) -> None:
    await upgrade(db_url)
    await downgrade(db_url, "base")
    assert set(columns(db_path(db_url))) == {"alembic_version"}
    assert version(db_path(db_url)) == []

    repo = await Repository.open(db_url)
    await repo.aclose()
    assert set(columns(db_path(db_url))) == set(EXPECTED_COLUMNS) | {"alembic_version"}


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


def _insert_classification(path: Path, *, message_id: str, reply_message_id: str | None) -> None:
    """A row as revision 0001 stored it, verdict reply id in its own column."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute(
            "INSERT INTO classifications (platform, chat_id, message_id, user_id, image_sha256, label,"
            " confidence, model_version, reply_message_id, created_at) VALUES ('telegram', '-100', ?,"
            " 'alice', ?, 'meme', 0.9, 'v1', ?, '2026-01-01 00:00:00.000000+00:00')",
            (message_id, message_id.rjust(64, "0"), reply_message_id),
        )
        db.execute(
            "INSERT INTO corrections (classification_id, user_id, label, trusted, created_at, updated_at)"
            " SELECT id, 'bob', 'not_meme', 0, created_at, created_at FROM classifications"
            " WHERE message_id = ?",
            (message_id,),
        )


async def test_upgrade_from_0001_keeps_verdict_replies_resolvable(db_url: str) -> None:
    await upgrade(db_url, "0001")
    _insert_classification(db_path(db_url), message_id="10", reply_message_id="11")
    _insert_classification(db_path(db_url), message_id="20", reply_message_id=None)

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
    assert version(db_path(db_url)) == ["0003"]


async def test_downgrade_to_0001_keeps_the_newest_verdict_reply(db_url: str) -> None:
    await upgrade(db_url, "0001")
    _insert_classification(db_path(db_url), message_id="10", reply_message_id="11")
    repo = await Repository.open(db_url)
    try:
        record = await repo.find_classification(platform="telegram", chat_id="-100", message_id="10")
        assert record is not None
        await repo.add_verdict_message(classification_id=record.id, message_id="12")
    finally:
        await repo.aclose()

    await downgrade(db_url, "0001")
    assert version(db_path(db_url)) == ["0001"]

    with sqlite3.connect(db_path(db_url)) as db:
        assert db.execute("SELECT message_id, reply_message_id FROM classifications").fetchall() == [
            ("10", "12")
        ]
        assert db.execute("SELECT count(*) FROM corrections").fetchone() == (1,)
    assert "verdict_messages" not in columns(db_path(db_url))


def _settings_at_0002(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO chat_settings (platform, chat_id, memes_only, action, threshold, auto_reply,"
            " updated_at) VALUES ('telegram', '-100', 1, 'dryrun', 0.9, 1, '2026-01-01 00:00:00+00:00')"
        )


async def _database_at_0002(db_url: str) -> None:
    """A database at 0002 holding a classification (written at 0001) with a vote, and a chat's settings."""
    await upgrade(db_url, "0001")
    _insert_classification(db_path(db_url), message_id="10", reply_message_id=None)
    await upgrade(db_url, "0002")
    _settings_at_0002(db_path(db_url))


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
    assert version(db_path(db_url)) == ["0003"]


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

    assert version(db_path(db_url)) == ["0002"]
    found = columns(db_path(db_url))
    assert not {"trusted_labels", "review_items", "audit_log"} & set(found)
    assert found["chat_settings"] == EXPECTED_COLUMNS["chat_settings"] - {
        "review_threshold",
        "review_chat_id",
    }
    with sqlite3.connect(db_path(db_url)) as db:
        assert db.execute("SELECT action, threshold FROM chat_settings").fetchall() == [("dryrun", 0.9)]
        assert db.execute("SELECT count(*) FROM classifications").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM corrections").fetchone() == (1,)
    await upgrade(db_url)  # and back up again
    assert version(db_path(db_url)) == ["0003"]


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
    assert "chat_settings" not in columns(db_path(db_url))


async def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(db_url: str) -> None:
    await upgrade(db_url)
    with sqlite3.connect(db_path(db_url)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    engine = create_engine(db_url)
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
