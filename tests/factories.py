"""Building directory rows and signed webhook requests for tests."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from hotline.models import Group, Member, RingMode, Role, Station, Village

SIM_TOKEN = "hotline-simulator"
PUBLIC_URL = "http://127.0.0.1:5000"


def call_sid() -> str:
    return "CA" + secrets.token_hex(16)


def message_sid() -> str:
    return "SM" + secrets.token_hex(16)


def make_group(
    session: Session,
    *,
    station_name: str = "城关派出所",
    village_name: str = "东村",
    group_name: str = "一组",
    households: int = 6,
    ring_mode: RingMode = RingMode.SIMULTANEOUS,
    duty_phone: str | None = "+861088880000",
    delays: str | None = None,
    prefix: str = "+86138001",
) -> Group:
    """A group with one leader, ``households`` households, an assistant and an officer.

    Phones are ``{prefix}NNNNN`` with the member's index, so several groups
    with different prefixes do not collide.
    """
    station = session.query(Station).filter_by(name=station_name).one_or_none()
    if station is None:
        station = Station(name=station_name, duty_phone=duty_phone, escalation_delays=delays)
        session.add(station)
        session.flush()
    village = Village(station_id=station.id, name=village_name)
    session.add(village)
    session.flush()
    group = Group(village_id=village.id, name=group_name, ring_mode=ring_mode)
    session.add(group)
    session.flush()
    people = [("王组长", Role.LEADER)]
    people += [(f"村民{i}", Role.HOUSEHOLD) for i in range(1, households + 1)]
    people += [("李助理", Role.ASSISTANT), ("张警官", Role.OFFICER)]
    for index, (name, role) in enumerate(people):
        session.add(
            Member(
                group_id=group.id,
                name=name,
                phone=f"{prefix}{index:05d}",
                role=role,
                address=f"东村{index + 1}号",
            )
        )
    session.commit()
    return group


def sign(url: str, params: dict[str, str], token: str = SIM_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def signed_post(client, path: str, params: dict[str, str], *, token: str = SIM_TOKEN, public_url: str = PUBLIC_URL):
    """POST ``params`` to ``path`` as the carrier would, with a valid signature."""
    signature = sign(public_url + path, params, token)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})
