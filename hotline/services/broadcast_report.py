"""A broadcast's report: who it reached in each village, what failed and why, and the replies it got."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hotline.models import Broadcast, Channel, Group, InboundMessage, Member, Notification, utcnow
from hotline.services.broadcasts import DELIVERED, FAILED, REPLY_WINDOW
from hotline.services.readiness import reason_text

HANDLED_WORDS = {
    "zh": {"opt_out": "退订", "opt_in": "恢复订阅", "broadcast_reply": "回复", "incident": "求助（已报警）",
           "reply": "求助回复", "help": "未识别", "ignored": "忽略", "caller_update": "求助人补充"},
    "en": {"opt_out": "unsubscribed", "opt_in": "subscribed again", "broadcast_reply": "reply",
           "incident": "call for help (alerted)", "reply": "alert reply", "help": "not understood"},
}
UNKNOWN_VILLAGE = {"zh": "（已删除）", "en": "(removed)"}


@dataclass
class VillageLine:
    """One village's share of a broadcast."""

    village: str
    numbers: int = 0
    reached: int = 0  # numbers that received an SMS or answered the call
    sms_delivered: int = 0
    calls_answered: int = 0
    failed: int = 0


@dataclass(frozen=True)
class FailureLine:
    village: str
    name: str
    phone: str
    channel: str
    status: str
    reason: str
    error_code: int | None


@dataclass(frozen=True)
class ReplyLine:
    received_at: datetime
    village: str
    name: str
    phone: str
    body: str
    handled_as: str


@dataclass
class Report:
    broadcast: Broadcast
    villages: list[VillageLine] = field(default_factory=list)
    failures: list[FailureLine] = field(default_factory=list)
    replies: list[ReplyLine] = field(default_factory=list)


def _village_of(member: Member | None, language: str) -> str:
    if member is None:
        return UNKNOWN_VILLAGE.get(language, UNKNOWN_VILLAGE["en"])
    return member.group.village.name


def build(session: Session, broadcast: Broadcast, language: str = "zh", now: datetime | None = None) -> Report:
    """The report of one broadcast (of its own rows: a repeating broadcast's sends each have theirs)."""
    now = now or utcnow()
    rows = session.scalars(
        select(Notification)
        .where(Notification.broadcast_id == broadcast.id)
        .options(selectinload(Notification.member).selectinload(Member.group).selectinload(Group.village))
        .order_by(Notification.id)
    ).all()
    report = Report(broadcast=broadcast)
    lines: dict[str, VillageLine] = {}
    numbers: dict[str, set[str]] = {}
    reached: dict[str, set[str]] = {}
    names: dict[str, tuple[str, str]] = {}
    for row in rows:
        village = _village_of(row.member, language)
        names[row.phone] = (village, row.recipient_name)
        line = lines.setdefault(village, VillageLine(village))
        numbers.setdefault(village, set()).add(row.phone)
        if row.status in DELIVERED:
            reached.setdefault(village, set()).add(row.phone)
            if row.channel == Channel.SMS:
                line.sms_delivered += 1
            else:
                line.calls_answered += 1
        elif row.status in FAILED:
            line.failed += 1
            report.failures.append(FailureLine(
                village, row.recipient_name, row.phone, str(row.channel), row.status,
                row.failure_reason or row.status, row.error_code,
            ))
    for village, line in lines.items():
        line.numbers = len(numbers.get(village, ()))
        line.reached = len(reached.get(village, ()))
    report.villages = sorted(lines.values(), key=lambda line: line.village)
    since = broadcast.started_at
    if since is not None and names:
        until = (broadcast.finished_at or now) + REPLY_WINDOW
        phones = list(names)
        for start in range(0, len(phones), 500):
            for message in session.scalars(
                select(InboundMessage).where(
                    InboundMessage.from_phone.in_(phones[start : start + 500]),
                    InboundMessage.received_at >= since, InboundMessage.received_at <= until,
                )
            ):
                village, name = names[message.from_phone]
                report.replies.append(ReplyLine(
                    message.received_at, village, name, message.from_phone, message.body, message.handled_as,
                ))
        report.replies.sort(key=lambda reply: reply.received_at)
    return report


HEADINGS = {
    "zh": {
        "villages": ["村", "号码数", "已送达/已接听", "短信送达", "电话接听", "失败"],
        "failures": ["村", "姓名", "电话", "渠道", "状态", "原因", "运营商代码"],
        "replies": ["时间", "村", "姓名", "电话", "内容", "处理"],
        "titles": ["各村送达情况", "失败明细", "收到的回复"],
    },
    "en": {
        "villages": ["village", "numbers", "reached", "SMS delivered", "calls answered", "failed"],
        "failures": ["village", "name", "phone", "channel", "status", "reason", "carrier code"],
        "replies": ["time", "village", "name", "phone", "text", "handled as"],
        "titles": ["Reached per village", "Failures", "Replies received"],
    },
}


def report_table(report: Report, language: str, zone: ZoneInfo) -> list[list[object]]:
    """The report as rows for CSV or Excel: three parts, each under its title and headings."""
    words = "zh" if language == "zh" else "en"
    headings = HEADINGS[words]
    titles = headings["titles"]
    table: list[list[object]] = [[titles[0]], list(headings["villages"])]
    for line in report.villages:
        table.append([line.village, line.numbers, line.reached, line.sms_delivered, line.calls_answered, line.failed])
    table += [[], [titles[1]], list(headings["failures"])]
    for failure in report.failures:
        table.append([
            failure.village, failure.name, failure.phone, reason_text(words, failure.channel),
            reason_text(words, failure.status), reason_text(words, failure.reason),
            "" if failure.error_code is None else failure.error_code,
        ])
    table += [[], [titles[2]], list(headings["replies"])]
    for reply in report.replies:
        table.append([
            reply.received_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"), reply.village, reply.name, reply.phone,
            reply.body, HANDLED_WORDS.get(words, {}).get(reply.handled_as, reply.handled_as),
        ])
    return table
