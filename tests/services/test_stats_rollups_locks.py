"""The statistics triggers hold no lock while the transaction that opened an incident goes on.

On PostgreSQL a rollup row is counted when the transaction commits, not when
the incident is written: two calls from one group at the same moment must not
wait for each other (a voice webhook's transaction writes the incident first,
then its rows and events, then commits).
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, insert, select, text

from hotline.models import Incident, utcnow
from hotline.models.stats_rollups import ALL_TIME, ROLLUPS


def test_two_incidents_of_one_group_opened_at_once_do_not_wait_for_each_other(session, world):
    engine = session.get_bind()
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite writes one transaction at a time")
    for table in ROLLUPS:
        session.execute(delete(table))
    session.commit()
    group = world.group_a
    values = {"station_id": group.village.station_id, "group_id": group.id, "source": "call", "opened_at": utcnow()}
    with engine.connect() as first, engine.connect() as second:
        first.execute(insert(Incident).values(caller_phone="+8613800000001", **values))
        # Still open: the first call's webhook goes on writing its rows.
        second.execute(text("SET LOCAL lock_timeout = '2s'"))
        second.execute(insert(Incident).values(caller_phone="+8613800000002", **values))
        second.commit()  # with the rollups counted at once, this waited for the first and timed out
        first.commit()
    counted = session.scalar(select(func.sum(ALL_TIME.c.incidents)).where(ALL_TIME.c.group_key == group.id))
    assert counted == 2
