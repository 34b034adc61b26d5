"""The demo station that ``hotline up`` seeds on a first run.

Every name says 示例 (example) and every number sits in one obviously
patterned block, so nobody mistakes the demo for a real directory.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.settings import Settings
from hotline.models import Group, Member, RingMode, Role, Station, User, Village
from hotline.services.stations import add_user

DEMO_STATION = "示例派出所"
DEMO_USER = "demo"
DEMO_PASSWORD = "demo-password"
DEMO_DUTY_PHONE = "+8613900000000"

# village, group, ring mode, households
_GROUPS = [
    ("东风村", "东风一组", RingMode.SIMULTANEOUS, 6),
    ("东风村", "东风二组", RingMode.CONFERENCE, 5),
    ("红旗村", "红旗一组", RingMode.SIMULTANEOUS, 7),
]
_SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"


def demo_phone(group_index: int, member_index: int) -> str:
    return f"+86139000{group_index + 1:02d}{member_index:03d}"


def seed_demo(session: Session, settings: Settings, *, simulated: bool = False) -> Station | None:
    """Create the demo station, villages, groups and login if the database is empty.

    Only while the simulator is the carrier, or plays the configured one
    (``simulated``: ``hotline up`` with Aliyun and no account): with a real
    carrier the demo's well-known login would open a live console to anyone
    who read the README.

    Returns the new station, or None when the directory already has stations
    or a real carrier is configured.
    """
    if settings.carrier != "simulator" and not simulated:
        return None
    if session.scalar(select(func.count()).select_from(Station)):
        return None
    station = Station(name=DEMO_STATION, duty_phone=DEMO_DUTY_PHONE, escalation_delays="45,90")
    session.add(station)
    session.flush()
    villages: dict[str, Village] = {}
    for group_index, (village_name, group_name, ring_mode, households) in enumerate(_GROUPS):
        village = villages.get(village_name)
        if village is None:
            village = villages[village_name] = Village(station_id=station.id, name=village_name)
            session.add(village)
            session.flush()
        group = Group(village_id=village.id, name=group_name, ring_mode=ring_mode)
        session.add(group)
        session.flush()
        people = [(Role.LEADER, "组长")]
        people += [(Role.HOUSEHOLD, f"村民{n}") for n in range(1, households + 1)]
        people += [(Role.ASSISTANT, "警务助理"), (Role.OFFICER, "民警")]
        for member_index, (role, title) in enumerate(people):
            surname = _SURNAMES[(group_index * 5 + member_index) % len(_SURNAMES)]
            session.add(
                Member(
                    group_id=group.id,
                    name=f"示例{title}{surname}",
                    phone=demo_phone(group_index, member_index),
                    role=role,
                    address=f"{village_name}{group_name}{member_index + 1}号" if role.may_call_for_help else "",
                )
            )
    add_user(session, DEMO_USER, DEMO_PASSWORD, DEMO_STATION)
    session.flush()
    return station


def demo_login_hint(session: Session) -> str | None:
    """``"demo / demo-password"`` while the demo user exists and is enabled, for the start-up banner."""
    if session.scalar(select(User.id).where(User.username == DEMO_USER, User.disabled_at.is_(None))) is None:
        return None
    return f"{DEMO_USER} / {DEMO_PASSWORD}"
