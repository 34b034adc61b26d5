"""broadcasts: broadcasts, broadcast opt-outs, a notification's broadcast, a station's quiet hours

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hotline.models.base

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('stations') as batch:
        batch.add_column(sa.Column('quiet_hours', sa.String(length=11), nullable=True))
    op.create_table(
        'broadcasts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('parent_id', sa.Integer(), nullable=True),
        sa.Column('template', sa.String(length=60), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('sms_text', sa.Text(), server_default='', nullable=False),
        sa.Column('voice_text', sa.Text(), server_default='', nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('audience', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('rule', sa.String(length=200), nullable=True),
        sa.Column('starts_at', hotline.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('next_run_at', hotline.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('calls_after', hotline.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('started_at', hotline.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', hotline.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_by', sa.String(length=80), server_default='', nullable=False),
        sa.Column('created_at', hotline.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['station_id'], ['stations.id'], name=op.f('fk_broadcasts_station_id_stations'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['parent_id'], ['broadcasts.id'], name=op.f('fk_broadcasts_parent_id_broadcasts'), ondelete='SET NULL'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcasts')),
    )
    op.create_index(op.f('ix_broadcasts_station_id'), 'broadcasts', ['station_id'], unique=False)
    op.create_index(op.f('ix_broadcasts_parent_id'), 'broadcasts', ['parent_id'], unique=False)
    op.create_index(op.f('ix_broadcasts_status'), 'broadcasts', ['status'], unique=False)
    op.create_index(op.f('ix_broadcasts_next_run_at'), 'broadcasts', ['next_run_at'], unique=False)
    op.create_index(op.f('ix_broadcasts_calls_after'), 'broadcasts', ['calls_after'], unique=False)
    op.create_table(
        'broadcast_opt_outs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('phone', sa.String(length=32), nullable=False),
        sa.Column('keyword', sa.String(length=40), server_default='', nullable=False),
        sa.Column('created_at', hotline.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcast_opt_outs')),
        sa.UniqueConstraint('phone', name=op.f('uq_broadcast_opt_outs_phone')),
    )
    with op.batch_alter_table('notifications') as batch:
        batch.add_column(sa.Column('broadcast_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f('fk_notifications_broadcast_id_broadcasts'), 'broadcasts', ['broadcast_id'], ['id'], ondelete='CASCADE'
        )
        batch.create_index(op.f('ix_notifications_broadcast_id'), ['broadcast_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notifications') as batch:
        batch.drop_index(op.f('ix_notifications_broadcast_id'))
        batch.drop_constraint(op.f('fk_notifications_broadcast_id_broadcasts'), type_='foreignkey')
        batch.drop_column('broadcast_id')
    op.drop_table('broadcast_opt_outs')
    op.drop_index(op.f('ix_broadcasts_calls_after'), table_name='broadcasts')
    op.drop_index(op.f('ix_broadcasts_next_run_at'), table_name='broadcasts')
    op.drop_index(op.f('ix_broadcasts_status'), table_name='broadcasts')
    op.drop_index(op.f('ix_broadcasts_parent_id'), table_name='broadcasts')
    op.drop_index(op.f('ix_broadcasts_station_id'), table_name='broadcasts')
    op.drop_table('broadcasts')
    with op.batch_alter_table('stations') as batch:
        batch.drop_column('quiet_hours')
