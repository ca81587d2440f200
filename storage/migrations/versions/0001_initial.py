"""Initial schema: chat_settings, classifications, images, corrections."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Migrations spell out their types instead of importing storage.models, so they stay frozen in time.
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    _create_chat_settings()
    _create_classifications()
    _create_images()
    _create_corrections()


def downgrade() -> None:
    op.drop_table("corrections")
    op.drop_table("images")
    op.drop_table("classifications")
    op.drop_table("chat_settings")


def _create_chat_settings() -> None:
    op.create_table(
        "chat_settings",
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("memes_only", sa.Boolean(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("auto_reply", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("platform", "chat_id", name="pk_chat_settings"),
    )


def _create_classifications() -> None:
    op.create_table(
        "classifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=True),
        sa.Column("user_id", sa.String(128), nullable=True),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("action_taken", sa.String(16), nullable=True),
        sa.Column("reply_message_id", sa.String(128), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_classifications"),
    )
    op.create_index("ix_classifications_image_sha256", "classifications", ["image_sha256"])
    for columns in (["created_at"], ["message_id"], ["reply_message_id"]):
        name = "ix_classifications_platform_chat_id_" + columns[0]
        op.create_index(name, "classifications", ["platform", "chat_id", *columns])


def _create_images() -> None:
    op.create_table(
        "images",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("first_seen", _UTC, nullable=False),
        sa.Column("last_seen", _UTC, nullable=False),
        sa.Column("expires_at", _UTC, nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_images"),
    )
    op.create_index("ix_images_expires_at", "images", ["expires_at"])


def _create_corrections() -> None:
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("classification_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("trusted", sa.Boolean(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["classification_id"],
            ["classifications.id"],
            name="fk_corrections_classification_id_classifications",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_corrections"),
        sa.UniqueConstraint("classification_id", "user_id", name="uq_corrections_classification_id_user_id"),
    )
