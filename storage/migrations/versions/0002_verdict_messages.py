"""Verdict messages: every message in which the bot gave a verdict leads back to its classification.

/classify on an image already judged reuses its classification, so one classification can have
several verdict messages; the single classifications.reply_message_id column only kept the newest,
and a /correct replying to an older verdict found nothing. Its values move to the new table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Revision ID: 0002; revises 0001.
revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_OLD_INDEX = "ix_classifications_platform_chat_id_reply_message_id"


def upgrade() -> None:
    op.create_table(
        "verdict_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("classification_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["classification_id"],
            ["classifications.id"],
            name="fk_verdict_messages_classification_id_classifications",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_verdict_messages"),
    )
    op.create_index("ix_verdict_messages_classification_id", "verdict_messages", ["classification_id"])
    op.create_index("ix_verdict_messages_message_id", "verdict_messages", ["message_id"])
    op.execute(
        "INSERT INTO verdict_messages (classification_id, message_id) "
        "SELECT id, reply_message_id FROM classifications WHERE reply_message_id IS NOT NULL ORDER BY id"
    )
    op.drop_index(_OLD_INDEX, table_name="classifications")
    # A plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a batch rebuild: rebuilding
    # classifications would fire the corrections' ON DELETE CASCADE.
    op.drop_column("classifications", "reply_message_id")


def downgrade() -> None:
    op.add_column("classifications", sa.Column("reply_message_id", sa.String(128), nullable=True))
    op.execute(
        "UPDATE classifications SET reply_message_id = (SELECT v.message_id FROM verdict_messages v "
        "WHERE v.classification_id = classifications.id ORDER BY v.id DESC LIMIT 1)"
    )
    op.create_index(_OLD_INDEX, "classifications", ["platform", "chat_id", "reply_message_id"])
    op.drop_index("ix_verdict_messages_message_id", table_name="verdict_messages")
    op.drop_index("ix_verdict_messages_classification_id", table_name="verdict_messages")
    op.drop_table("verdict_messages")
