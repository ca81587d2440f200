"""Moderation that learns at once: trusted labels, review items (review band, appeals), the audit log,
and each chat's review threshold and review chat."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Revision ID: 0003; revises 0002.
revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Existing chats get the new default band (0.5 up to their threshold) and no review chat.
    op.add_column(
        "chat_settings", sa.Column("review_threshold", sa.Float(), nullable=False, server_default="0.5")
    )
    op.add_column("chat_settings", sa.Column("review_chat_id", sa.String(128), nullable=True))
    _create_trusted_labels()
    _create_review_items()
    _create_audit_log()


def downgrade() -> None:
    op.drop_index("ix_audit_log_platform_chat_id_created_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_review_items_platform_chat_id_status", table_name="review_items")
    op.drop_table("review_items")
    op.drop_table("trusted_labels")
    # Plain DROP COLUMN (SQLite 3.35+): chat_settings has no foreign keys a rebuild could disturb.
    op.drop_column("chat_settings", "review_chat_id")
    op.drop_column("chat_settings", "review_threshold")


def _create_trusted_labels() -> None:
    op.create_table(
        "trusted_labels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("phash", sa.String(16), nullable=True),
        sa.Column("pixels", sa.LargeBinary(), nullable=True),
        sa.Column("classification_id", sa.Integer(), nullable=True),
        sa.Column("set_by", sa.String(128), nullable=False),
        sa.Column("set_by_name", sa.String(256), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["classification_id"],
            ["classifications.id"],
            name="fk_trusted_labels_classification_id_classifications",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_trusted_labels"),
        sa.UniqueConstraint(
            "platform", "chat_id", "image_sha256", name="uq_trusted_labels_platform_chat_id_image_sha256"
        ),
    )


def _create_review_items() -> None:
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("classification_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("poster_id", sa.String(128), nullable=False),
        sa.Column("poster_name", sa.String(256), nullable=False),
        sa.Column("review_chat_id", sa.String(128), nullable=True),
        sa.Column("review_message_id", sa.String(128), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("decided_by_name", sa.String(256), nullable=True),
        sa.Column("decided_at", _UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["classification_id"],
            ["classifications.id"],
            name="fk_review_items_classification_id_classifications",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_review_items"),
        sa.UniqueConstraint("classification_id", "kind", name="uq_review_items_classification_id_kind"),
    )
    op.create_index(
        "ix_review_items_platform_chat_id_status", "review_items", ["platform", "chat_id", "status"]
    )


def _create_audit_log() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("actor_id", sa.String(128), nullable=False),
        sa.Column("actor_name", sa.String(256), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(256), nullable=True),
        sa.Column("old_value", sa.String(256), nullable=True),
        sa.Column("new_value", sa.String(256), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index(
        "ix_audit_log_platform_chat_id_created_at", "audit_log", ["platform", "chat_id", "created_at"]
    )
