"""outbox for any sender: templates, failure reasons, notifications without an incident

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite can only change a column's nullability by copying the table.
    with op.batch_alter_table('notifications') as batch:
        batch.add_column(sa.Column('sender', sa.String(length=20), server_default='incident', nullable=False))
        batch.add_column(sa.Column('template', sa.String(length=60), server_default='', nullable=False))
        batch.add_column(sa.Column('template_params', sa.JSON(), server_default='{}', nullable=False))
        batch.add_column(sa.Column('failure_reason', sa.String(length=30), nullable=True))
        batch.alter_column('incident_id', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('notifications') as batch:
        batch.alter_column('incident_id', existing_type=sa.Integer(), nullable=False)
        batch.drop_column('failure_reason')
        batch.drop_column('template_params')
        batch.drop_column('template')
        batch.drop_column('sender')
