"""Shared data builders for the console tests; their fixtures live in conftest.py.

Two stations with one group each, a staff user per station and a city-wide
user; incidents are built directly in the database with known times so that
statistics can be checked against a hand count.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from hotline.models import (
    Answer,
    Channel,
    Group,
    Incident,
    IncidentStatus,
    Member,
    Notification,
    Purpose,
    Response,
    Role,
    TimelineEvent,
)
from hotline.services.stations import add_user
from tests.factories import call_sid, make_group

PASSWORD = "correct-horse-1"
STATION_A = "城关派出所"
STATION_B = "南山派出所"


@dataclass
class World:
    group_a: Group
    group_b: Group
    group_a2: Group

    @property
    def ids(self) -> dict[str, int]:
        return {"a": self.group_a.id, "b": self.group_b.id, "a2": self.group_a2.id}


def build_world(session: Session) -> World:
    """Station A (two groups in two villages) and station B (one group), with users."""
    group_a = make_group(session, station_name=STATION_A, village_name="东村", group_name="一组", prefix="+86138001")
    group_a2 = make_group(
        session, station_name=STATION_A, village_name="西村", group_name="二组", households=2, prefix="+86138003"
    )
    group_b = make_group(session, station_name=STATION_B, village_name="南村", group_name="一组", prefix="+86138002")
    add_user(session, "a_staff", PASSWORD, STATION_A)
    add_user(session, "b_staff", PASSWORD, STATION_B)
    add_user(session, "city", PASSWORD, None)
    session.commit()
    return World(group_a=group_a, group_b=group_b, group_a2=group_a2)


def member(group: Group, role: Role, index: int = 0) -> Member:
    return [m for m in group.members if m.role == role][index]


def make_incident(
    session: Session,
    group: Group,
    *,
    opened_at: datetime,
    accept_after: float | None = None,
    decline_after: float | None = None,
    level: int = 0,
    drill: bool = False,
    closed: bool = False,
    failed_phones: tuple[str, ...] = (),
) -> Incident:
    """An incident called in by the group's first household, with its fan-out.

    Every other member gets an SMS (delivered unless listed in
    ``failed_phones``) and a call; ``accept_after`` seconds after opening the
    leader accepts; ``decline_after`` the assistant declines first.
    """
    caller = member(group, Role.HOUSEHOLD)
    incident = Incident(
        station_id=group.village.station_id,
        group_id=group.id,
        caller_member_id=caller.id,
        caller_phone=caller.phone,
        caller_name=caller.name,
        source="call",
        call_sid=call_sid(),
        opened_at=opened_at,
        is_drill=drill,
        escalation_level=level,
        escalated_at=opened_at + timedelta(seconds=60) if level else None,
    )
    session.add(incident)
    session.flush()
    events = [
        TimelineEvent(incident_id=incident.id, at=opened_at, kind="call_received", detail={"caller": caller.phone}),
        TimelineEvent(incident_id=incident.id, at=opened_at, kind="fan_out", detail={"rung": 8, "texted": 8}),
    ]
    for other in group.members:
        if other.id == caller.id:
            continue
        failed = other.phone in failed_phones
        session.add(
            Notification(
                incident_id=incident.id, member_id=other.id, phone=other.phone, recipient_name=other.name,
                channel=Channel.SMS, purpose=Purpose.ALERT, status="failed" if failed else "delivered",
                error_code=30003 if failed else None, dedupe_key=f"{incident.id}:sms:{other.phone}",
                created_at=opened_at, sent_at=opened_at + timedelta(seconds=1),
                status_at=opened_at + timedelta(seconds=3),
            )
        )
        session.add(
            Notification(
                incident_id=incident.id, member_id=other.id, phone=other.phone, recipient_name=other.name,
                channel=Channel.CALL, purpose=Purpose.ALERT, via_dial=True, status="completed",
                dedupe_key=f"{incident.id}:call:{other.phone}", created_at=opened_at,
            )
        )
    if decline_after is not None:
        assistant = member(group, Role.ASSISTANT)
        at = opened_at + timedelta(seconds=decline_after)
        session.add(
            Response(
                incident_id=incident.id, member_id=assistant.id, phone=assistant.phone,
                responder_name=assistant.name, channel=Channel.SMS, answer=Answer.DECLINE,
                source_sid="SM" + secrets.token_hex(16), received_at=at,
            )
        )
        events.append(
            TimelineEvent(incident_id=incident.id, at=at, kind="sms_reply", member_id=assistant.id,
                          detail={"name": assistant.name, "phone": assistant.phone, "answer": "decline"})
        )
    if accept_after is not None:
        leader = member(group, Role.LEADER)
        at = opened_at + timedelta(seconds=accept_after)
        session.add(
            Response(
                incident_id=incident.id, member_id=leader.id, phone=leader.phone, responder_name=leader.name,
                channel=Channel.CALL, answer=Answer.ACCEPT, source_sid="CA" + secrets.token_hex(16), received_at=at,
            )
        )
        incident.status = IncidentStatus.ACKNOWLEDGED
        incident.acknowledged_at = at
        incident.acknowledged_by_id = leader.id
        events.append(
            TimelineEvent(incident_id=incident.id, at=at, kind="call_accepted", member_id=leader.id,
                          detail={"name": leader.name, "phone": leader.phone, "answer": "accept"})
        )
        events.append(TimelineEvent(incident_id=incident.id, at=at, kind="acknowledged", member_id=leader.id,
                                    detail={"name": leader.name, "channel": "call"}))
    if level:
        officer = member(group, Role.OFFICER)
        at = opened_at + timedelta(seconds=60)
        session.add(
            Notification(
                incident_id=incident.id, member_id=officer.id, phone=officer.phone, recipient_name=officer.name,
                channel=Channel.SMS, purpose=Purpose.ESCALATION, escalation_level=1, status="delivered",
                dedupe_key=f"{incident.id}:esc:{officer.phone}", created_at=at,
            )
        )
        recipients = [{"phone": officer.phone, "name": officer.name}]
        detail = {"level": 1, "recipients": recipients}
        events.append(TimelineEvent(incident_id=incident.id, at=at, kind="escalated", detail=detail))
    if closed:
        incident.status = IncidentStatus.CLOSED
        incident.closed_at = opened_at + timedelta(hours=1)
        incident.outcome = "resolved"
    session.add_all(events)
    session.commit()
    return incident


def login(client, username: str, password: str = PASSWORD, **extra):
    """Sign in through the form; works with CSRF on (the token is read from the page)."""
    page = client.get("/login")
    data = {"username": username, "password": password, **extra}
    token = csrf_token(page.get_data(as_text=True))
    if token:
        data["csrf_token"] = token
    return client.post("/login", data=data)


def csrf_token(html: str) -> str | None:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    return found.group(1) if found else None


def at(text: str) -> datetime:
    """A UTC time from ``YYYY-MM-DD HH:MM:SS`` (Beijing time is 8 hours ahead)."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
