"""console at scale: indexes that match the console's queries; each incident's first acceptance kept on it

The incident list pages through ``(opened_at, id)``, newest first, for every
station or one, for one group; the board reads the incidents not yet closed by
urgency; a page's first acceptances are read per incident; group health reads
each member's latest notification per channel.

``incidents.first_accept_at`` is the time of the incident's first accepting
response, kept by the database itself (a trigger on ``responses``), so the
statistics read one row per incident instead of grouping every response. It is
filled in for the incidents there already are.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hotline.models.base

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOT_CLOSED = "status <> 'closed'"

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION hotline_first_accept() RETURNS trigger AS $$
BEGIN
    UPDATE incidents SET first_accept_at = NEW.received_at
    WHERE id = NEW.incident_id AND (first_accept_at IS NULL OR first_accept_at > NEW.received_at);
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
_PG_TRIGGER = """
CREATE TRIGGER responses_first_accept AFTER INSERT ON responses
FOR EACH ROW WHEN (NEW.answer = 'accept') EXECUTE FUNCTION hotline_first_accept()
"""
_SQLITE_TRIGGER = """
CREATE TRIGGER responses_first_accept AFTER INSERT ON responses
FOR EACH ROW WHEN NEW.answer = 'accept'
BEGIN
    UPDATE incidents SET first_accept_at = NEW.received_at
    WHERE id = NEW.incident_id AND (first_accept_at IS NULL OR first_accept_at > NEW.received_at);
END
"""
_BACKFILL = """
UPDATE incidents SET first_accept_at = (
    SELECT min(responses.received_at) FROM responses
    WHERE responses.incident_id = incidents.id AND responses.answer = 'accept'
)
WHERE EXISTS (SELECT 1 FROM responses WHERE responses.incident_id = incidents.id AND responses.answer = 'accept')
"""


def upgrade() -> None:
    with op.batch_alter_table('incidents') as batch:
        batch.add_column(sa.Column('first_accept_at', hotline.models.base.UTCDateTime(), nullable=True))
    op.execute(_BACKFILL)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        op.execute(_SQLITE_TRIGGER)
    # The list, newest first: everyone's, one station's, one group's.
    op.create_index('ix_incidents_opened_at_id', 'incidents', ['opened_at', 'id'])
    op.create_index('ix_incidents_station_opened_at_id', 'incidents', ['station_id', 'opened_at', 'id'])
    op.create_index('ix_incidents_group_opened_at_id', 'incidents', ['group_id', 'opened_at', 'id'])
    # The board: only the incidents not yet closed, in the order of urgency.
    op.create_index(
        'ix_incidents_board', 'incidents', ['status', 'escalation_level', 'opened_at', 'id'],
        postgresql_where=sa.text(_NOT_CLOSED), sqlite_where=sa.text(_NOT_CLOSED),
    )
    # A page's first acceptances, and the statistics' filter on real or drill alerts by date.
    op.create_index('ix_responses_incident_answer_at', 'responses', ['incident_id', 'answer', 'received_at'])
    # Group health: each member's latest notification per channel to their own number.
    op.create_index('ix_notifications_member_channel_phone_id', 'notifications', ['member_id', 'channel', 'phone', 'id'])


def downgrade() -> None:
    op.drop_index('ix_notifications_member_channel_phone_id', table_name='notifications')
    op.drop_index('ix_responses_incident_answer_at', table_name='responses')
    op.drop_index('ix_incidents_board', table_name='incidents')
    op.drop_index('ix_incidents_group_opened_at_id', table_name='incidents')
    op.drop_index('ix_incidents_station_opened_at_id', table_name='incidents')
    op.drop_index('ix_incidents_opened_at_id', table_name='incidents')
    op.execute('DROP TRIGGER IF EXISTS responses_first_accept' + (
        ' ON responses' if op.get_bind().dialect.name == 'postgresql' else ''
    ))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION IF EXISTS hotline_first_accept()')
    with op.batch_alter_table('incidents') as batch:
        batch.drop_column('first_accept_at')
