"""messages: what the customer is told

Revision ID: 0011_messages
Revises: 0010_people
Create Date: 2026-12-04

The compensation promised to a customer (a commitment to confirm in writing) on
each ticket, and the channel of each outbox row (e-mail or SMS), so messages to
customers go through the same outbox as notices. Existing rows: no compensation
recorded, every queued notice an e-mail.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_messages"
down_revision: str | None = "0010_people"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("compensation", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("tickets") as batch:
        batch.alter_column("compensation", server_default=None)
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("channel", sa.String(length=16), nullable=False, server_default="email"))
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("channel", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("channel")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("compensation")
