"""statistics rollups: the all-time counts in coarse buckets of response time too

``stats_all_time_coarse`` counts what ``stats_all_time`` counts, by coarse
bucket of time to first acceptance (15 s below 2 minutes, then 1 minute,
5 minutes, an hour, a day; see hotline/models/stats_rollups.py), so that the
median and 90th percentile of a group, a village or all of them find their
coarse bucket among a few dozen rows and read only the fine buckets inside it.
The triggers are created again to keep it too; it is filled from
``stats_all_time`` (a coarse bucket is whole fine buckets).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hotline.services.stats_rollups import coarse_sql, drop_triggers, install_triggers

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'stats_all_time_coarse',
        sa.Column('is_drill', sa.Boolean(), nullable=False),
        sa.Column('group_key', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('coarse', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('station_key', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('incidents', sa.Integer(), nullable=False),
        sa.Column('acknowledged', sa.Integer(), nullable=False),
        sa.Column('escalated', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            'is_drill', 'group_key', 'coarse', 'station_key', name=op.f('pk_stats_all_time_coarse')
        ),
    )
    connection = op.get_bind()
    if connection.dialect.name == 'postgresql':
        # No incident may change between the fill and the new triggers.
        connection.execute(sa.text('LOCK TABLE incidents IN SHARE MODE'))
    drop_triggers(connection)
    install_triggers(connection)
    coarse = coarse_sql('seconds')
    connection.execute(sa.text(
        'INSERT INTO stats_all_time_coarse (is_drill, group_key, coarse, station_key, incidents, acknowledged, '
        f'escalated) SELECT is_drill, group_key, {coarse}, station_key, sum(incidents), sum(acknowledged), '
        f'sum(escalated) FROM stats_all_time GROUP BY is_drill, group_key, {coarse}, station_key'
    ))


def downgrade() -> None:
    connection = op.get_bind()
    drop_triggers(connection)
    op.drop_table('stats_all_time_coarse')
    install_triggers(connection)
