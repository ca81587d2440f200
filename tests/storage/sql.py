"""Plain SQL on a test database, whichever engine it is on, for looking under the repository."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, text

from storage.engine import create_engine

T = TypeVar("T")


async def on(url: str, work: Callable[[Connection], T]) -> T:
    """Runs `work` on a plain synchronous connection to the database, in one transaction."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


async def run_sql(url: str, statement: str, **params: Any) -> None:
    await on(url, lambda sync: sync.execute(text(statement), params))


async def fetch(url: str, statement: str) -> list[tuple[Any, ...]]:
    return await on(url, lambda sync: [tuple(row) for row in sync.execute(text(statement))])
