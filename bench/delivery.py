"""Sends as the carrier sees them: an alert's fan-out, a burst of calls, the sending rate, an alert in a broadcast.

Alerts are opened as the voice webhook opens them (``open_and_ring``: the
incident, its rows, then the jobs after commit) for the seeded groups; one
``hotline worker`` sends them through Twilio's carrier to the fake carrier.
Each alert's fan-out time runs from the webhook's answer to the arrival of
its 9th member SMS at the carrier.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from rq import Queue
from sqlalchemy import select, text

from bench.report import Figure, p
from bench.stack import Places, worker
from bench.stack import service_env as _service_env
from hotline.app import create_app
from hotline.extensions import db, get_settings
from hotline.models import Member, utcnow
from hotline.queues import ALERTS, BROADCASTS
from hotline.services.outbox import INCIDENT, dispatch, dispatch_broadcast
from hotline.webhooks.voice import open_and_ring
from tests.support.fake_carrier import FakeCarrier, fake_carrier

LATENCY = 0.2  # seconds the fake carrier takes to answer
MEMBERS = 9  # responders in a seeded group: every member but the caller
IDLE_GAP = 1.5  # seconds between idle alerts: longer than the sending rate's window
BROADCAST_RATE = 50  # texts a second during the broadcast figure: a short code's or a China carrier's rate


@dataclass
class Alert:
    """One alert opened in the benchmark: when the webhook answered and whom it texts."""

    answered: float  # time.time()
    phones: set[str]


class Alerts:
    """Opens alerts for the seeded groups, one group after another, in this process."""

    def __init__(self, places: Places, carrier: FakeCarrier) -> None:
        self.app = create_app(service_env(places, carrier.url))
        with self.app.app_context():
            households = db.session.execute(
                select(Member.group_id, Member.phone).where(Member.role == "household").order_by(Member.id)
            ).all()
        callers: dict[int, str] = {}
        for group_id, phone in households:
            callers.setdefault(group_id, phone)
        self.callers = list(callers.items())
        self.next = 0

    def open(self) -> Alert:
        """Open one alert as the voice webhook does; returns when its jobs are enqueued."""
        group_id, caller = self.callers[self.next % len(self.callers)]
        self.next += 1
        with self.app.test_request_context():
            open_and_ring(
                db.session, get_settings(), call_sid="CA" + secrets.token_hex(16), caller=caller,
                received_at=utcnow(), called=None,
            )
            answered = time.time()
            phones = set(db.session.scalars(
                select(Member.phone).where(Member.group_id == group_id, Member.phone != caller, Member.active)
            ))
            db.session.close()
        return Alert(answered, phones)


def ninth_sms(carrier: FakeCarrier, alert: Alert, timeout: float = 60.0) -> float:
    """Seconds from the webhook's answer to the arrival of the alert's last member SMS (NaN if it never came)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with carrier.lock:
            arrived = sorted(a.at for a in carrier.arrivals if a.kind == "sms" and a.to in alert.phones
                             and a.at >= alert.answered - 1)
        if len(arrived) >= len(alert.phones):
            return arrived[len(alert.phones) - 1] - alert.answered
        time.sleep(0.02)
    return float("nan")


def service_env(places: Places, carrier_url: str = "http://127.0.0.1:9", **settings: str) -> dict[str, str]:
    """The service's environment on the delivery database (a directory and no history)."""
    return {**_service_env(places, carrier_url, **settings), "DATABASE_URL": places.delivery_url}


def _fresh(redis_url: str) -> None:
    Redis.from_url(redis_url).flushdb()


def idle_fan_out(places: Places, rounds: int) -> list[float]:
    """``rounds`` alerts, one at a time on an idle system: each one's time to its 9th SMS.

    Idle includes the sending rate: each alert waits until the last one's texts have left the rate's
    one-second window. Sooner, and its texts would wait for the last alert's slots (that is the burst).
    """
    _fresh(places.redis_url)
    with fake_carrier(LATENCY) as carrier, worker(service_env(places, carrier.url), places.logs / "worker-idle.log",
                                                  "bench-idle"):
        alerts = Alerts(places, carrier)
        alerts.open()  # warms the worker's connections, as any running system is
        time.sleep(2)
        times = []
        for _ in range(rounds):
            times.append(ninth_sms(carrier, alerts.open()))
            time.sleep(IDLE_GAP)
    return times


