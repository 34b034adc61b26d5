"""An incident's timeline as the browser phone shows it live: Chinese lines with seconds since the call."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.models import Incident, TimelineEvent, utcnow

STATUS_LABELS = {"open": "等待响应", "acknowledged": "已有人响应", "closed": "已结案"}
ANSWER_LABELS = {"accept": "接受（1 正在赶往）", "decline": "拒绝（2 无法前往）"}
LEVEL_LABELS = {1: "社区民警和警务助理", 2: "派出所值班电话"}
PURPOSE_LABELS = {
    "alert": "求助通知",
    "confirmation": "给求助人的确认",
    "ack_notice": "已有人响应的通知",
    "escalation": "升级通知",
    "help": "回复说明",
    "receipt": "回执",
}
_TITLES = {
    "call_received": "收到求助电话",
    "sms_received": "收到求助短信",
    "fan_out": "通知联防小组",
    "call_accepted": "电话按键应答",
    "sms_reply": "短信回复",
    "acknowledged": "求助已有人响应",
    "escalated": "无人响应，升级",
    "transferred": "转接求助人",
    "caller_connected": "求助人已接通",
    "caller_told_nobody_answered": "告知求助人暂无人接听",
    "caller_hung_up": "求助人通话结束",
    "caller_sms": "求助人发来短信",
    "sms_unrecognised": "回复未能识别",
    "closed": "派出所已结案",
}
_DELIVERY = {
    "sms": ("短信", {
        "queued": "已提交运营商", "sent": "已发出", "delivered": "已送达", "undelivered": "未送达",
        "failed": "发送失败", "canceled": "已取消", "accepted": "已受理", "sending": "发送中",
    }),
    "call": ("电话", {
        "queued": "已提交运营商", "initiated": "开始呼叫", "ringing": "响铃", "in_progress": "已接听",
        "answered": "已接听", "completed": "通话结束", "busy": "拒接或占线", "no_answer": "无人接听",
        "failed": "呼叫失败", "canceled": "已取消",
    }),
}
# What a newcomer needs to follow the story; delivery steps are optional detail.
KEY_KINDS = frozenset(_TITLES)


def clock(seconds: float) -> str:
    """``+m:ss`` since the call, e.g. 65.2 → ``+1:05``."""
    whole = max(0, int(seconds))
    return f"+{whole // 60}:{whole % 60:02d}"


def title(kind: str) -> str:
    """A short Chinese heading for a timeline event kind; unknown kinds are shown as they are."""
    if kind in _TITLES:
        return _TITLES[kind]
    channel, _, status = kind.partition("_")
    if channel in _DELIVERY:
        name, statuses = _DELIVERY[channel]
        return f"{name}{statuses.get(status, status)}"
    return kind


def detail(kind: str, values: Mapping[str, Any]) -> str:
    """One line saying who and what, from an event's stored detail."""
    who = " ".join(str(part) for part in (values.get("name"), values.get("phone")) if part)
    if kind in ("call_received", "sms_received"):
        caller = str(values.get("caller", ""))
        return f"{caller}（未登记号码）" if values.get("unregistered") else caller
    if kind == "fan_out":
        return f"同时响铃 {values.get('rung', 0)} 部电话，发送短信 {values.get('texted', 0)} 条"
    if kind in ("call_accepted", "sms_reply"):
        return f"{who} · {ANSWER_LABELS.get(str(values.get('answer')), values.get('answer', ''))}"
    if kind == "acknowledged":
        via = "电话" if values.get("channel") == "call" else "短信"
        return f"{values.get('name', '')}（{via}）"
    if kind == "escalated":
        people = "、".join(str(r.get("name") or r.get("phone", "")) for r in values.get("recipients", []))
        return f"第{values.get('level')}级 {LEVEL_LABELS.get(values.get('level'), '')}：{people}".rstrip("：")
    if kind == "transferred":
        return f"{LEVEL_LABELS.get(values.get('level'), '')} {' '.join(values.get('to', []))}".strip()
    if kind == "caller_hung_up":
        return f"通话 {values.get('duration', 0)} 秒"
    if kind in ("caller_sms", "sms_unrecognised"):
        return f"{values.get('phone', '')}：{values.get('body', '')}"
    purpose = PURPOSE_LABELS.get(str(values.get("purpose", "")), "")
    return " · ".join(part for part in (who, purpose) if part)


def latest_incident(session: Session, caller_phone: str) -> Incident | None:
    """The newest incident ``caller_phone`` opened, by call or by SMS."""
    return session.scalar(
        select(Incident)
        .where(Incident.caller_phone == caller_phone)
        .order_by(Incident.opened_at.desc(), Incident.id.desc())
        .limit(1)
    )


def _event_json(incident: Incident, event: TimelineEvent) -> dict[str, Any]:
    offset = (event.at - incident.opened_at).total_seconds()
    return {
        "id": event.id,
        "kind": event.kind,
        "offset": round(offset, 1),
        "clock": clock(offset),
        "title": title(event.kind),
        "detail": detail(event.kind, event.detail or {}),
        "key": event.kind in KEY_KINDS,
    }


def timeline_json(session: Session, incident: Incident, now: datetime | None = None) -> dict[str, Any]:
    """The incident's summary and every timeline event, oldest first."""
    now = now or utcnow()
    events = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident.id)
        .order_by(TimelineEvent.at, TimelineEvent.id)
    ).all()
    responder = incident.acknowledged_by.name if incident.acknowledged_by is not None else None
    return {
        "incident": {
            "id": incident.id,
            "status": str(incident.status),
            "status_label": STATUS_LABELS.get(str(incident.status), str(incident.status)),
            "source": incident.source,
            "caller_phone": incident.caller_phone,
            "caller_name": incident.caller_name,
            "unregistered": incident.unregistered,
            "escalation_level": incident.escalation_level,
            "acknowledged_by": responder,
            "elapsed": round((now - incident.opened_at).total_seconds(), 1),
        },
        "events": [_event_json(incident, event) for event in events],
    }
