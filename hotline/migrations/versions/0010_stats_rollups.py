"""statistics rollups: incidents counted by month, week, place and second of first response

``stats_all_time``, ``stats_months`` and ``stats_weeks`` count the incidents
by station, group, drill or not and whole second to the first acceptance
(see hotline/models/stats_rollups.py); triggers on ``incidents`` keep them in
the same transaction as every change. ``stats_zone`` holds the zone whose
local months and weeks they are cut by: ``HOTLINE_TIMEZONE`` as the migration
runs (Asia/Shanghai when unset); ``hotline stats rebuild`` cuts them again by
the configured zone. They are filled from the incidents there already are.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import os
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from config.settings import Settings
from hotline.services.stats_rollups import drop_triggers, install_triggers, rebuild

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _place() -> list[sa.Column]:
    return [
        sa.Column('is_drill', sa.Boolean(), nullable=False),
        sa.Column('station_key', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('group_key', sa.Integer(), autoincrement=False, nullable=False),
    ]


def _counters() -> list[sa.Column]:
    return [
        sa.Column('incidents', sa.Integer(), nullable=False),
        sa.Column('acknowledged', sa.Integer(), nullable=False),
        sa.Column('escalated', sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        'stats_zone',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('zone', sa.String(length=64), nullable=False),
        sa.Column('sqlite_offset', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_zone')),
    )
    op.create_table(
        'stats_all_time',
        *_place(),
        sa.Column('seconds', sa.Integer(), autoincrement=False, nullable=False),
        *_counters(),
        # A group's buckets in order: its running count (the percentiles) needs no sort.
        sa.PrimaryKeyConstraint('is_drill', 'group_key', 'seconds', 'station_key', name=op.f('pk_stats_all_time')),
    )
    op.create_table(
        'stats_months',
        sa.Column('month', sa.Date(), nullable=False),
        *_place(),
        sa.Column('seconds', sa.Integer(), autoincrement=False, nullable=False),
        *_counters(),
        sa.PrimaryKeyConstraint(
            'month', 'is_drill', 'group_key', 'seconds', 'station_key', name=op.f('pk_stats_months')
        ),
    )
    op.create_table(
        'stats_weeks',
        sa.Column('week', sa.Date(), nullable=False),
        *_place(),
        sa.Column('incidents', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('week', 'is_drill', 'station_key', 'group_key', name=op.f('pk_stats_weeks')),
    )
    connection = op.get_bind()
    zone = ZoneInfo(os.environ.get('HOTLINE_TIMEZONE') or Settings.model_fields['timezone'].default)
    install_triggers(connection)
    rebuild(connection, zone)


def downgrade() -> None:
    drop_triggers(op.get_bind())
    op.drop_table('stats_weeks')
    op.drop_table('stats_months')
    op.drop_table('stats_all_time')
    op.drop_table('stats_zone')
