"""scheduler: job runs, leader lease, flag-scan plan and cursors, outbox, branch routing, reports

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.storage.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("slot", server.storage.models.UtcDateTime(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("runner", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", server.storage.models.UtcDateTime(), nullable=False),
        sa.Column("finished_at", server.storage.models.UtcDateTime(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("job_id", "slot", name="uq_job_runs_job_slot"),
    )
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.create_index("ix_job_runs_job_started", ["job_id", "started_at"], unique=False)

    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", server.storage.models.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("kind", "period", name="uq_reports_kind_period"),
    )
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", server.storage.models.UtcDateTime(), nullable=False),
        sa.Column("renewed_at", server.storage.models.UtcDateTime(), nullable=False),
        sa.Column("expires_at", server.storage.models.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_leases")),
    )
    op.create_table(
        "branch_contacts",
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("coordinator", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_branch_contacts_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("branch_id", name=op.f("pk_branch_contacts")),
    )
    op.create_table(
        "branch_routing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=False),
        sa.Column("head", sa.String(length=200), nullable=False),
        sa.Column("head_email", sa.String(length=320), nullable=False),
        sa.Column("investigators", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_branch_routing_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_branch_routing")),
        sa.UniqueConstraint("branch_id", "category", name="uq_branch_routing_branch_category"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("ticket_key", sa.String(length=32), nullable=True),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("to_addr", sa.String(length=320), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", server.storage.models.UtcDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", server.storage.models.UtcDateTime(), nullable=False),
        sa.Column("sent_at", server.storage.models.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["branch_id"], ["branches.id"], name=op.f("fk_outbox_branch_id_branches")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_status_next", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "scan_cursors",
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("change_seq", sa.Integer(), nullable=False),
        sa.Column("scanned_at", server.storage.models.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_scan_cursors_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("branch_id", name=op.f("pk_scan_cursors")),
    )
    op.create_table(
        "ticket_checks",
        sa.Column("sync_key", sa.String(length=32), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("next_check_at", server.storage.models.UtcDateTime(), nullable=True),
        sa.Column("checked_at", server.storage.models.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_ticket_checks_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["sync_key"], ["tickets.sync_key"], name=op.f("fk_ticket_checks_sync_key_tickets")
        ),
        sa.PrimaryKeyConstraint("sync_key", name=op.f("pk_ticket_checks")),
    )
    with op.batch_alter_table("ticket_checks", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_checks_branch_next", ["branch_id", "next_check_at"], unique=False)

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tickets_branch_category_place", ["branch_id", "category", "place"], unique=False
        )
        batch_op.create_index("ix_tickets_branch_resolved", ["branch_id", "resolved_at"], unique=False)
        batch_op.create_index("ix_tickets_branch_status", ["branch_id", "status", "ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_branch_status")
        batch_op.drop_index("ix_tickets_branch_resolved")
        batch_op.drop_index("ix_tickets_branch_category_place")

    with op.batch_alter_table("ticket_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_checks_branch_next")

    op.drop_table("ticket_checks")
    op.drop_table("scan_cursors")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next")

    op.drop_table("outbox")
    op.drop_table("branch_routing")
    op.drop_table("branch_contacts")
    op.drop_table("scheduler_leases")
    op.drop_table("reports")
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_job_runs_job_started")

    op.drop_table("job_runs")
