"""Stations and staff users."""

from __future__ import annotations

import difflib
import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from config.settings import MAX_ESCALATION_DELAY, MAX_ESCALATION_LEVELS
from hotline.models import Station, User
from hotline.phones import parse_phone


class StationError(ValueError):
    """A station or user change was refused; the message says why."""


def parse_delays(text: str) -> tuple[int, ...]:
    """Parse ``"60,180"`` into seconds per escalation level.

    Raises:
        StationError: A part is not a whole number of seconds from 1 to
            :data:`~config.settings.MAX_ESCALATION_DELAY` (an hour), or there
            are more than :data:`~config.settings.MAX_ESCALATION_LEVELS` parts.
    """
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part.isascii() and part.isdigit() for part in parts):
        raise StationError(f"升级等待时间要写成用逗号隔开的整秒数，例如 60,180；“{text.strip()}”不是。")
    delays = tuple(int(part) for part in parts)
    if any(delay <= 0 for delay in delays):
        raise StationError(f"升级等待时间每一级都要大于 0 秒，例如 60,180；“{text.strip()}”不行。")
    if len(delays) > MAX_ESCALATION_LEVELS:
        raise StationError(f"升级等待时间最多 {MAX_ESCALATION_LEVELS} 级，“{text.strip()}”有 {len(delays)} 级。")
    too_long = next((delay for delay in delays if delay > MAX_ESCALATION_DELAY), None)
    if too_long is not None:
        raise StationError(
            f"升级等待时间每一级最多 {MAX_ESCALATION_DELAY} 秒（1 小时），没人接的告警要在一小时内升级；"
            f"{too_long} 秒太长，例如写 60,180。"
        )
    return delays


# Seconds a station's drill standard may be (as HOTLINE_DRILL_STANDARD_SECONDS).
DRILL_STANDARD_RANGE = (10, 3600)


def parse_drill_standard(text: str | int | None) -> int | None:
    """Seconds within which a drill's group must be covered, as typed; None for empty (the service default).

    Raises:
        StationError: Not a whole number of seconds from 10 to 3600.
    """
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    low, high = DRILL_STANDARD_RANGE
    try:
        seconds = int(str(text).strip())
    except ValueError:
        raise StationError(_drill_standard_refused(text)) from None
    if not low <= seconds <= high:
        raise StationError(_drill_standard_refused(text))
    return seconds


def _drill_standard_refused(text: str | int) -> str:
    low, high = DRILL_STANDARD_RANGE
    return f"演练标准要写成 {low} 到 {high} 之间的整秒数，例如 120；“{str(text).strip()}”不行。"


def _not_a_phone(what: str, text: str, example: str) -> str:
    if not text.strip():
        return f"{what}是空的；请写上号码，例如 {example}。"
    return f"{what}“{text.strip()}”不是有效的电话号码；请写成例如 {example}，或 +86 开头的完整号码。"


def get_or_create_station(session: Session, name: str) -> Station:
    name = name.strip()
    if not name:
        raise StationError("派出所名称是空的；请写上名称，例如 城关派出所。")
    station = session.scalar(select(Station).where(Station.name == name))
    if station is None:
        station = Station(name=name)
        session.add(station)
        session.flush()
    return station


def configure_station(
    session: Session,
    name: str,
    *,
    duty_phone: str | None = None,
    escalation_delays: str | None = None,
    max_group_size: int | None = None,
    hotline_number: str | None = None,
    drill_standard: str | None = None,
    region: str = "CN",
) -> Station:
    """Create the station ``name`` if needed and apply the given changes.

    ``hotline_number`` is the number this station's villagers dial ("" clears
    it); a call or text to it belongs to this station. ``drill_standard`` is
    the seconds within which a drill's group must be covered ("" goes back to
    HOTLINE_DRILL_STANDARD_SECONDS).

    Raises:
        StationError: The duty phone, hotline number, delays or drill standard
            are invalid, or another station already has that hotline number.
    """
    station = get_or_create_station(session, name)
    if hotline_number is not None:
        station.hotline_number = _own_hotline_number(session, station, hotline_number, region)
    if duty_phone is not None:
        from hotline.phones import PhoneError

        try:
            station.duty_phone = parse_phone(duty_phone, region).e164
        except PhoneError:
            raise StationError(_not_a_phone("值班电话", duty_phone, "010-8888 0000")) from None
    if escalation_delays is not None:
        station.escalation_delays = ",".join(str(d) for d in parse_delays(escalation_delays))
    if max_group_size is not None:
        if not 2 <= max_group_size <= 250:
            raise StationError(f"每组人数上限要在 2 到 250 之间，例如 10；{max_group_size} 不行。")
        station.max_group_size = max_group_size
    if drill_standard is not None:
        station.drill_standard_seconds = parse_drill_standard(drill_standard)
    return station


