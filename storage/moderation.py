"""Moderation records: trusted labels, review items (the review band and appeals) and the audit log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import images
from storage.engine import upsert
from storage.models import (
    AuditRow,
    ChatSettingsRow,
    ClassificationRow,
    CorrectionRow,
    ReviewItemRow,
    TrustedLabelRow,
)
from storage.records import (
    REVIEW_OUTCOMES,
    AuditEntry,
    ReviewItem,
    TrustedLabel,
    UnknownClassification,
    check_label,
    check_review_kind,
)

T = TypeVar("T")
R = TypeVar("R", TrustedLabel, ReviewItem, AuditEntry)
MAX_TEXT = 256  # audit values and names are cut to their columns' size


def _now() -> datetime:
    return datetime.now(UTC)


class ModerationRepository:
    """The moderation half of the Repository (reached as `repo.moderation`); same engine, same rules."""

    def __init__(
        self, read: async_sessionmaker[AsyncSession], write: async_sessionmaker[AsyncSession]
    ) -> None:
        self._read = read
        self._write = write

    # ---- trusted labels ------------------------------------------------------------------------

    async def set_label(
        self,
        *,
        platform: str,
        chat_id: str,
        image_sha256: str,
        label: str,
        phash: int | None,
        pixels: bytes | None,
        classification_id: int | None,
        user_id: str,
        user_name: str,
    ) -> tuple[TrustedLabel, str | None]:
        """Makes `label` the chat's label for the image; returns it and the label it replaced, if any."""
        check_label(label)

        async def apply(session: AsyncSession) -> tuple[TrustedLabel, str | None]:
            row = await session.scalar(_label_query(platform, chat_id, image_sha256))
            now, old = _now(), None if row is None else row.label
            if row is None:
                row = TrustedLabelRow(
                    platform=platform, chat_id=chat_id, image_sha256=image_sha256, created_at=now
                )
                session.add(row)
            row.label, row.classification_id = label, classification_id
            if pixels is not None or row.pixels is None:
                row.phash = None if phash is None else f"{phash:016x}"
                row.pixels = pixels
            row.set_by, row.set_by_name, row.updated_at = user_id, user_name[:MAX_TEXT], now
            await images.pin(session, image_sha256)  # a label's image is kept, like a corrected one
            await session.flush()
            return _label(row), old

        return await self._upsert(apply)

    async def find_label(self, *, platform: str, chat_id: str, image_sha256: str) -> TrustedLabel | None:
        async with self._read() as session:
            row = await session.scalar(_label_query(platform, chat_id, image_sha256))
            return None if row is None else _label(row)

    async def get_label(self, label_id: int) -> TrustedLabel | None:
        async with self._read() as session:
            row = await session.get(TrustedLabelRow, label_id)
            return None if row is None else _label(row)

    async def label_candidates(
        self, *, platform: str, chat_id: str, phash: int, max_distance: int
    ) -> list[TrustedLabel]:
        """The chat's labels whose pHash is within `max_distance` bits (pixels loaded for those only)."""
        async with self._read() as session:
            hashes = await session.execute(
                select(TrustedLabelRow.id, TrustedLabelRow.phash).where(
                    TrustedLabelRow.platform == platform,
                    TrustedLabelRow.chat_id == chat_id,
                    TrustedLabelRow.phash.is_not(None),
                )
            )
            near = [
                i for i, h in hashes if h is not None and (int(h, 16) ^ phash).bit_count() <= max_distance
            ]
            if not near:
                return []
            rows = await session.scalars(
                select(TrustedLabelRow).where(TrustedLabelRow.id.in_(near)).order_by(TrustedLabelRow.id)
            )
            return [_label(row) for row in rows]

    async def labels(self, *, platform: str, chat_id: str, limit: int = 20) -> list[TrustedLabel]:
        """The chat's labels, newest first."""
        async with self._read() as session:
            rows = await session.scalars(
                select(TrustedLabelRow)
                .where(TrustedLabelRow.platform == platform, TrustedLabelRow.chat_id == chat_id)
                .order_by(TrustedLabelRow.updated_at.desc(), TrustedLabelRow.id.desc())
                .limit(limit)
            )
            return [_label(row) for row in rows]

    async def remove_label(self, label_id: int) -> TrustedLabel | None:
        """Undoes a label, and the moderators' votes that made it: the export must not carry it either.
        Returns the removed label, None when there was none (already undone)."""
        async with self._write.begin() as session:
            row = await session.get(TrustedLabelRow, label_id)
            if row is None:
                return None
            removed = _label(row)
            in_chat = select(ClassificationRow.id).where(
                ClassificationRow.platform == row.platform,
                ClassificationRow.chat_id == row.chat_id,
                ClassificationRow.image_sha256 == row.image_sha256,
            )
            await session.execute(
                delete(CorrectionRow).where(
                    CorrectionRow.trusted.is_(True),
                    CorrectionRow.label == row.label,
                    CorrectionRow.classification_id.in_(in_chat),
                )
            )
            await session.delete(row)
            return removed

    # ---- review items --------------------------------------------------------------------------

    async def queue(
        self, *, classification_id: int, kind: str, poster_id: str, poster_name: str
    ) -> tuple[ReviewItem, bool]:
        """Queues a classification for review or appeal; (the item, whether it is new): one of each
        kind per classification, so a second appeal returns the first."""
        check_review_kind(kind)

        async def apply(session: AsyncSession) -> tuple[ReviewItem, bool]:
            found = await session.scalar(_item_query(classification_id, kind))
            if found is not None:
                return _item(found), False
            target = await session.get(ClassificationRow, classification_id)
            if target is None:
                raise UnknownClassification(classification_id)
            row = ReviewItemRow(
                platform=target.platform,
                chat_id=target.chat_id,
                classification_id=classification_id,
                kind=kind,
                status="open",
                poster_id=poster_id,
                poster_name=poster_name[:MAX_TEXT],
                created_at=_now(),
            )
            session.add(row)
            await images.pin(session, target.image_sha256)  # the copy an upheld appeal reposts
            await session.flush()
            return _item(row), True

        return await self._upsert(apply)

    async def get_item(self, item_id: int) -> ReviewItem | None:
        async with self._read() as session:
            row = await session.get(ReviewItemRow, item_id)
            return None if row is None else _item(row)

    async def find_item(self, *, classification_id: int, kind: str) -> ReviewItem | None:
        async with self._read() as session:
            row = await session.scalar(_item_query(classification_id, kind))
            return None if row is None else _item(row)

    async def open_items(
        self, *, platform: str, chat_ids: Sequence[str], limit: int = 10
    ) -> tuple[list[ReviewItem], int]:
        """Open items of these chats, oldest first (at most `limit`), and how many are open in all."""
        where = (
            ReviewItemRow.platform == platform,
            ReviewItemRow.chat_id.in_(list(chat_ids)),
            ReviewItemRow.status == "open",
        )
        async with self._read() as session:
            rows = await session.scalars(
                select(ReviewItemRow).where(*where).order_by(ReviewItemRow.id).limit(limit)
            )
            items = [_item(row) for row in rows]
            total = await session.scalar(select(func.count(ReviewItemRow.id)).where(*where))
            return items, int(total or 0)

    async def decide(self, *, item_id: int, status: str, user_id: str, user_name: str) -> ReviewItem | None:
        """Decides an open item; None when it was not open (another moderator was first): one
        conditional UPDATE, so two moderators deciding at once give one outcome on any backend."""
        async with self._write.begin() as session:
            row = await session.get(ReviewItemRow, item_id)
            if row is None:
                return None
            if status not in REVIEW_OUTCOMES[row.kind]:
                raise ValueError(f"a {row.kind} is {' or '.join(REVIEW_OUTCOMES[row.kind])}, not {status!r}")
            result = await (await session.connection()).execute(
                update(ReviewItemRow)
                .where(ReviewItemRow.id == item_id, ReviewItemRow.status == "open")
                .values(
                    status=status, decided_by=user_id, decided_by_name=user_name[:MAX_TEXT], decided_at=_now()
                )
            )
            if result.rowcount != 1:
                return None
            await session.refresh(row)
            return _item(row)

    async def set_review_message(self, *, item_id: int, review_chat_id: str, message_id: str) -> None:
        async with self._write.begin() as session:
            await session.execute(
                update(ReviewItemRow)
                .where(ReviewItemRow.id == item_id)
                .values(review_chat_id=review_chat_id, review_message_id=message_id)
            )

    async def chats_reviewed_in(self, *, platform: str, review_chat_id: str) -> list[str]:
        """The chats whose review chat this is."""
        async with self._read() as session:
            rows = await session.scalars(
                select(ChatSettingsRow.chat_id).where(
                    ChatSettingsRow.platform == platform, ChatSettingsRow.review_chat_id == review_chat_id
                )
            )
            return sorted(rows)

    # ---- audit log -----------------------------------------------------------------------------

    async def audit(
        self,
        *,
        platform: str,
        chat_id: str,
        actor_id: str,
        actor_name: str,
        action: str,
        subject: str | None = None,
        old_value: object = None,
        new_value: object = None,
    ) -> AuditEntry:
        async with self._write.begin() as session:
            row = AuditRow(
                platform=platform,
                chat_id=chat_id,
                created_at=_now(),
                actor_id=actor_id,
                actor_name=actor_name[:MAX_TEXT],
                action=action,
                subject=_text(subject),
                old_value=_text(old_value),
                new_value=_text(new_value),
            )
            session.add(row)
            await session.flush()
            return _audit(row)

    async def audit_entries(self, *, platform: str, chat_id: str, limit: int = 20) -> list[AuditEntry]:
        """The chat's newest audit entries, newest first."""
        async with self._read() as session:
            rows = await session.scalars(
                select(AuditRow)
                .where(AuditRow.platform == platform, AuditRow.chat_id == chat_id)
                .order_by(AuditRow.id.desc())
                .limit(limit)
            )
            return [_audit(row) for row in rows]

    async def _upsert(self, apply: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return await upsert(self._write, apply)


def _label_query(platform: str, chat_id: str, image_sha256: str) -> Select[TrustedLabelRow]:
    return select(TrustedLabelRow).where(
        TrustedLabelRow.platform == platform,
        TrustedLabelRow.chat_id == chat_id,
        TrustedLabelRow.image_sha256 == image_sha256,
    )


def _item_query(classification_id: int, kind: str) -> Select[ReviewItemRow]:
    return select(ReviewItemRow).where(
        ReviewItemRow.classification_id == classification_id, ReviewItemRow.kind == kind
    )


def _label(row: TrustedLabelRow) -> TrustedLabel:
    phash = None if row.phash is None else int(row.phash, 16)
    return _from_row(TrustedLabel, row, phash=phash)


def _item(row: ReviewItemRow) -> ReviewItem:
    return _from_row(ReviewItem, row)


def _audit(row: AuditRow) -> AuditEntry:
    return _from_row(AuditEntry, row)


def _from_row(record: type[R], row: object, **converted: object) -> R:
    """A record dataclass from the ORM row's columns of the same names (`converted` ones given)."""
    values: dict[str, Any] = {f.name: getattr(row, f.name) for f in fields(record)}
    return record(**(values | converted))


def _text(value: object) -> str | None:
    return None if value is None else str(value)[:MAX_TEXT]
