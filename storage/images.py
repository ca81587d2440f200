"""Image retention: store or refresh a downscaled copy, pin it once corrected, purge expired ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ClassificationRow, CorrectionRow, ImageRow


async def store_or_refresh(
    session: AsyncSession,
    *,
    sha256: str,
    data: bytes,
    width: int,
    height: int,
    now: datetime,
    expires_at: datetime,
) -> None:
    """Inserts the image, or marks it seen again and moves its expiry out (never in)."""
    found = await session.execute(
        select(ImageRow.pinned, ImageRow.expires_at).where(ImageRow.sha256 == sha256)
    )
    existing = found.first()
    if existing is None:
        # An image corrected while it was not stored (retention off, or purged) is pinned on arrival.
        pinned = await _has_votes(session, sha256)
        session.add(
            ImageRow(
                sha256=sha256,
                data=data,
                width=width,
                height=height,
                first_seen=now,
                last_seen=now,
                expires_at=None if pinned else expires_at,
                pinned=pinned,
            )
        )
        return
    await _refresh(session, sha256, existing.pinned, existing.expires_at, now=now, expires_at=expires_at)


async def refresh(session: AsyncSession, *, sha256: str, now: datetime, expires_at: datetime) -> bool:
    """Marks a stored image seen again and moves its expiry out; False when it is not stored."""
    found = await session.execute(
        select(ImageRow.pinned, ImageRow.expires_at).where(ImageRow.sha256 == sha256)
    )
    existing = found.first()
    if existing is None:
        return False
    await _refresh(session, sha256, existing.pinned, existing.expires_at, now=now, expires_at=expires_at)
    return True


async def _refresh(
    session: AsyncSession,
    sha256: str,
    pinned: bool,
    current_expiry: datetime | None,
    *,
    now: datetime,
    expires_at: datetime,
) -> None:
    refreshed: dict[str, object] = {"last_seen": now}
    if not pinned:
        refreshed["expires_at"] = max(current_expiry or expires_at, expires_at)
    await session.execute(update(ImageRow).where(ImageRow.sha256 == sha256).values(refreshed))


async def pin(session: AsyncSession, sha256: str) -> None:
    """Keeps the image forever: corrected images are training data."""
    await session.execute(
        update(ImageRow).where(ImageRow.sha256 == sha256).values(pinned=True, expires_at=None)
    )


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    expired = delete(ImageRow).where(
        ImageRow.pinned.is_(False), ImageRow.expires_at.is_not(None), ImageRow.expires_at < now
    )
    connection = await session.connection()
    result = await connection.execute(expired)
    return int(result.rowcount)


async def is_stored(session: AsyncSession, sha256: str) -> bool:
    return bool(await session.scalar(select(exists().where(ImageRow.sha256 == sha256))))


async def _has_votes(session: AsyncSession, sha256: str) -> bool:
    voted = exists().where(
        ClassificationRow.image_sha256 == sha256, CorrectionRow.classification_id == ClassificationRow.id
    )
    return bool(await session.scalar(select(voted)))
