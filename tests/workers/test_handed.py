"""A send the carrier took just before the database failed is recorded, not sent again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import event, update
from sqlalchemy.exc import OperationalError

from hotline.carriers import OutboundSms, Submitted
from hotline.extensions import db, get_settings, use_carrier
from hotline.models import Notification, utcnow
from tests.workers.test_jobs import FakeCarrier, _events, _row, _sms_incident
from workers import runtime
from workers.handed import HANDED_KEY
from workers.jobs import send_sms
from workers.sweeper import sweep_outbox


class DatabaseGoesAway:
    """Fails every statement on the app's engine from the moment it is switched on, as a stopped server would."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.down = False
        event.listen(engine, "before_cursor_execute", self._refuse)

    def _refuse(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.down:
            raise OperationalError(statement, parameters, Exception("the database system is shutting down"))

    def back(self) -> None:
        self.down = False
        event.remove(self.engine, "before_cursor_execute", self._refuse)
        self.engine.dispose()


class CarrierThenOutage(FakeCarrier):
    """The carrier takes the text; the database fails the moment it answers."""

    outage: DatabaseGoesAway | None = None

    def send_sms(self, message: OutboundSms, *, reference: int) -> Submitted:
        submitted = super().send_sms(message, reference=reference)
        assert self.outage is not None
        self.outage.down = True
        return submitted


@pytest.fixture
def carrier(app) -> CarrierThenOutage:
    fake = CarrierThenOutage()
    fake.outage = DatabaseGoesAway(db.state(app).engine)
    use_carrier(app, fake)
    runtime.use_app(app)
    return fake


def _claimed_long_ago(session, notification_id: int) -> None:
    session.execute(
        update(Notification).where(Notification.id == notification_id)
        .values(claimed_at=utcnow() - timedelta(minutes=5))
    )
    session.commit()


def test_the_sweeper_records_what_the_carrier_took_instead_of_sending_it_again(
    session, app, carrier, redis_conn
):
    opened = _sms_incident(session, get_settings(app))
    notification_id = opened.sms_ids[0]

    with pytest.raises(OperationalError):
        send_sms(notification_id)
    carrier.outage.back()
    [sent] = carrier.sent
    row = _row(session, notification_id)
    assert (row.status, row.provider_sid) == ("claimed", None)
    assert redis_conn.exists(HANDED_KEY.format(notification_id))

    _claimed_long_ago(session, notification_id)
    sweep_outbox()

    row = _row(session, notification_id)
    assert (row.status, row.provider_sid) == ("queued", sent["sid"])
    assert [e.kind for e in _events(session, notification_id)] == ["sms_queued"]
    assert not redis_conn.exists(HANDED_KEY.format(notification_id))
    # Nothing is queued to send it again, and a second sweep changes nothing.
    assert f"sms-{notification_id}" not in Queue("alerts", connection=redis_conn).job_ids
    sweep_outbox()
    assert send_sms(notification_id) == "skipped: not pending"
    assert len(carrier.attempts) == 1


def test_a_claim_with_nothing_kept_is_still_released_to_be_sent(session, app, carrier, redis_conn):
    opened = _sms_incident(session, get_settings(app))
    kept_id, lost_id = opened.sms_ids[:2]
    with pytest.raises(OperationalError):
        send_sms(kept_id)
    carrier.outage.back()
    session.execute(update(Notification).where(Notification.id == lost_id).values(status="claimed"))
    session.commit()
    _claimed_long_ago(session, kept_id)
    _claimed_long_ago(session, lost_id)

    sweep_outbox()

    assert _row(session, kept_id).status == "queued"
    assert _row(session, lost_id).status == "pending"
