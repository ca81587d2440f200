"""Async engine creation: SQLite pragmas and write locking, PostgreSQL as given."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

T = TypeVar("T")
BUSY_TIMEOUT_MS = 15_000
# Execution option of transactions that will write. SQLite starts them with BEGIN IMMEDIATE: a
# deferred transaction that reads first cannot upgrade to a write lock once another writer has
# committed (SQLITE_BUSY without waiting), whereas IMMEDIATE queues on the busy timeout.
WRITE_INTENT = "memebot_write_intent"

_SQLITE_PRAGMAS = (
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys = ON",
    "PRAGMA journal_mode = WAL",
    # NORMAL is durable across application crashes in WAL mode and much cheaper than FULL.
    "PRAGMA synchronous = NORMAL",
)


def create_engine(url: str) -> AsyncEngine:
    """Returns an engine for `url`; SQLite files get their directory and per-connection pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(parsed, pool_pre_ping=True)
    _ensure_sqlite_directory(parsed)
    engine = create_async_engine(parsed)
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", _begin_sqlite_transaction)
    return engine


def session_factories(
    engine: AsyncEngine,
) -> tuple[async_sessionmaker[AsyncSession], async_sessionmaker[AsyncSession]]:
    """Returns (readers, writers); writers take the database write lock when they begin."""
    readers = async_sessionmaker(engine, expire_on_commit=False)
    writers = async_sessionmaker(engine, expire_on_commit=False, execution_options={WRITE_INTENT: True})
    return readers, writers


def _ensure_sqlite_directory(url: URL) -> None:
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        # One shared in-memory connection cannot hold the concurrent transactions the bot runs.
        raise ValueError(
            "in-memory SQLite is not supported: use a file, e.g. sqlite+aiosqlite:///data/memebot.db"
        )
    if database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite_connection(dbapi_connection: Any, connection_record: Any) -> None:
    # The driver's own implicit BEGIN skips SELECTs and DDL; SQLAlchemy emits BEGIN instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(WRITE_INTENT, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


async def upsert(
    writers: async_sessionmaker[AsyncSession], apply: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    """Runs `apply` in a write transaction, once more if it lost an insert race: a read-then-insert
    can lose one to another process on PostgreSQL (SQLite writers are serialised by BEGIN
    IMMEDIATE); the retry then finds the row and updates it."""
    try:
        async with writers.begin() as session:
            return await apply(session)
    except IntegrityError:
        async with writers.begin() as session:
            return await apply(session)