def _own_hotline_number(session: Session, station: Station, text: str, region: str) -> str | None:
    """``text`` in E.164 if no other station has it; None for an empty ``text``."""
    from hotline.phones import PhoneError

    if not text.strip():
        return None
    try:
        number = parse_phone(text, region).e164
    except PhoneError:
        raise StationError(_not_a_phone("热线号码", text, "0571-8888 0001") + '写 "" 则改回共用的热线号码。') from None
    # One number must lead to one station, or a stranger's call could not be routed.
    holder = session.scalar(select(Station).where(Station.hotline_number == number, Station.id != station.id))
    if holder is not None:
        raise StationError(
            f"热线号码 {number} 已属于{holder.name}：一个号码只能对应一个派出所，否则来电无法分派。"
            f'请换一个号码，或先清空{holder.name}的号码（hotline stations set {holder.name} --hotline-number ""）。'
        )
    return number


def add_user(session: Session, username: str, password: str, station_name: str | None) -> User:
    """Add a staff user; ``station_name=None`` makes a city-wide user.

    Raises:
        StationError: The username is taken, the password too short, or the
            station unknown.
    """
    username = username.strip()
    if not username:
        raise StationError("用户名是空的；请写上用户名。")
    if len(password) < 8:
        raise StationError("密码至少要 8 个字符。")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise StationError(
            f"用户“{username}”已经存在；请换一个用户名，或用 hotline users password {username} 修改其密码。"
        )
    station_id = None
    if station_name is not None:
        station = session.scalar(select(Station).where(Station.name == station_name.strip()))
        if station is None:
            raise StationError(_no_station(session, station_name.strip()))
        station_id = station.id
    user = User(username=username, password_hash=generate_password_hash(password), station_id=station_id)
    session.add(user)
    session.flush()
    return user


def _no_station(session: Session, name: str) -> str:
    """Why ``name`` names no station, with the known stations, nearest first, as the directory import says it."""
    names = list(session.scalars(select(Station.name)))
    if not names:
        return f"还没有名为“{name}”的派出所，也没有任何派出所；请先用 hotline stations set {name} 创建。"
    nearest = sorted(names, key=lambda known: -difflib.SequenceMatcher(None, name, known).ratio())[:10]
    return (
        f"没有名为“{name}”的派出所；已有的派出所（最接近的在前）：{'、'.join(nearest)}。"
        f"请检查名称，或先用 hotline stations set {name} 创建。"
    )


def verify_password(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def issue_api_token(user: User) -> str:
    """Give ``user`` a new API token; only its hash is stored, so show it once."""
    token = secrets.token_urlsafe(32)
    user.api_token_hash = hashlib.sha256(token.encode()).hexdigest()
    return token


def find_user(session: Session, username: str) -> User:
    """The user named ``username``.

    Raises:
        StationError: No user has that name.
    """
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise StationError(f"没有名为“{username.strip()}”的用户。")
    return user


def sign_out_everywhere(user: User) -> None:
    """End every console session of ``user``: each carries the epoch it began in."""
    user.session_epoch = (user.session_epoch or 0) + 1


def set_password(user: User, password: str) -> None:
    """Give ``user`` a new password; their sessions end and their API token stops working.

    Whoever knew the old password may have signed in or taken the token with
    it, so both go (the console signs the changing session in again).

    Raises:
        StationError: The password is shorter than 8 characters.
    """
    if len(password) < 8:
        raise StationError("密码至少要 8 个字符。")
    user.password_hash = generate_password_hash(password)
    user.api_token_hash = None
    sign_out_everywhere(user)


def disable_user(user: User, now: datetime) -> bool:
    """Stop ``user`` signing in; their sessions end and their API token is dropped.

    Returns:
        False when the user was already disabled (nothing changes).
    """
    if user.disabled_at is not None:
        return False
    user.disabled_at = now
    user.api_token_hash = None
    sign_out_everywhere(user)
    return True


def enable_user(user: User) -> bool:
    """Let a disabled ``user`` sign in again (with the same password).

    Returns:
        False when the user was not disabled.
    """
    if user.disabled_at is None:
        return False
    user.disabled_at = None
    return True


def remove_user(session: Session, user: User) -> None:
    """Delete ``user``.

    The audit log and incident timelines keep the username as text, so
    what they did still reads right; incidents they took or closed keep the
    timeline entry but no longer link to the user.
    """
    session.delete(user)
    session.flush()
