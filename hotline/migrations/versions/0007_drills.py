"""drills: drills and their schedules, a station's drill standard, an incident's escalation cap

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hotline.models.base

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('stations') as batch:
        batch.add_column(sa.Column('drill_standard_seconds', sa.Integer(), nullable=True))
    with op.batch_alter_table('incidents') as batch:
        batch.add_column(sa.Column('escalation_cap', sa.Integer(), nullable=True))
    op.create_table(
        'drill_schedules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=10), nullable=False),
        sa.Column('group_id', sa.Integer(), nullable=True),
        sa.Column('village_id', sa.Integer(), nullable=True),
        sa.Column('rule', sa.String(length=200), nullable=True),
        sa.Column('starts_at', hotline.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('next_run_at', hotline.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_run_at', hotline.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('duty_line', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('created_by', sa.String(length=80), server_default='', nullable=False),
        sa.Column('created_at', hotline.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('cancelled_at', hotline.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['station_id'], ['stations.id'], name=op.f('fk_drill_schedules_station_id_stations'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['group_id'], ['groups.id'], name=op.f('fk_drill_schedules_group_id_groups'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['village_id'], ['villages.id'], name=op.f('fk_drill_schedules_village_id_villages'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_drill_schedules')),
    )
    op.create_index(op.f('ix_drill_schedules_station_id'), 'drill_schedules', ['station_id'], unique=False)
    op.create_index(op.f('ix_drill_schedules_next_run_at'), 'drill_schedules', ['next_run_at'], unique=False)
    op.create_table(
        'drills',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('group_id', sa.Integer(), nullable=False),
        sa.Column('schedule_id', sa.Integer(), nullable=True),
        sa.Column('incident_id', sa.Integer(), nullable=True),
        sa.Column('household_id', sa.Integer(), nullable=True),
        sa.Column('duty_line', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('run_at', hotline.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=80), server_default='', nullable=False),
        sa.ForeignKeyConstraint(
            ['station_id'], ['stations.id'], name=op.f('fk_drills_station_id_stations'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_drills_group_id_groups'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(
            ['schedule_id'], ['drill_schedules.id'], name=op.f('fk_drills_schedule_id_drill_schedules'),
            ondelete='SET NULL',
        ),
        sa.ForeignKeyConstraint(
            ['incident_id'], ['incidents.id'], name=op.f('fk_drills_incident_id_incidents'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['household_id'], ['members.id'], name=op.f('fk_drills_household_id_members'), ondelete='SET NULL'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_drills')),
        sa.UniqueConstraint('incident_id', name=op.f('uq_drills_incident_id')),
        sa.UniqueConstraint('schedule_id', 'group_id', 'run_at', name=op.f('uq_drills_schedule_id_group_id_run_at')),
    )
    op.create_index(op.f('ix_drills_station_id'), 'drills', ['station_id'], unique=False)
    op.create_index(op.f('ix_drills_group_id'), 'drills', ['group_id'], unique=False)
    op.create_index(op.f('ix_drills_run_at'), 'drills', ['run_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_drills_run_at'), table_name='drills')
    op.drop_index(op.f('ix_drills_group_id'), table_name='drills')
    op.drop_index(op.f('ix_drills_station_id'), table_name='drills')
    op.drop_table('drills')
    op.drop_index(op.f('ix_drill_schedules_next_run_at'), table_name='drill_schedules')
    op.drop_index(op.f('ix_drill_schedules_station_id'), table_name='drill_schedules')
    op.drop_table('drill_schedules')
    with op.batch_alter_table('incidents') as batch:
        batch.drop_column('escalation_cap')
    with op.batch_alter_table('stations') as batch:
        batch.drop_column('drill_standard_seconds')
