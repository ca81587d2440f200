"""SQLAlchemy ORM tables: chat settings, classifications and their verdict messages, images, corrections,
and moderation: trusted labels, review items (the review band and appeals), the audit log."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Explicit constraint names keep Alembic migrations reproducible across SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite drops the offset on its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: storage needs timezone-aware times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012 - SQLAlchemy reads it as a class attribute


class ChatSettingsRow(Base):
    __tablename__ = "chat_settings"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    memes_only: Mapped[bool] = mapped_column(Boolean)
    action: Mapped[str] = mapped_column(String(16))
    threshold: Mapped[float] = mapped_column(Float)
    auto_reply: Mapped[bool] = mapped_column(Boolean)
    review_threshold: Mapped[float] = mapped_column(Float)
    review_chat_id: Mapped[str | None] = mapped_column(String(128))  # same platform; NULL: none
    updated_at: Mapped[datetime]


class ClassificationRow(Base):
    __tablename__ = "classifications"
    __table_args__ = (
        Index(None, "platform", "chat_id", "created_at"),
        Index(None, "platform", "chat_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    message_id: Mapped[str | None] = mapped_column(String(128))
    user_id: Mapped[str | None] = mapped_column(String(128))
    image_sha256: Mapped[str] = mapped_column(String(64), index=True)
    label: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(128))
    action_taken: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]


class VerdictMessageRow(Base):
    """A message in which the bot gave a classification's verdict; /classify again adds another,
    and a reply to any of them leads back to the classification."""

    __tablename__ = "verdict_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    classification_id: Mapped[int] = mapped_column(
        ForeignKey("classifications.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[str] = mapped_column(String(128), index=True)


class ImageRow(Base):
    __tablename__ = "images"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    # NULL means pinned forever: the purge query only ever compares non-NULL values.
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    pinned: Mapped[bool] = mapped_column(Boolean)


class CorrectionRow(Base):
    __tablename__ = "corrections"
    # One vote per user per classification: changing one's mind updates the vote.
    __table_args__ = (UniqueConstraint("classification_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    classification_id: Mapped[int] = mapped_column(ForeignKey("classifications.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))
    label: Mapped[str] = mapped_column(String(16))
    trusted: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TrustedLabelRow(Base):
    """A moderator's label for an image in one chat: it and its near-duplicates get it from then on."""

    __tablename__ = "trusted_labels"
    __table_args__ = (UniqueConstraint("platform", "chat_id", "image_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    image_sha256: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(16))
    # pHash as 16 hex digits (unsigned 64-bit does not fit PostgreSQL's BIGINT) and a 64x64 grey
    # thumbnail; both NULL when no copy of the image was kept: the label then covers the exact file.
    phash: Mapped[str | None] = mapped_column(String(16))
    pixels: Mapped[bytes | None] = mapped_column(LargeBinary)
    classification_id: Mapped[int | None] = mapped_column(
        ForeignKey("classifications.id", ondelete="SET NULL")
    )
    set_by: Mapped[str] = mapped_column(String(128))
    set_by_name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ReviewItemRow(Base):
    """A verdict waiting for a moderator: from the review band (kind 'review') or an appeal."""

    __tablename__ = "review_items"
    # One review and one appeal per classification at most.
    __table_args__ = (
        UniqueConstraint("classification_id", "kind"),
        Index(None, "platform", "chat_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    classification_id: Mapped[int] = mapped_column(ForeignKey("classifications.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    poster_id: Mapped[str] = mapped_column(String(128))
    poster_name: Mapped[str] = mapped_column(String(256))
    review_chat_id: Mapped[str | None] = mapped_column(String(128))  # where it was posted for review
    review_message_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_by_name: Mapped[str | None] = mapped_column(String(256))
    decided_at: Mapped[datetime | None]


class AuditRow(Base):
    """One moderator action or removal by the bot: who, when, where, what, and the values around it."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "platform", "chat_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    actor_id: Mapped[str] = mapped_column(String(128))  # "bot" for the bot's own removals
    actor_name: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(String(256))
    old_value: Mapped[str | None] = mapped_column(String(256))
    new_value: Mapped[str | None] = mapped_column(String(256))
