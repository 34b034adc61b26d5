"""Webhook latency at fixed rates, against a bare Flask app under the same gunicorn settings.

An open-loop load generator on 127.0.0.1: request ``i`` leaves at
``start + i / rate`` whether or not the earlier ones were answered (as
Twilio's calls arrive), bounded in count and in time (15 s, Twilio's limit,
per request). Latency is from when a request leaves to when its answer has
arrived.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from sqlalchemy import select, text
from twilio.request_validator import RequestValidator

from bench.report import Figure, p
from bench.stack import ACCOUNT_SID, AUTH_TOKEN, TWILIO_NUMBER, Places, service_env, web
from hotline.app import create_app
from hotline.extensions import db
from hotline.models import Member

TIMEOUT = 15.0


@dataclass(frozen=True)
class Load:
    """What a run of requests met."""

    latencies: list[float]  # seconds, of the answered requests
    failed: int  # errors, timeouts and answers other than 200/204

    def at(self, q: float) -> float:
        return p(self.latencies, q) if self.latencies else float("nan")


async def _drive(base: str, requests: list[tuple[str, dict[str, str]]], rate: float) -> Load:
    validator = RequestValidator(AUTH_TOKEN)
    latencies: list[float] = []
    failed = 0
    connector = aiohttp.TCPConnector(limit=400)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as client:

        async def one(path: str, form: dict[str, str]) -> None:
            nonlocal failed
            headers = {"X-Twilio-Signature": validator.compute_signature(base + path, form)}
            sent = time.perf_counter()
            try:
                async with client.post(base + path, data=form, headers=headers) as answer:
                    await answer.read()
                    if answer.status in (200, 204):
                        latencies.append(time.perf_counter() - sent)
                    else:
                        failed += 1
            except (aiohttp.ClientError, TimeoutError):
                failed += 1

        start = time.perf_counter()
        tasks = []
        for index, (path, form) in enumerate(requests):
            await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(path, form)))
        await asyncio.gather(*tasks)
    return Load(latencies, failed)


def drive(base: str, requests: list[tuple[str, dict[str, str]]], rate: float) -> Load:
    """Send ``requests`` (path, form) to ``base`` at ``rate`` a second, open loop."""
    return asyncio.run(_drive(base, requests, rate))


def _callers(places: Places) -> list[str]:
    app = create_app(service_env(places))
    with app.app_context():
        return list(db.session.scalars(select(Member.phone).where(Member.role == "household").order_by(Member.id)))


def voice_requests(callers: list[str], count: int) -> list[tuple[str, dict[str, str]]]:
    """New calls from the seeded households, each with its own CallSid."""
    return [
        ("/twilio/voice", {
            "CallSid": "CA" + secrets.token_hex(16), "AccountSid": ACCOUNT_SID, "From": callers[i % len(callers)],
            "To": TWILIO_NUMBER, "CallStatus": "ringing", "Direction": "inbound",
        })
        for i in range(count)
    ]


def _sent_texts(places: Places, count: int) -> list[int]:
    """The newest pending texts (the calls' fan-outs) marked as handed to the carrier, with a carrier id each."""
    app = create_app(service_env(places))
    with app.app_context():
        ids = list(db.session.scalars(text(
            "UPDATE notifications SET status = 'queued', provider_sid = 'SM' || md5('bench' || id) "
            "WHERE id IN (SELECT id FROM notifications WHERE channel = 'sms' AND status = 'pending' "
            "AND sender = 'incident' ORDER BY id DESC LIMIT :count) RETURNING id"
        ), {"count": count}))
        db.session.commit()
    return ids


def status_requests(
    ids: list[int], per_text: tuple[str, ...] = ("sent", "delivered")
) -> list[tuple[str, dict[str, str]]]:
    """Delivery reports as Twilio sends them: each text's statuses in turn."""

    return [
        (f"/twilio/sms-status?n={notification_id}", {
            "MessageSid": "SM" + hashlib.md5(f"bench{notification_id}".encode()).hexdigest(),
            "AccountSid": ACCOUNT_SID, "MessageStatus": status, "To": "+8613900000000", "From": TWILIO_NUMBER,
        })
        for status in per_text
        for notification_id in ids
    ]


def _newest_incident(places: Places) -> int:
    app = create_app(service_env(places))
    with app.app_context():
        return db.session.scalar(text("SELECT coalesce(max(id), 0) FROM incidents")) or 0


def _close_since(places: Places, newest: int) -> None:
    """The benchmark's calls are closed and their unsent rows cancelled: the history stays as it was seeded."""
    app = create_app(service_env(places))
    with app.app_context():
        db.session.execute(text(
            "UPDATE notifications SET status = 'canceled' "
            "WHERE incident_id > :newest AND status IN ('pending', 'queued')"
        ), {"newest": newest})
        db.session.execute(text(
            "UPDATE incidents SET status = 'closed', closed_at = now(), outcome = 'resolved' WHERE id > :newest"
        ), {"newest": newest})
        db.session.commit()


def figures(places: Places, *, voice_rate: float, voice_seconds: float, status_rate: float, status_seconds: float,
            say: Callable[[str], None]) -> list[Figure]:
    """Voice and status-callback latency of the service and of the bare app, side by side."""
    callers = _callers(places)
    voice_count = int(voice_rate * voice_seconds)
    status_count = int(status_rate * status_seconds)
    env = service_env(places)
    say(f"bare Flask app: {voice_count} calls at {voice_rate:.0f}/s, {status_count} reports at {status_rate:.0f}/s…")
    with web(env, places.logs / "web-bare.log", "bench.bare_app:create_app()") as base:
        bare_voice = drive(base, voice_requests(callers, voice_count), voice_rate)
        bare_status = drive(base, status_requests(list(range(1, status_count // 2 + 1))), status_rate)
    say("the service: the same calls and reports…")
    before = _newest_incident(places)
    try:
        with web(env, places.logs / "web.log") as base:
            drive(base, voice_requests(callers, 20), 10)  # warms both web workers' connections
            voice = drive(base, voice_requests(callers, voice_count), voice_rate)
            ids = _sent_texts(places, status_count // 2)
            status = drive(base, status_requests(ids), status_rate)
    finally:
        _close_since(places, before)
    found = []
    for name, load, bare, target in (
        (f"Voice webhook at {voice_rate:.0f}/s", voice, bare_voice, 0.5),
        (f"Status callbacks at {status_rate:.0f}/s", status, bare_status, 0.2),
    ):
        found.append(Figure(f"{name}, p50", load.at(0.5) * 1000, "ms", "bare Flask app, p50", bare.at(0.5) * 1000))
        p99 = load.at(0.99)
        met = p99 <= target and load.failed == 0
        found.append(Figure(f"{name}, p99 ({load.failed} failed of {len(load.latencies) + load.failed})",
                            p99 * 1000, "ms", "bare Flask app, p99", bare.at(0.99) * 1000,
                            f"≤ {target * 1000:.0f} ms", met))
    return found
