"""A broadcast's report: who it reached in each village, what failed and why, and the replies it got.

A repeating broadcast writes no rows itself; its report is the combined one
of the sends it started: each village's figures added up over the sends,
one line per send (when, reached, failed), every send's failures (with the
send they belong to) and the replies to any of them.
"""

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
    send: Broadcast | None = None  # the send it failed in, in a repeating broadcast's report


@dataclass
class SendLine:
    """One send of a repeating broadcast: when it went, how many numbers it reached and how many deliveries failed."""

    broadcast: Broadcast
    numbers: int = 0
    reached: int = 0
    failed: int = 0

    @property
    def started_at(self) -> datetime | None:
        return self.broadcast.started_at


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
    sends: list[SendLine] = field(default_factory=list)  # a repeating broadcast's sends, oldest first

    @property
    def repeating(self) -> bool:
        """The report of a repeating broadcast: its figures are those of its sends, added up."""
        return bool(self.broadcast.rule)

    @property
    def total(self) -> VillageLine:
        """Every village's figures added up (for a repeating broadcast, over all its sends)."""
        total = VillageLine("")
        for line in self.villages:
            total.numbers += line.numbers
            total.reached += line.reached
            total.sms_delivered += line.sms_delivered
            total.calls_answered += line.calls_answered
            total.failed += line.failed
        return total


def _village_of(member: Member | None, language: str) -> str:
    if member is None:
        return UNKNOWN_VILLAGE.get(language, UNKNOWN_VILLAGE["en"])
    return member.group.village.name


def sends_of(session: Session, broadcast: Broadcast) -> list[Broadcast]:
    """The broadcasts whose rows make ``broadcast``'s report: itself, or a repeating one's sends, oldest first."""
    if not broadcast.rule:
        return [broadcast]
    return list(session.scalars(
        select(Broadcast).where(Broadcast.parent_id == broadcast.id).order_by(Broadcast.id)
    ))


def _rows(session: Session, broadcast_ids: list[int]) -> list[Notification]:
    rows: list[Notification] = []
    for start in range(0, len(broadcast_ids), 500):
        rows += session.scalars(
            select(Notification)
            .where(Notification.broadcast_id.in_(broadcast_ids[start : start + 500]))
            .options(selectinload(Notification.member).selectinload(Member.group).selectinload(Group.village))
            .order_by(Notification.id)
        ).all()
    return rows


def _tally(
    rows: list[Notification], language: str, send: Broadcast | None, report: Report
) -> tuple[dict[str, VillageLine], dict[str, tuple[str, str]]]:
    """One send's lines per village (its failures added to ``report``), and each number's village and name."""
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
                row.failure_reason or row.status, row.error_code, send,
            ))
    for village, line in lines.items():
        line.numbers = len(numbers.get(village, ()))
        line.reached = len(reached.get(village, ()))
    return lines, names


def _replies(
    session: Session, send: Broadcast, names: dict[str, tuple[str, str]], now: datetime, seen: set[int]
) -> list[ReplyLine]:
    """Texts from the send's numbers from its start to :data:`REPLY_WINDOW` after its end (each message once)."""
    if send.started_at is None or not names:
        return []
    until = (send.finished_at or now) + REPLY_WINDOW
    phones = list(names)
    found = []
    for start in range(0, len(phones), 500):
        for message in session.scalars(
            select(InboundMessage).where(
                InboundMessage.from_phone.in_(phones[start : start + 500]),
                InboundMessage.received_at >= send.started_at, InboundMessage.received_at <= until,
            )
        ):
            if message.id in seen:
                continue  # the reply windows of a daily broadcast's sends overlap
            seen.add(message.id)
            village, name = names[message.from_phone]
            found.append(ReplyLine(
                message.received_at, village, name, message.from_phone, message.body, message.handled_as,
            ))
    return found


