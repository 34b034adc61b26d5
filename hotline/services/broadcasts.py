"""Broadcasts: daily case bulletins, fraud and weather warnings to a station's villagers, by SMS or a spoken call.

A broadcast is composed (:func:`plan`: its audience, texts, how many will
receive it and how long it will take), confirmed, and then written: one
outbox row per number and channel, ``sender="broadcast"`` with the
broadcast's id and no incident, handed to the delivery engine in batches on
the ``broadcasts`` queue (:func:`hotline.services.outbox.dispatch_broadcast`).
There they take the sending rate only while no alert is waiting, so a
broadcast never delays an emergency.

Rows are written when the broadcast starts (now, at its time, or at each
time of a repeating one), from the directory and the opt-outs as they are
then. A paused broadcast's unsent rows are ``held``: neither the batches nor
the sweeper send a held row. Calls written in a station's quiet hours are
held too, until the quiet hours end (:mod:`hotline.services.quiet_hours`).
"""

from __future__ import annotations

import math
import string
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from config.settings import Settings
from config.templates import TemplateError, as_sentence, load_templates, render
from hotline.carriers.base import Carrier
from hotline.db import rows_changed
from hotline.models import (
    Broadcast,
    BroadcastChannel,
    BroadcastStatus,
    Channel,
    Group,
    Member,
    Notification,
    Purpose,
    Role,
    Station,
    Village,
    utcnow,
)
from hotline.services.broadcast_optouts import opted_out_phones
from hotline.services.drills import MISSED_AFTER, DrillError, check_rule, next_occurrence
from hotline.services.messages import local_time
from hotline.services.outbox import BROADCAST, dedupe_key
from hotline.services.quiet_hours import quiet_until
from hotline.services.segments import count_segments

KINDS = ("bulletin", "fraud", "weather", "free")
# Values every template may use without the sender giving them.
FILLED_IN = ("station", "date")
# A broadcast SMS longer than this many parts is refused: nobody reads a sixth part on a basic phone.
MAX_SMS_SEGMENTS = 5
HELD = "held"  # a row that waits (a paused broadcast, or a call in quiet hours); nothing sends it
WAITING = frozenset({"pending", "claimed", HELD})
DELIVERED = frozenset({"delivered", "read", "completed"})
FAILED = frozenset({"failed", "undelivered", "busy", "no-answer"})
ROLE_WORDS = {
    "household": Role.HOUSEHOLD, "households": Role.HOUSEHOLD, "求助户": Role.HOUSEHOLD, "户主": Role.HOUSEHOLD,
    "村民": Role.HOUSEHOLD, "leader": Role.LEADER, "联防组长": Role.LEADER, "组长": Role.LEADER,
    "assistant": Role.ASSISTANT, "警务助理": Role.ASSISTANT, "辅警": Role.ASSISTANT,
    "officer": Role.OFFICER, "社区民警": Role.OFFICER, "民警": Role.OFFICER,
}


class BroadcastError(ValueError):
    """A broadcast cannot be composed, sent or changed; the message says why, in Chinese."""


# --- what it says ----------------------------------------------------------


def template_key(kind: str) -> str:
    """The template of a kind of broadcast (``fraud`` -> ``broadcast_fraud``).

    Raises:
        BroadcastError: No such kind.
    """
    kind = kind.removeprefix("broadcast_")
    if kind not in KINDS:
        raise BroadcastError(f"没有模板 {kind!r}，可选：{'、'.join(KINDS)}")
    return f"broadcast_{kind}"


def message_key(template: str, channel: str) -> str:
    """The key a broadcast's SMS or spoken notice is sent under, for carriers that send only registered
    templates: ``sms_broadcast_fraud`` for a text, ``voice_broadcast_fraud`` for a call."""
    kind = template.removeprefix("sms_").removeprefix("voice_").removeprefix("broadcast_")
    return f"{'sms' if channel == Channel.SMS else 'voice'}_broadcast_{kind}"


