"""never silent: station hotline numbers, minimum acceptances, backup numbers, taking an incident

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hotline.models.base

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('stations') as batch:
        batch.add_column(sa.Column('hotline_number', sa.String(length=20), nullable=True))
        batch.create_unique_constraint('uq_stations_hotline_number', ['hotline_number'])
    with op.batch_alter_table('groups') as batch:
        batch.add_column(sa.Column('min_acceptances', sa.Integer(), server_default='1', nullable=False))
    with op.batch_alter_table('members') as batch:
        batch.add_column(sa.Column('backup_phone', sa.String(length=20), nullable=True))
    with op.batch_alter_table('incidents') as batch:
        batch.add_column(sa.Column('accepted_count', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('taken_by_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('taken_at', hotline.models.base.UTCDateTime(timezone=True), nullable=True))
        batch.create_foreign_key('fk_incidents_taken_by_id_users', 'users', ['taken_by_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('incidents') as batch:
        batch.drop_constraint('fk_incidents_taken_by_id_users', type_='foreignkey')
        batch.drop_column('taken_at')
        batch.drop_column('taken_by_id')
        batch.drop_column('accepted_count')
    with op.batch_alter_table('members') as batch:
        batch.drop_column('backup_phone')
    with op.batch_alter_table('groups') as batch:
        batch.drop_column('min_acceptances')
    with op.batch_alter_table('stations') as batch:
        batch.drop_constraint('uq_stations_hotline_number', type_='unique')
        batch.drop_column('hotline_number')