def build(session: Session, broadcast: Broadcast, language: str = "zh", now: datetime | None = None) -> Report:
    """The report of one broadcast; a repeating broadcast's is the combined report of its sends."""
    now = now or utcnow()
    report = Report(broadcast=broadcast)
    sends = sends_of(session, broadcast)
    rows_of: dict[int, list[Notification]] = {send.id: [] for send in sends}
    for row in _rows(session, list(rows_of)):
        assert row.broadcast_id is not None
        rows_of[row.broadcast_id].append(row)
    totals: dict[str, VillageLine] = {}
    seen: set[int] = set()
    for send in sends:
        lines, names = _tally(rows_of[send.id], language, send if report.repeating else None, report)
        for village, line in lines.items():
            total = totals.setdefault(village, VillageLine(village))
            total.numbers += line.numbers
            total.reached += line.reached
            total.sms_delivered += line.sms_delivered
            total.calls_answered += line.calls_answered
            total.failed += line.failed
        if report.repeating:
            report.sends.append(SendLine(
                send, numbers=sum(line.numbers for line in lines.values()),
                reached=sum(line.reached for line in lines.values()),
                failed=sum(line.failed for line in lines.values()),
            ))
        report.replies += _replies(session, send, names, now, seen)
    report.villages = sorted(totals.values(), key=lambda line: line.village)
    report.replies.sort(key=lambda reply: reply.received_at)
    return report


HEADINGS = {
    "zh": {
        "villages": ["村", "号码数", "已送达/已接听", "短信送达", "电话接听", "失败"],
        "failures": ["村", "姓名", "电话", "渠道", "状态", "原因", "运营商代码"],
        "replies": ["时间", "村", "姓名", "电话", "内容", "处理"],
        "titles": ["各村送达情况", "失败明细", "收到的回复"],
        "sends": ["发送时间", "群发编号", "状态", "号码数", "已送达/已接听", "失败"],
        "repeating": ["各次发送", "各村送达情况（各次合计）", "发送时间", "合计", "未发送"],
    },
    "en": {
        "villages": ["village", "numbers", "reached", "SMS delivered", "calls answered", "failed"],
        "failures": ["village", "name", "phone", "channel", "status", "reason", "carrier code"],
        "replies": ["time", "village", "name", "phone", "text", "handled as"],
        "titles": ["Reached per village", "Failures", "Replies received"],
        "sends": ["sent at", "broadcast", "status", "numbers", "reached", "failed"],
        "repeating": ["Sends", "Reached per village, all sends", "sent at", "total", "not sent"],
    },
}
SEND_STATUS_WORDS = {
    "zh": {"scheduled": "已计划", "sending": "发送中", "paused": "已暂停", "done": "已完成", "canceled": "已取消"},
    "en": {},
}


def _when(moment: datetime | None, zone: ZoneInfo, never: str) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment is not None else never


def report_table(report: Report, language: str, zone: ZoneInfo) -> list[list[object]]:
    """The report as rows for CSV or Excel: three parts, each under its title and headings.

    A repeating broadcast's begins with a fourth, its sends (one line each and
    their total), and its failures say which send they were in.
    """
    words = "zh" if language == "zh" else "en"
    headings = HEADINGS[words]
    titles = list(headings["titles"])
    table: list[list[object]] = []
    failure_headings: list[object] = list(headings["failures"])
    if report.repeating:
        sends_title, titles[0], sent_at, total_word, not_sent = headings["repeating"]
        table += [[sends_title], list(headings["sends"])]
        for send in report.sends:
            status = str(send.broadcast.status)
            table.append([
                _when(send.started_at, zone, not_sent), send.broadcast.id,
                SEND_STATUS_WORDS[words].get(status, status), send.numbers, send.reached, send.failed,
            ])
        table.append([
            total_word, "", "", sum(s.numbers for s in report.sends), sum(s.reached for s in report.sends),
            sum(s.failed for s in report.sends),
        ])
        table.append([])
        failure_headings.insert(0, sent_at)
    table += [[titles[0]], list(headings["villages"])]
    for line in report.villages:
        table.append([line.village, line.numbers, line.reached, line.sms_delivered, line.calls_answered, line.failed])
    table += [[], [titles[1]], failure_headings]
    for failure in report.failures:
        row: list[object] = [
            failure.village, failure.name, failure.phone, reason_text(words, failure.channel),
            reason_text(words, failure.status), reason_text(words, failure.reason),
            "" if failure.error_code is None else failure.error_code,
        ]
        if report.repeating:
            row.insert(0, _when(failure.send.started_at if failure.send else None, zone, ""))
        table.append(row)
    table += [[], [titles[2]], list(headings["replies"])]
    for reply in report.replies:
        table.append([
            reply.received_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"), reply.village, reply.name, reply.phone,
            reply.body, HANDLED_WORDS.get(words, {}).get(reply.handled_as, reply.handled_as),
        ])
    return table