def kind_label(language: str, kind: str) -> str:
    """A kind as the station calls it (每日案情通报)."""
    return render(language, f"broadcast_label_{kind.removeprefix('broadcast_')}")


def variables(language: str, kind: str) -> list[str]:
    """The values a kind's template needs from the sender (the station's name and the date are filled in)."""
    pattern = load_templates(language)[template_key(kind)]
    names = [name for _, name, _, _ in string.Formatter().parse(pattern) if name]
    return [name for name in dict.fromkeys(names) if name not in FILLED_IN]


@dataclass(frozen=True)
class Texts:
    """A broadcast's words: the template and values, the SMS as sent, and what a call speaks."""

    template: str
    params: dict[str, str]
    sms: str
    voice: str

    @property
    def segments(self) -> int:
        return count_segments(self.sms)


def filled_in(settings: Settings, station: Station, now: datetime | None = None) -> dict[str, str]:
    """The values of :data:`FILLED_IN`: the station's name and today's date, as the station writes it."""
    local = (now or utcnow()).astimezone(ZoneInfo(settings.timezone))
    today = f"{local.month}月{local.day}日" if settings.language == "zh" else f"{local:%d %b}"
    return {"station": station.name, "date": today}


def compose(
    settings: Settings, station: Station, kind: str, values: dict[str, str], now: datetime | None = None
) -> Texts:
    """Render a kind's template with ``values`` for ``station``.

    Raises:
        BroadcastError: An unknown kind or value name, a value missing or
            empty, or an SMS longer than :data:`MAX_SMS_SEGMENTS` parts.
    """
    key = template_key(kind)
    language = settings.language
    needed = variables(language, kind)
    unknown = sorted(set(values) - set(needed) - set(FILLED_IN))
    if unknown:
        raise BroadcastError(f"模板没有这些变量：{'、'.join(unknown)}（需要：{'、'.join(needed) or '无'}）")
    cleaned = {name: value.strip().rstrip("。.") for name, value in values.items()}
    missing = [name for name in needed if not cleaned.get(name)]
    if missing:
        raise BroadcastError(f"请填写：{'、'.join(missing)}（命令行：--var 名称=值）")
    params = {**filled_in(settings, station, now), **cleaned}
    try:
        body = render(language, key, **params)
        sms = render(language, "broadcast_sms", station=station.name, text=as_sentence(body))
        voice = render(language, "broadcast_voice", station=station.name, text=as_sentence(body))
    except TemplateError as exc:
        raise BroadcastError(f"模板有误：{exc}") from None
    texts = Texts(template=key, params=params, sms=sms, voice=voice)
    if texts.segments > MAX_SMS_SEGMENTS:
        raise BroadcastError(f"内容过长：每条短信要拆成{texts.segments}条（最多{MAX_SMS_SEGMENTS}条），请删减")
    return texts