def burst(places: Places, calls: int, seconds: float) -> list[float]:
    """``calls`` alerts from different groups spread evenly over ``seconds``: each one's time to its 9th SMS."""
    _fresh(places.redis_url)
    with fake_carrier(LATENCY) as carrier, worker(service_env(places, carrier.url), places.logs / "worker-burst.log",
                                                  "bench-burst"):
        alerts = Alerts(places, carrier)
        alerts.open()
        time.sleep(2)
        opened = []
        start = time.monotonic()
        for index in range(calls):
            time.sleep(max(0.0, start + index * seconds / calls - time.monotonic()))
            opened.append(alerts.open())
        return [ninth_sms(carrier, alert) for alert in opened]


def _pending_rows(places: Places, sender: str, count: int) -> list[int]:
    """``count`` pending SMS rows written by SQL, to numbers of their own, with no incident."""
    tag = secrets.token_hex(4)
    purpose = "alert" if sender == INCIDENT else "broadcast"
    app = create_app(service_env(places))
    with app.app_context():
        ids = db.session.scalars(
            text(
                "INSERT INTO notifications (sender, phone, recipient_name, channel, purpose, body, status, "
                "attempts, dedupe_key, created_at) "
                "SELECT :sender, '+86135' || lpad(i::text, 8, '0'), '', 'sms', :purpose, '测试通知 ' || i, "
                "'pending', 0, :tag || '-' || i, now() FROM generate_series(1, :count) i RETURNING id"
            ),
            {"sender": sender, "purpose": purpose, "tag": f"bench-{sender}-{tag}", "count": count},
        ).all()
        db.session.commit()
    return list(ids)


def throughput(places: Places, rows: int, rate: int) -> tuple[float, int, float]:
    """A backlog of ``rows`` alert texts at ``rate`` a second.

    Returns:
        The rate reached (texts a second over the whole seconds from the
        first arrival), the busiest one-second window, and the seconds it took.
    """
    _fresh(places.redis_url)
    ids = _pending_rows(places, INCIDENT, rows)
    env = service_env(places, "", HOTLINE_SMS_PER_SECOND=str(rate))
    with fake_carrier(LATENCY) as carrier:
        env["HOTLINE_TWILIO_API_BASE"] = carrier.url
        with worker(env, places.logs / "worker-rate.log", "bench-rate"):
            dispatch(Queue(ALERTS, connection=Redis.from_url(places.redis_url)), sms_ids=ids)
            deadline = time.monotonic() + rows / rate * 3 + 30
            while len(carrier.sent_to("sms")) < rows and time.monotonic() < deadline:
                time.sleep(0.2)
        with carrier.lock:
            times = sorted(a.at for a in carrier.arrivals)
        span = times[-1] - times[0] if len(times) > 1 else float("nan")
        # Whole seconds from the first arrival: the sends a second the backlog kept up.
        whole = max(1, int(span))
        reached = sum(1 for at in times if at < times[0] + whole) / whole
        return reached, carrier.busiest_second(), span


