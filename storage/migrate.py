"""Alembic migrations run programmatically: `await upgrade(url)` brings a database to head."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import WRITE_INTENT, create_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# PostgreSQL advisory lock key taken by every migration run ("memebot" in ASCII), held until commit.
MIGRATION_LOCK_KEY = 0x6D656D65626F74


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config without alembic.ini; env.py migrates the connection given here."""
    config = Config()
    # ConfigParser interpolates '%', which may occur in an install path.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


async def upgrade(url: str, revision: str = "head") -> None:
    """Upgrades the database at `url`; a database already at `revision` is left as it is."""
    engine = create_engine(url)
    try:
        await upgrade_engine(engine, revision)
    finally:
        await engine.dispose()


async def downgrade(url: str, revision: str) -> None:
    engine = create_engine(url)
    try:
        await _run_command(engine, command.downgrade, revision)
    finally:
        await engine.dispose()


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    await _run_command(engine, command.upgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def _run_command(engine: AsyncEngine, run: Callable[[Config, str], None], revision: str) -> None:
    # One write transaction for the whole run, so two bot processes starting at once queue and the
    # second finds the schema at head, and a failing migration leaves the schema as it was (DDL is
    # transactional on both engines). SQLite queues on its write lock. PostgreSQL takes no such lock
    # by itself (four processes opening a new database at once hung without one), so they queue on
    # an advisory lock instead.
    async with engine.connect() as connection:
        await connection.execution_options(**{WRITE_INTENT: True})
        async with connection.begin():
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            await connection.run_sync(lambda sync: run(alembic_config(sync), revision))
