"""tickets: indexes for the quality figures (a period's tickets by filing, resolution, closing; the backlog)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 16:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_tickets_created_at": "created_at",
    "ix_tickets_resolved_at": "resolved_at",
    "ix_tickets_closed_at": "closed_at",
    "ix_tickets_status": "status",
}


def upgrade() -> None:
    for name, column in INDEXES.items():
        op.create_index(name, "tickets", [column])


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="tickets")
