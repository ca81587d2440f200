"""Classification queries: record a verdict, the messages that gave it, and find the newest match."""

from __future__ import annotations

from dataclasses import fields

from sqlalchemy import ColumnElement, Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ClassificationRow, VerdictMessageRow
from storage.records import ClassificationRecord, UnknownClassification

# A record's reply_message_id: the newest message in which the bot gave its verdict.
_NEWEST_VERDICT = (
    select(VerdictMessageRow.message_id)
    .where(VerdictMessageRow.classification_id == ClassificationRow.id)
    .order_by(VerdictMessageRow.id.desc())
    .limit(1)
    .scalar_subquery()
)


async def record(session: AsyncSession, row: ClassificationRow) -> ClassificationRecord:
    """Inserts a new classification row whose values the caller has already checked."""
    session.add(row)
    await session.flush()
    return _record(row, reply_message_id=None)


async def add_verdict_message(session: AsyncSession, *, classification_id: int, message_id: str) -> None:
    if await session.get(ClassificationRow, classification_id) is None:
        raise UnknownClassification(classification_id)
    session.add(VerdictMessageRow(classification_id=classification_id, message_id=message_id))


async def set_action_taken(session: AsyncSession, *, classification_id: int, action_taken: str) -> None:
    statement = (
        update(ClassificationRow)
        .where(ClassificationRow.id == classification_id)
        .values(action_taken=action_taken)
    )
    result = await (await session.connection()).execute(statement)
    if result.rowcount == 0:
        raise UnknownClassification(classification_id)


def matching(
    *,
    platform: str,
    chat_id: str,
    message_id: str | None,
    reply_message_id: str | None,
    image_sha256: str | None,
) -> list[ColumnElement[bool]]:
    """Conditions for classifications in the chat matching every criterion given (at least one)."""
    table = ClassificationRow
    criteria = [
        criterion
        for criterion, value in (
            (table.message_id == message_id, message_id),
            (table.id.in_(_verdict_given_in(reply_message_id)), reply_message_id),
            (table.image_sha256 == image_sha256, image_sha256),
        )
        if value is not None
    ]
    if not criteria:
        raise ValueError("find_classification needs message_id, reply_message_id or image_sha256")
    return [table.platform == platform, table.chat_id == chat_id, *criteria]


async def newest(session: AsyncSession, criteria: list[ColumnElement[bool]]) -> ClassificationRecord | None:
    """The newest classification meeting all `criteria`, with the newest message giving its verdict."""
    query = (
        select(ClassificationRow, _NEWEST_VERDICT)
        .where(*criteria)
        .order_by(ClassificationRow.created_at.desc(), ClassificationRow.id.desc())
        .limit(1)
    )
    found = (await session.execute(query)).first()
    return None if found is None else _record(found[0], reply_message_id=found[1])


def _verdict_given_in(message_id: str | None) -> Select[int]:
    """The ids of the classifications whose verdict the bot gave in `message_id`."""
    return select(VerdictMessageRow.classification_id).where(VerdictMessageRow.message_id == message_id)


def _record(row: ClassificationRow, *, reply_message_id: str | None) -> ClassificationRecord:
    columns = {
        f.name: getattr(row, f.name) for f in fields(ClassificationRecord) if f.name != "reply_message_id"
    }
    return ClassificationRecord(**columns, reply_message_id=reply_message_id)