# --- to whom ---------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    """Every active member of a station, narrowed to these villages, groups and roles when any are named."""

    villages: tuple[int, ...] = ()
    groups: tuple[int, ...] = ()
    roles: tuple[str, ...] = ()

    def to_json(self) -> dict[str, list[Any]]:
        return {"villages": list(self.villages), "groups": list(self.groups), "roles": list(self.roles)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Audience:
        data = data or {}
        return cls(
            tuple(int(v) for v in data.get("villages", ())), tuple(int(g) for g in data.get("groups", ())),
            tuple(str(r) for r in data.get("roles", ())),
        )


def parse_role(word: str) -> str:
    """A role named in Chinese or English (求助户, household, 组长…); ``all``/``全部`` is every role (empty).

    Raises:
        BroadcastError: The word names no role.
    """
    word = word.strip().lower()
    if word in ("all", "everyone", "全部", "所有人"):
        return ""
    role = ROLE_WORDS.get(word)
    if role is None:
        raise BroadcastError(f"没有角色 {word!r}，可选：求助户、联防组长、警务助理、社区民警或全部")
    return str(role)


def find_audience(
    session: Session, station: Station, *, villages: list[str] = (), groups: list[str] = (),  # type: ignore[assignment]
    roles: list[str] = (),  # type: ignore[assignment]
) -> Audience:
    """The audience named by village names, groups (``村/组`` or a name unique in the station) and roles.

    Raises:
        BroadcastError: A village or group is not the station's, a group name is ambiguous, or a role unknown.
    """
    village_ids = []
    for name in villages:
        village = session.scalar(select(Village).where(Village.station_id == station.id, Village.name == name.strip()))
        if village is None:
            raise BroadcastError(f"{station.name}没有名为 {name!r} 的村")
        village_ids.append(village.id)
    group_ids = []
    for name in groups:
        village_name, _, group_name = name.rpartition("/")
        query = (
            select(Group).join(Village, Group.village_id == Village.id)
            .where(Village.station_id == station.id, Group.name == group_name.strip())
        )
        if village_name:
            query = query.where(Village.name == village_name.strip())
        found = list(session.scalars(query))
        if not found:
            raise BroadcastError(f"{station.name}没有名为 {name!r} 的小组")
        if len(found) > 1:
            raise BroadcastError(f"{station.name}有多个名为 {name!r} 的小组，请写成“村/组”")
        group_ids.append(found[0].id)
    chosen = [role for role in (parse_role(word) for word in roles) if role]
    return Audience(tuple(village_ids), tuple(group_ids), tuple(dict.fromkeys(chosen)))


def audience_members(session: Session, station: Station, audience: Audience) -> list[Member]:
    """The station's active members in the audience, by village, group and member."""
    query = (
        select(Member).join(Group, Member.group_id == Group.id).join(Village, Group.village_id == Village.id)
        .where(Village.station_id == station.id, Member.active.is_(True))
        .order_by(Village.name, Group.name, Member.id)
    )
    if audience.villages or audience.groups:
        query = query.where(Village.id.in_(audience.villages) | Group.id.in_(audience.groups))
    if audience.roles:
        query = query.where(Member.role.in_(audience.roles))
    return list(session.scalars(query))


@dataclass
class Recipients:
    """Who a broadcast goes to, one row per number, and who was left out and why."""

    sms: list[Member] = field(default_factory=list)
    calls: list[Member] = field(default_factory=list)
    matched: int = 0  # memberships in the audience
    duplicates: int = 0  # the same number in several groups: it gets one
    opted_out: int = 0  # texted TD, 退订 or STOP: no broadcast at all
    no_sms: int = 0  # a landline, or a number the carrier refuses texts to (left out of the SMS only)

    @property
    def numbers(self) -> int:
        """Distinct numbers that receive something."""
        return len({m.phone for m in self.sms} | {m.phone for m in self.calls})

    def skipped_json(self) -> dict[str, int]:
        return {"matched": self.matched, "duplicates": self.duplicates, "opted_out": self.opted_out,
                "no_sms": self.no_sms}


def recipients(session: Session, station: Station, audience: Audience, channel: str) -> Recipients:
    """The numbers a broadcast on ``channel`` reaches now: duplicates and opt-outs removed."""
    members = audience_members(session, station, audience)
    found = Recipients(matched=len(members))
    unique: list[Member] = []
    seen: set[str] = set()
    for member in members:
        if member.phone in seen:
            found.duplicates += 1
            continue
        seen.add(member.phone)
        unique.append(member)
    stopped = opted_out_phones(session, seen)
    found.opted_out = sum(1 for m in unique if m.phone in stopped)
    wanted = [m for m in unique if m.phone not in stopped]
    if channel in (BroadcastChannel.SMS, BroadcastChannel.BOTH):
        found.sms = [m for m in wanted if m.sms_capable and not m.opted_out]
        found.no_sms = len(wanted) - len(found.sms)
    if channel in (BroadcastChannel.VOICE, BroadcastChannel.BOTH):
        found.calls = list(wanted)
    return found


# --- before sending --------------------------------------------------------


@dataclass
class Plan:
    """A composed broadcast and what sending it would mean, for the sender to confirm."""

    station: Station
    channel: str
    audience: Audience
    kind: str
    values: dict[str, str]
    texts: Texts
    recipients: Recipients
    seconds: int  # at the carrier's rates, which a broadcast has to itself while no emergency is under way
    calls_wait_until: datetime | None  # calls written when it starts would wait for the end of quiet hours

    @property
    def segments_total(self) -> int:
        return self.texts.segments * len(self.recipients.sms)


def sending_seconds(settings: Settings, sms: int, calls: int, share: float = 1.0) -> int:
    """Seconds to hand ``sms`` texts and ``calls`` calls to the carrier at ``share`` of its rates.

    The two channels have rates of their own and go out side by side.
    """
    sms_rate = max(1, int(settings.sms_per_second * share))
    call_rate = max(1, int(settings.calls_per_second * share))
    return max(math.ceil(sms / sms_rate), math.ceil(calls / call_rate))


def check_channel(channel: str) -> str:
    """``channel`` if it is one.

    Raises:
        BroadcastError: Not a channel.
    """
    if channel not in set(BroadcastChannel):
        raise BroadcastError(f"没有渠道 {channel!r}，可选：sms、voice、both")
    return channel


def channels(channel: str) -> list[Channel]:
    """The outbox channels a broadcast on ``channel`` writes rows for."""
    wanted = []
    if channel in (BroadcastChannel.SMS, BroadcastChannel.BOTH):
        wanted.append(Channel.SMS)
    if channel in (BroadcastChannel.VOICE, BroadcastChannel.BOTH):
        wanted.append(Channel.CALL)
    return wanted


def check_sendable(carrier: Carrier, texts: Texts, channel: str) -> None:
    """Whether ``carrier`` sends the broadcast's words as they are on each of its channels.

    A carrier of registered templates cuts a value longer than its variables
    may be: a bulletin would lose its content, so it is refused here instead.

    Raises:
        BroadcastError: The carrier's problems, for the sender to fix.
    """
    problems: list[str] = []
    for sent_on in channels(channel):
        problems += carrier.message_problems(message_key(texts.template, sent_on), texts.params, sent_on)
    if problems:
        raise BroadcastError("无法按原样发送：" + "".join(problem + "。" for problem in dict.fromkeys(problems)))


def plan(
    session: Session, settings: Settings, station: Station, *, audience: Audience, channel: str, kind: str,
    values: dict[str, str], now: datetime | None = None, carrier: Carrier | None = None, at: datetime | None = None,
) -> Plan:
    """Compose a broadcast and count what it would take, writing nothing.

    ``carrier`` is the one that will send it (:func:`check_sendable`); None
    checks the words against no carrier. ``at`` is when it is to start (None:
    now): whether its calls wait for the end of quiet hours is reckoned then.

    Raises:
        BroadcastError: The channel, kind or values are wrong, the text is
            too long, the carrier cannot send it as it is, or nobody in the
            audience can receive it.
    """
    now = now or utcnow()
    check_channel(channel)
    texts = compose(settings, station, kind, values, now)
    if carrier is not None:
        check_sendable(carrier, texts, channel)
    found = recipients(session, station, audience, channel)
    if not found.sms and not found.calls:
        raise BroadcastError("没有可以接收的号码（名单为空，或都已退订）")
    waits = quiet_until(settings, station, max(at or now, now)) if found.calls else None
    return Plan(
        station=station, channel=channel, audience=audience, kind=kind.removeprefix("broadcast_"),
        values=dict(values), texts=texts, recipients=found,
        seconds=sending_seconds(settings, len(found.sms), len(found.calls)),
        calls_wait_until=waits,
    )


# --- sending ---------------------------------------------------------------


def create(
    session: Session, settings: Settings, composed: Plan, *, at: datetime | None = None, rule: str | None = None,
    created_by: str = "", now: datetime | None = None,
) -> tuple[Broadcast, list[int]]:
    """Record a confirmed broadcast: started now (its rows written), or planned for ``at`` (repeated by ``rule``).

    Commit, then hand the returned row ids to
    :func:`hotline.services.outbox.dispatch_broadcast` on the broadcasts queue.

    Raises:
        BroadcastError: ``at`` is past for a broadcast sent once, ``rule``
            is not valid, repeats more often than once a day or has no time
            left, or a rule comes without ``at``.
    """
    now = now or utcnow()
    if rule and at is None:
        raise BroadcastError("重复发送需要指定第一次的时间（--at）")
    broadcast = Broadcast(
        station_id=composed.station.id, template=composed.texts.template, params=composed.values,
        sms_text=composed.texts.sms, voice_text=composed.texts.voice, channel=composed.channel,
        audience=composed.audience.to_json(), status=BroadcastStatus.SCHEDULED, rule=rule or None,
        created_by=created_by, created_at=now,
    )
    broadcast.station = composed.station
    if at is not None:
        zone = ZoneInfo(settings.timezone)
        first = at
        if rule:
            try:
                check_rule(rule, at, zone)  # a bad or too frequent rule fails now, not at the worker
            except DrillError as exc:
                raise BroadcastError(str(exc)) from None
            if at <= now:
                following = _next(rule, at, now, zone)
                if following is None:
                    raise BroadcastError("重复规则此后不再有发送时间")
                first = following
        elif at <= now:
            raise BroadcastError("计划时间已过")
        broadcast.starts_at = at
        broadcast.next_run_at = first
        session.add(broadcast)
        session.flush()
        return broadcast, []
    session.add(broadcast)
    session.flush()
    return broadcast, start(session, settings, broadcast, now)


def _next(rule: str, starts_at: datetime, after: datetime, zone: ZoneInfo) -> datetime | None:
    try:
        return next_occurrence(rule, starts_at, after, zone)
    except DrillError as exc:
        raise BroadcastError(str(exc)) from None


def start(session: Session, settings: Settings, broadcast: Broadcast, now: datetime | None = None) -> list[int]:
    """Write a broadcast's rows from the directory and opt-outs as they are now; the ids of those to send now.

    Its texts are composed again for today (a daily bulletin's date). Calls
    in the station's quiet hours are written ``held`` and wait for the morning.
    """
    now = now or utcnow()
    station = broadcast.station
    found = recipients(session, station, Audience.from_json(broadcast.audience), broadcast.channel)
    kind = broadcast.template.removeprefix("broadcast_")
    # The values of a carrier's registered templates: the station's name and the date too.
    params = {**filled_in(settings, station, now), **(broadcast.params or {})}
    try:
        texts = compose(settings, station, kind, dict(broadcast.params or {}), now)
        broadcast.sms_text, broadcast.voice_text = texts.sms, texts.voice
        params = texts.params
    except BroadcastError:
        pass  # the templates changed since: it goes out as it was confirmed
    broadcast.status = BroadcastStatus.SENDING
    broadcast.started_at = now
    broadcast.audience = {**broadcast.audience, "skipped": found.skipped_json()}
    waits = quiet_until(settings, station, now) if found.calls else None
    broadcast.calls_after = waits
    rows: list[Notification] = []
    for channel, members, body, status in (
        (Channel.SMS, found.sms, broadcast.sms_text, "pending"),
        (Channel.CALL, found.calls, broadcast.voice_text, HELD if waits else "pending"),
    ):
        for member in members:
            rows.append(Notification(
                sender=BROADCAST, broadcast_id=broadcast.id, member_id=member.id, phone=member.phone,
                recipient_name=member.name, channel=channel, purpose=Purpose.BROADCAST, body=body,
                template=message_key(broadcast.template, channel), template_params=dict(params), status=status,
                dedupe_key=dedupe_key(BROADCAST, broadcast.id, Purpose.BROADCAST, channel, "1", member.phone),
                created_at=now,
            ))
    session.add_all(rows)
    session.flush()
    if not rows:
        broadcast.status = BroadcastStatus.DONE
        broadcast.finished_at = now
    return [row.id for row in rows if row.status == "pending"]


def start_due(session: Session, settings: Settings, now: datetime | None = None) -> list[int]:
    """Start every planned broadcast whose time has come, each time once however many workers run this.

    A broadcast planned once starts itself; a repeating one starts a copy of
    itself and moves on to its next time (a time missed by more than an hour,
    every worker being down, is skipped). Commit, then dispatch the ids.
    """
    now = now or utcnow()
    zone = ZoneInfo(settings.timezone)
    ids: list[int] = []
    due = session.scalars(
        select(Broadcast)
        .where(Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.next_run_at <= now)
        .order_by(Broadcast.next_run_at, Broadcast.id)
    ).all()
    for broadcast in due:
        occurrence = broadcast.next_run_at
        following = None
        if broadcast.rule and broadcast.starts_at is not None:
            try:
                following = _next(broadcast.rule, broadcast.starts_at, now, zone)
            except BroadcastError:
                following = None
        won = rows_changed(
            session,
            update(Broadcast)
            .where(Broadcast.id == broadcast.id, Broadcast.next_run_at == occurrence,
                   Broadcast.status == BroadcastStatus.SCHEDULED)
            .values(next_run_at=following)
            .execution_options(synchronize_session=False),
        )
        if not won:
            continue  # another worker has it
        session.refresh(broadcast)
        if not broadcast.rule:
            ids += start(session, settings, broadcast, now)
            continue
        if following is None:
            broadcast.status = BroadcastStatus.DONE
            broadcast.finished_at = now
        assert occurrence is not None
        if now - occurrence > MISSED_AFTER:
            continue
        copy = Broadcast(
            station_id=broadcast.station_id, parent_id=broadcast.id, template=broadcast.template,
            params=dict(broadcast.params or {}), sms_text=broadcast.sms_text, voice_text=broadcast.voice_text,
            channel=broadcast.channel, audience=dict(broadcast.audience or {}), status=BroadcastStatus.SENDING,
            created_by=broadcast.created_by, created_at=now,
        )
        copy.station = broadcast.station
        session.add(copy)
        session.flush()
        ids += start(session, settings, copy, now)
    return ids


def release_calls(session: Session, settings: Settings, now: datetime | None = None) -> list[int]:
    """Let the calls held for quiet hours go, where those hours are over; hold calls that quiet hours caught.

    Returns:
        The ids of the calls to dispatch (commit first).
    """
    now = now or utcnow()
    ids: list[int] = []
    for broadcast in session.scalars(
        select(Broadcast).where(Broadcast.status == BroadcastStatus.SENDING, Broadcast.calls_after <= now)
    ).all():
        waits = quiet_until(settings, broadcast.station, now)
        if waits is not None:
            broadcast.calls_after = waits  # every worker was down until quiet hours came round again
            continue
        broadcast.calls_after = None
        ids += _move(session, broadcast, HELD, "pending", Channel.CALL)
    # A long spoken broadcast that runs into the evening stops there and goes on in the morning.
    for broadcast in session.scalars(
        select(Broadcast).where(Broadcast.status == BroadcastStatus.SENDING, Broadcast.calls_after.is_(None),
                                Broadcast.channel != BroadcastChannel.SMS)
    ).all():
        waits = quiet_until(settings, broadcast.station, now)
        if waits is not None and _move(session, broadcast, "pending", HELD, Channel.CALL):
            broadcast.calls_after = waits
    return ids


def _move(
    session: Session, broadcast: Broadcast, old: str, new: str, channel: Channel | None = None
) -> list[int]:
    """Move a broadcast's rows from status ``old`` to ``new`` (on one channel, or both); the ids moved."""
    condition = [Notification.broadcast_id == broadcast.id, Notification.status == old]
    if channel is not None:
        condition.append(Notification.channel == channel)
    ids = list(session.scalars(select(Notification.id).where(*condition)))
    if ids:
        session.execute(
            update(Notification).where(*condition, Notification.id.in_(ids)).values(status=new, status_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    return ids


def pause(session: Session, broadcast: Broadcast) -> None:
    """Hold a sending broadcast's unsent rows; what is in the carrier's hands goes on.

    Raises:
        BroadcastError: It is not sending.
    """
    if broadcast.status != BroadcastStatus.SENDING:
        raise BroadcastError(f"群发 #{broadcast.id} 不在发送中（{status_word(broadcast.status)}）")
    broadcast.status = BroadcastStatus.PAUSED
    _move(session, broadcast, "pending", HELD)


def resume(session: Session, settings: Settings, broadcast: Broadcast, now: datetime | None = None) -> list[int]:
    """Send a paused broadcast's held rows again (calls still in quiet hours keep waiting); the ids to dispatch.

    Raises:
        BroadcastError: It is not paused.
    """
    now = now or utcnow()
    if broadcast.status != BroadcastStatus.PAUSED:
        raise BroadcastError(f"群发 #{broadcast.id} 没有暂停（{status_word(broadcast.status)}）")
    broadcast.status = BroadcastStatus.SENDING
    ids = _move(session, broadcast, HELD, "pending", Channel.SMS)
    waits = quiet_until(settings, broadcast.station, now)
    if waits is None:
        broadcast.calls_after = None
        ids += _move(session, broadcast, HELD, "pending", Channel.CALL)
    elif broadcast.channel != BroadcastChannel.SMS:
        broadcast.calls_after = waits
    return ids


def cancel(session: Session, broadcast: Broadcast, now: datetime | None = None) -> int:
    """Stop a broadcast (and, for a repeating one, its later times); returns how many unsent rows it cancelled.

    Raises:
        BroadcastError: It has already finished or been cancelled.
    """
    if broadcast.status in (BroadcastStatus.DONE, BroadcastStatus.CANCELED):
        raise BroadcastError(f"群发 #{broadcast.id} 已{status_word(broadcast.status)}，无法取消")
    broadcast.status = BroadcastStatus.CANCELED
    broadcast.next_run_at = None
    broadcast.finished_at = now or utcnow()
    return len(_move(session, broadcast, "pending", "canceled")) + len(_move(session, broadcast, HELD, "canceled"))


def settle(session: Session, now: datetime | None = None) -> int:
    """Mark sending broadcasts with nothing left to hand to the carrier as done; returns how many."""
    now = now or utcnow()
    sending = session.scalars(select(Broadcast).where(Broadcast.status == BroadcastStatus.SENDING)).all()
    finished = 0
    for broadcast in sending:
        left = session.scalar(
            select(func.count(Notification.id))
            .where(Notification.broadcast_id == broadcast.id, Notification.status.in_(WAITING))
        )
        if not left:
            broadcast.status = BroadcastStatus.DONE
            broadcast.finished_at = now
            finished += 1
    return finished


# --- progress --------------------------------------------------------------

STATUS_WORDS = {
    "scheduled": "已计划", "sending": "发送中", "paused": "已暂停", "done": "已完成", "canceled": "已取消",
}


def status_word(status: str) -> str:
    return STATUS_WORDS.get(status, status)


@dataclass
class Progress:
    """How far a broadcast has got, counted over its rows (plus the numbers left out for opting out)."""

    total: int = 0
    queued: int = 0  # not yet in the carrier's hands (waiting, paused or held for quiet hours)
    held: int = 0  # of those, held (paused, or calls waiting for the morning)
    sent: int = 0  # the carrier has it, no final word yet
    delivered: int = 0  # an SMS the handset received, a call answered and played
    failed: int = 0
    canceled: int = 0
    opted_out: int = 0  # left out for opting out of broadcasts, or refused by the carrier as opted out
    by_channel: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.queued == 0

    @property
    def fraction(self) -> float:
        return 1.0 if not self.total else (self.total - self.queued) / self.total

    def to_json(self) -> dict[str, int | float]:
        return {"total": self.total, "queued": self.queued, "held": self.held, "sent": self.sent,
                "delivered": self.delivered, "failed": self.failed, "canceled": self.canceled,
                "opted_out": self.opted_out, "done_fraction": round(self.fraction, 4)}


def progress(session: Session, broadcast: Broadcast) -> Progress:
    """Count a broadcast's rows by where they stand."""
    return progress_of(session, [broadcast])[broadcast.id]


def progress_of(session: Session, broadcasts: list[Broadcast]) -> dict[int, Progress]:
    """Count each broadcast's rows by where they stand, in one query; by broadcast id."""
    counted = {
        broadcast.id: Progress(opted_out=int((broadcast.audience or {}).get("skipped", {}).get("opted_out", 0)))
        for broadcast in broadcasts
    }
    if not counted:
        return counted
    rows = session.execute(
        select(
            Notification.broadcast_id, Notification.channel, Notification.status, Notification.failure_reason,
            func.count(Notification.id),
        )
        .where(Notification.broadcast_id.in_(list(counted)))
        .group_by(Notification.broadcast_id, Notification.channel, Notification.status, Notification.failure_reason)
    ).all()
    for broadcast_id, channel, status, reason, count in rows:
        found = counted[cast(int, broadcast_id)]  # never None: the rows were selected by broadcast
        found.total += count
        found.by_channel.setdefault(str(channel), Counter())[status] += count
        if status in WAITING:
            found.queued += count
            found.held += count if status == HELD else 0
        elif status in DELIVERED:
            found.delivered += count
        elif status == "canceled":
            found.canceled += count
        elif status in FAILED and reason == "opted_out":
            found.opted_out += count
        elif status in FAILED:
            found.failed += count
        else:
            found.sent += count
    return counted


def children(session: Session, broadcast: Broadcast) -> list[Broadcast]:
    """The sends a repeating broadcast has started, newest first."""
    return list(session.scalars(
        select(Broadcast).where(Broadcast.parent_id == broadcast.id).order_by(Broadcast.id.desc())
    ))


def audience_text(session: Session, broadcast: Broadcast) -> str:
    """The audience as the station reads it: 全部 or the villages, groups and roles."""
    audience = Audience.from_json(broadcast.audience)
    parts = [v.name for v in session.scalars(select(Village).where(Village.id.in_(audience.villages)))]
    parts += [f"{g.village.name}/{g.name}" for g in session.scalars(select(Group).where(Group.id.in_(audience.groups)))]
    roles = {"household": "求助户", "leader": "联防组长", "assistant": "警务助理", "officer": "社区民警"}
    where = "、".join(parts) or "全部村组"
    return where + ("（" + "、".join(roles.get(r, r) for r in audience.roles) + "）" if audience.roles else "")


def local_text(settings: Settings, moment: datetime | None) -> str:
    return local_time(settings, moment) if moment is not None else ""


# A villager's "收到" or "好的，知道了" this long after a broadcast SMS is a reply to it.
REPLY_WINDOW = timedelta(hours=24)


def received_broadcast(session: Session, phone: str, now: datetime) -> bool:
    """Whether ``phone`` was sent a broadcast SMS within :data:`REPLY_WINDOW`."""
    return session.scalar(
        select(Notification.id).where(
            Notification.phone == phone, Notification.sender == BROADCAST, Notification.channel == Channel.SMS,
            Notification.sent_at >= now - REPLY_WINDOW,
        ).limit(1)
    ) is not None