def during_broadcast(places: Places, broadcast_rows: int, rounds: int) -> tuple[list[float], list[float], int]:
    """``rounds`` alerts on an idle worker, then ``rounds`` more, one every two seconds, during a broadcast.

    Both at :data:`BROADCAST_RATE`, with the broadcasts' default share of it (80 %): the rest leaves room
    for a group's texts at once. At 10 a second a 9-member alert needs nearly the whole second's rate, so it
    waits for the broadcast's slots to clear whatever the share (see the README).

    Returns:
        Each idle alert's time to its 9th SMS, each one's during the broadcast, and how many broadcast texts
        reached the carrier meanwhile.
    """
    _fresh(places.redis_url)
    ids = _pending_rows(places, "broadcast", broadcast_rows)
    env = service_env(places, "", HOTLINE_SMS_PER_SECOND=str(BROADCAST_RATE))
    try:
        with fake_carrier(LATENCY) as carrier:
            env["HOTLINE_TWILIO_API_BASE"] = carrier.url
            with worker(env, places.logs / "worker-broadcast.log", "bench-broadcast"):
                alerts = Alerts(places, carrier)
                alerts.open()  # warms the worker's connections, as any running system is
                time.sleep(2)
                idle = []
                for _ in range(rounds):
                    idle.append(ninth_sms(carrier, alerts.open()))
                    time.sleep(IDLE_GAP)
                dispatch_broadcast(Queue(BROADCASTS, connection=Redis.from_url(places.redis_url)), ids)
                # Let the broadcast fill its share of the rate before the first alert arrives.
                wait_for(lambda: sum(1 for p in carrier.sent_to("sms") if p.startswith("+86135")) >= 100, 60)
                during = []
                for _ in range(rounds):
                    during.append(ninth_sms(carrier, alerts.open()))
                    time.sleep(2)
                sent = sum(1 for phone in carrier.sent_to("sms") if phone.startswith("+86135"))
    finally:
        _cancel(places, ids)
    return idle, during, sent


def _cancel(places: Places, ids: list[int]) -> None:
    """The broadcast's unsent rows are cancelled, so that nothing sends them after the benchmark."""
    app = create_app(service_env(places))
    with app.app_context():
        for start in range(0, len(ids), 5000):
            db.session.execute(
                text("UPDATE notifications SET status = 'canceled' WHERE id = ANY(:ids) AND status = 'pending'"),
                {"ids": ids[start : start + 5000]},
            )
        db.session.commit()
    _fresh(places.redis_url)


def wait_for(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.1)


def figures(places: Places, *, rounds: int, burst_calls: int, burst_seconds: float, rate_rows: int, rate: int,
            broadcast_rows: int, say: Callable[[str], None]) -> list[Figure]:
    """Every delivery figure, each beside its baseline."""
    say("fan-out on an idle system…")
    idle = idle_fan_out(places, rounds)
    sequential = MEMBERS * LATENCY
    idle_p99, idle_p90 = p(idle, 0.99), p(idle, 0.9)
    found = [
        Figure("Idle fan-out, 9th SMS, p50", p(idle, 0.5), "s", "one carrier round trip", LATENCY),
        Figure("Idle fan-out, 9th SMS, p99", idle_p99, "s", "one carrier round trip", LATENCY,
               "≤ 0.5 s", idle_p99 <= 0.5),
        Figure("Idle fan-out, 9th SMS, p99 vs sequential", idle_p99, "s", "9 × round trip (sequential)",
               sequential),
    ]
    say(f"a burst of {burst_calls} calls in {burst_seconds:.0f} s…")
    burst_times = burst(places, burst_calls, burst_seconds)
    burst_p90 = p(burst_times, 0.9)
    found.append(Figure(f"Burst ({burst_calls} calls in {burst_seconds:.0f} s), 9th SMS, p90", burst_p90, "s",
                        "idle single call, p90", idle_p90, "≤ 2 s", burst_p90 <= 2.0))
    say(f"{rate_rows} texts at {rate} a second…")
    reached, busiest, _span = throughput(places, rate_rows, rate)
    found.append(Figure("SMS throughput (texts/s)", reached, "", "configured rate", rate,
                        "≥ 95 % of the rate", reached >= 0.95 * rate))
    found.append(Figure("Busiest one-second window (texts)", busiest, "", "configured rate", rate,
                        "never above the rate", busiest <= rate))
    say(f"alerts during a broadcast of {broadcast_rows} texts…")
    idle_there, during, _sent = during_broadcast(places, broadcast_rows, rounds)
    during_p99, idle_there_p99 = p(during, 0.99), p(idle_there, 0.99)
    found.append(Figure(f"Fan-out during a {broadcast_rows:,}-text broadcast at {BROADCAST_RATE}/s, p99",
                        during_p99, "s", f"idle fan-out at {BROADCAST_RATE}/s, p99", idle_there_p99,
                        "≤ 1.5 × idle", during_p99 <= 1.5 * idle_there_p99))
    return found

