"""Async repository: small keyword-only methods, each in its own short session, dataclasses out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from storage import chats, classifications, images, labelling
from storage.engine import create_engine, session_factories, upsert
from storage.errors import DatabaseError, StorageUnavailable, describe_url, reason
from storage.migrate import upgrade_engine
from storage.models import ClassificationRow, CorrectionRow
from storage.moderation import ModerationRepository
from storage.records import (
    ChatDefaults,
    ChatSettings,
    ChatStats,
    ClassificationRecord,
    CorrectionRecord,
    LabelledImage,
    ModerationReport,
    UnknownClassification,
    check_action,
    check_action_taken,
    check_label,
    check_review_threshold,
    check_threshold,
)
from storage.report import moderation_report

T = TypeVar("T")
_DEFAULTS = ChatDefaults()
_IMAGE_BATCH = 64  # images whose bytes are fetched per query while streaming labelled images


def _now() -> datetime:
    return datetime.now(UTC)


class Repository:
    """Everything the bot keeps: chat settings, classifications, images and corrections."""

    def __init__(self, engine: AsyncEngine, *, defaults: ChatDefaults = _DEFAULTS) -> None:
        self._engine = engine
        self._defaults = defaults
        self._read, self._write = session_factories(engine)
        self.moderation = ModerationRepository(self._read, self._write)

    @classmethod
    async def open(cls, url: str, *, defaults: ChatDefaults = _DEFAULTS, upgrade: bool = True) -> Repository:
        """Connects to `url` and, unless `upgrade` is False, migrates the schema to the latest version."""
        try:
            engine = create_engine(url)
        except OSError as exc:  # the database's folder cannot be made
            raise StorageUnavailable(
                f"can't create the folder for {describe_url(url)}: {exc.strerror}"
            ) from exc
        try:
            if upgrade:
                await upgrade_engine(engine)
        except (DatabaseError, OSError) as exc:
            await engine.dispose()
            raise StorageUnavailable(f"can't open the database {describe_url(url)}: {reason(exc)}") from exc
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, defaults=defaults)

    async def aclose(self) -> None:
        await self._engine.dispose()

    async def __aenter__(self) -> Repository:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def get_chat_settings(self, *, platform: str, chat_id: str) -> ChatSettings:
        async with self._read() as session:
            return await chats.load_settings(
                session, platform=platform, chat_id=chat_id, defaults=self._defaults
            )

    async def update_chat_settings(
        self,
        *,
        platform: str,
        chat_id: str,
        memes_only: bool | None = None,
        action: str | None = None,
        threshold: float | None = None,
        auto_reply: bool | None = None,
        review_threshold: float | None = None,
        review_chat_id: str | None = None,
    ) -> ChatSettings:
        """Changes the given settings of a chat (the others keep their values or defaults);
        `review_chat_id=""` removes the review chat."""
        changes: dict[str, object] = {"memes_only": memes_only, "auto_reply": auto_reply}
        changes["action"] = None if action is None else check_action(action)
        changes["threshold"] = None if threshold is None else check_threshold(threshold)
        if review_threshold is not None:
            changes["review_threshold"] = check_review_threshold(review_threshold)
        given = {name: value for name, value in changes.items() if value is not None}
        if review_chat_id is not None:
            given["review_chat_id"] = review_chat_id or None

        async def apply(session: AsyncSession) -> ChatSettings:
            return await chats.change_settings(
                session,
                platform=platform,
                chat_id=chat_id,
                defaults=self._defaults,
                changes=given,
                now=_now(),
            )

        return await self._upsert(apply)

    async def migrate_chat(self, *, platform: str, old_chat_id: str, new_chat_id: str) -> None:
        """Moves a chat's settings and history to its new id (Telegram group -> supergroup)."""
        if old_chat_id == new_chat_id:
            return
        async with self._write.begin() as session:
            await chats.move_chat(
                session, platform=platform, old_chat_id=old_chat_id, new_chat_id=new_chat_id
            )

    async def record_classification(
        self,
        *,
        platform: str,
        chat_id: str,
        message_id: str | None,
        user_id: str | None,
        image_sha256: str,
        label: str,
        confidence: float,
        model_version: str,
        action_taken: str | None = None,
    ) -> ClassificationRecord:
        if not 0.0 <= confidence <= 1.0:
            raise ValueError(f"confidence must be between 0 and 1, not {confidence!r}")
        label, action_taken = check_label(label), check_action_taken(action_taken)
        async with self._write.begin() as session:
            row = ClassificationRow(
                platform=platform,
                chat_id=chat_id,
                message_id=message_id,
                user_id=user_id,
                image_sha256=image_sha256,
                label=label,
                confidence=float(confidence),
                model_version=model_version,
                action_taken=action_taken,
                created_at=_now(),
            )
            return await classifications.record(session, row)

    async def add_verdict_message(self, *, classification_id: int, message_id: str) -> None:
        """Remembers one more message giving this verdict: a reply to any of them finds the record."""
        async with self._write.begin() as session:
            await classifications.add_verdict_message(
                session, classification_id=classification_id, message_id=message_id
            )

    async def set_action_taken(self, *, classification_id: int, action_taken: str) -> None:
        check_action_taken(action_taken)
        async with self._write.begin() as session:
            await classifications.set_action_taken(
                session, classification_id=classification_id, action_taken=action_taken
            )

    async def get_classification(self, classification_id: int) -> ClassificationRecord | None:
        async with self._read() as session:
            return await classifications.newest(session, [ClassificationRow.id == classification_id])

    async def find_classification(
        self,
        *,
        platform: str,
        chat_id: str,
        message_id: str | None = None,
        reply_message_id: str | None = None,
        image_sha256: str | None = None,
    ) -> ClassificationRecord | None:
        """The newest classification in the chat matching every criterion given (at least one);
        `reply_message_id` matches any message in which the bot gave the verdict."""
        criteria = classifications.matching(
            platform=platform,
            chat_id=chat_id,
            message_id=message_id,
            reply_message_id=reply_message_id,
            image_sha256=image_sha256,
        )
        async with self._read() as session:
            return await classifications.newest(session, criteria)

    async def store_image(
        self, *, sha256: str, data: bytes, width: int, height: int, retention_days: int
    ) -> None:
        """Keeps an image for `retention_days` more days (forever once corrected); <= 0 keeps nothing."""
        if retention_days <= 0:
            return
        now = _now()
        expires_at = now + timedelta(days=retention_days)

        async def apply(session: AsyncSession) -> None:
            await images.store_or_refresh(
                session, sha256=sha256, data=data, width=width, height=height, now=now, expires_at=expires_at
            )

        await self._upsert(apply)

    async def touch_image(self, *, sha256: str, retention_days: int) -> bool:
        """A repost: keep the stored copy `retention_days` more days; False when none is stored."""
        if retention_days <= 0:
            return False
        now = _now()
        expires_at = now + timedelta(days=retention_days)

        async def apply(session: AsyncSession) -> bool:
            return await images.refresh(session, sha256=sha256, now=now, expires_at=expires_at)

        return await self._upsert(apply)

    async def has_image(self, sha256: str) -> bool:
        async with self._read() as session:
            return await images.is_stored(session, sha256)

    async def record_correction(
        self, *, classification_id: int, user_id: str, label: str, trusted: bool
    ) -> CorrectionRecord:
        """Records (or changes) a user's vote and pins the image so it is kept for training."""
        check_label(label)

        async def apply(session: AsyncSession) -> CorrectionRecord:
            sha256 = await session.scalar(
                select(ClassificationRow.image_sha256).where(ClassificationRow.id == classification_id)
            )
            if sha256 is None:
                raise UnknownClassification(classification_id)
            row = await session.scalar(
                select(CorrectionRow).where(
                    CorrectionRow.classification_id == classification_id, CorrectionRow.user_id == user_id
                )
            )
            created, now = row is None, _now()
            if row is None:
                row = CorrectionRow(classification_id=classification_id, user_id=user_id, created_at=now)
                session.add(row)
            row.label, row.trusted, row.updated_at = label, trusted, now
            await images.pin(session, sha256)
            await session.flush()
            return CorrectionRecord(row.id, classification_id, user_id, label, trusted, created=created)

        return await self._upsert(apply)

    async def chat_stats(self, *, platform: str, chat_id: str) -> ChatStats:
        async with self._read() as session:
            return await chats.chat_stats(session, platform=platform, chat_id=chat_id)

    async def moderation_report(self, *, platform: str, chat_id: str, since: datetime) -> ModerationReport:
        """What memes-only did in the chat since `since` (see storage/report.py)."""
        async with self._read() as session:
            return await moderation_report(session, platform=platform, chat_id=chat_id, since=since)

    async def image_data(self, sha256: str) -> bytes | None:
        """The stored copy of an image, None when none is kept."""
        async with self._read() as session:
            return (await labelling.image_data(session, [sha256])).get(sha256)

    async def purge_expired_images(self, *, now: datetime | None = None) -> int:
        """Deletes unpinned images past their expiry; returns how many."""
        if now is not None and now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        async with self._write.begin() as session:
            return await images.purge_expired(session, now or _now())

    async def labelled_images(
        self, *, platform: str | None = None, chat_id: str | None = None
    ) -> list[LabelledImage]:
        return [image async for image in self.iter_labelled_images(platform=platform, chat_id=chat_id)]

    async def iter_labelled_images(
        self, *, platform: str | None = None, chat_id: str | None = None
    ) -> AsyncIterator[LabelledImage]:
        """Images with votes (optionally of one platform or chat), fetching bytes a batch at a time."""
        async with self._read() as session:
            summaries = await labelling.summarise_votes(session, platform=platform, chat_id=chat_id)
        for start in range(0, len(summaries), _IMAGE_BATCH):
            batch = summaries[start : start + _IMAGE_BATCH]
            async with self._read() as session:
                data = await labelling.image_data(session, [image.sha256 for image in batch])
            for image in batch:
                yield replace(image, data=data.get(image.sha256))

    async def _upsert(self, apply: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return await upsert(self._write, apply)
