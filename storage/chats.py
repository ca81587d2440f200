"""Per-chat queries: settings with defaults, moving a chat to a new id, and /stats numbers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    AuditRow,
    ChatSettingsRow,
    ClassificationRow,
    CorrectionRow,
    ReviewItemRow,
    TrustedLabelRow,
)
from storage.records import ChatDefaults, ChatSettings, ChatStats


async def load_settings(
    session: AsyncSession, *, platform: str, chat_id: str, defaults: ChatDefaults
) -> ChatSettings:
    row = await session.get(ChatSettingsRow, (platform, chat_id))
    return _settings(platform, chat_id, defaults if row is None else row)


async def change_settings(
    session: AsyncSession,
    *,
    platform: str,
    chat_id: str,
    defaults: ChatDefaults,
    changes: Mapping[str, object],
    now: datetime,
) -> ChatSettings:
    """Applies `changes` (column -> value) to the chat's row, created from `defaults` if missing."""
    row = await session.get(ChatSettingsRow, (platform, chat_id))
    if row is None:
        row = ChatSettingsRow(platform=platform, chat_id=chat_id, **asdict(defaults))
        session.add(row)
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = now
    await session.flush()
    return _settings(platform, chat_id, row)


async def move_chat(session: AsyncSession, *, platform: str, old_chat_id: str, new_chat_id: str) -> None:
    await _move_settings(session, platform, old_chat_id, new_chat_id)
    for table in (ClassificationRow, TrustedLabelRow, ReviewItemRow, AuditRow):
        await session.execute(
            update(table)
            .where(table.platform == platform, table.chat_id == old_chat_id)
            .values(chat_id=new_chat_id)
        )
    # The chat may also be another chat's review chat.
    await session.execute(
        update(ChatSettingsRow)
        .where(ChatSettingsRow.platform == platform, ChatSettingsRow.review_chat_id == old_chat_id)
        .values(review_chat_id=new_chat_id)
    )
    await session.execute(
        update(ReviewItemRow)
        .where(ReviewItemRow.platform == platform, ReviewItemRow.review_chat_id == old_chat_id)
        .values(review_chat_id=new_chat_id)
    )


async def chat_stats(session: AsyncSession, *, platform: str, chat_id: str) -> ChatStats:
    """Counts; `corrections` are the votes that disagreed with the model's label."""
    in_chat = (ClassificationRow.platform == platform, ClassificationRow.chat_id == chat_id)
    seen = select(func.count(ClassificationRow.id), _count_where(ClassificationRow.label == "meme")).where(
        *in_chat
    )
    votes = (
        select(func.count(CorrectionRow.id), _count_where(CorrectionRow.label == ClassificationRow.label))
        .join_from(CorrectionRow, ClassificationRow, CorrectionRow.classification_id == ClassificationRow.id)
        .where(*in_chat)
    )
    images, memes = (await session.execute(seen)).one()
    feedback, agreeing = (await session.execute(votes)).one()
    return ChatStats(
        images=int(images),
        memes=int(memes),
        not_memes=int(images) - int(memes),
        corrections=int(feedback) - int(agreeing),
        feedback_votes=int(feedback),
        agreeing_votes=int(agreeing),
    )


def _count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def _move_settings(session: AsyncSession, platform: str, old_id: str, new_id: str) -> None:
    old = await session.get(ChatSettingsRow, (platform, old_id))
    if old is None:
        return
    new = await session.get(ChatSettingsRow, (platform, new_id))
    if new is not None and new.updated_at >= old.updated_at:
        await session.delete(old)  # the new chat was configured after the old one: keep that
        return
    if new is not None:
        await session.delete(new)
        await session.flush()  # the DELETE must precede the primary key change below
    old.chat_id = new_id


def _settings(platform: str, chat_id: str, source: ChatSettingsRow | ChatDefaults) -> ChatSettings:
    return ChatSettings(
        platform=platform,
        chat_id=chat_id,
        memes_only=source.memes_only,
        action=source.action,
        threshold=source.threshold,
        auto_reply=source.auto_reply,
        review_threshold=source.review_threshold,
        review_chat_id=source.review_chat_id if isinstance(source, ChatSettingsRow) else None,
    )
