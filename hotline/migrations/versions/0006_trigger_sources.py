"""trigger sources: systems that raise alerts over HTTP, and the alerts they raised once per key

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hotline.models.base

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'trigger_sources',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', hotline.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', hotline.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['station_id'], ['stations.id'], name=op.f('fk_trigger_sources_station_id_stations'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_trigger_sources')),
        sa.UniqueConstraint('name', name=op.f('uq_trigger_sources_name')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_trigger_sources_token_hash')),
    )
    op.create_index(op.f('ix_trigger_sources_station_id'), 'trigger_sources', ['station_id'], unique=False)
    op.create_table(
        'trigger_alerts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source_id', sa.Integer(), nullable=False),
        sa.Column('idempotency_key', sa.String(length=200), nullable=False),
        sa.Column('incident_id', sa.Integer(), nullable=True),
        sa.Column('caller_phone', sa.String(length=32), nullable=False),
        sa.Column('note', sa.String(length=500), server_default='', nullable=False),
        sa.Column('received_at', hotline.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['incident_id'], ['incidents.id'], name=op.f('fk_trigger_alerts_incident_id_incidents'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['source_id'], ['trigger_sources.id'], name=op.f('fk_trigger_alerts_source_id_trigger_sources'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_trigger_alerts')),
        sa.UniqueConstraint('source_id', 'idempotency_key', name=op.f('uq_trigger_alerts_source_id_idempotency_key')),
    )
    op.create_index(op.f('ix_trigger_alerts_incident_id'), 'trigger_alerts', ['incident_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_trigger_alerts_incident_id'), table_name='trigger_alerts')
    op.drop_table('trigger_alerts')
    op.drop_index(op.f('ix_trigger_sources_station_id'), table_name='trigger_sources')
    op.drop_table('trigger_sources')
