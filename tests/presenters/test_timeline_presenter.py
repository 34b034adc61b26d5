"""Timeline event kinds and the one presenter the console and the browser phone share."""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from hotline.console.closing import Outcome
from hotline.models import Channel, EventKind, TimelineEvent
from hotline.models.events import CALL_STATUSES, DELIVERY_KINDS, KEY_STEPS, SMS_STATUSES, is_key_step
from hotline.phone.timeline import title as phone_title
from hotline.presenters import event_labels
from hotline.presenters.catalogue import LANGUAGES
from hotline.presenters.timeline import Audience, clock, event_detail, event_title, key_steps, timeline_rows
from hotline.services import delivery
from tests.support.console import at, login, make_incident

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "hotline" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
CJK = re.compile(r"[\u4e00-\u9fff]")


# --- the kinds -------------------------------------------------------------------------


def _recorded_kinds() -> set[str]:
    """Every kind written as a literal in a ``record_event`` call, directly or through a local name."""
    found: set[str] = set()
    for path in [*ROOT.joinpath("hotline").rglob("*.py"), *ROOT.joinpath("workers").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assigned: dict[str, list[ast.expr]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        assigned.setdefault(target.id, []).append(node.value)
        for node in ast.walk(tree):
            func = getattr(node, "func", None)
            name = getattr(func, "id", None) or getattr(func, "attr", None)
            if not isinstance(node, ast.Call) or name != "record_event" or len(node.args) < 3:
                continue
            found |= _kinds_in(node.args[2], assigned)
    return found


def _kinds_in(expr: ast.expr, assigned: dict[str, list[ast.expr]]) -> set[str]:
    """The kinds a ``record_event`` argument can name; f-strings and calls are checked elsewhere."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.IfExp):
        return _kinds_in(expr.body, assigned) | _kinds_in(expr.orelse, assigned)
    if isinstance(expr, ast.Name):
        return {kind for value in assigned.get(expr.id, []) for kind in _kinds_in(value, assigned)}
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "EventKind":
        return {EventKind[expr.attr].value}  # a KeyError names a member that does not exist
    return set()


def test_every_kind_the_code_records_is_an_event_kind():
    recorded = _recorded_kinds()
    assert {"call_received", "fan_out", "call_accepted", "sms_reply", "closed"} <= recorded
    assert not recorded - {kind.value for kind in EventKind}


def test_delivery_kinds_cover_every_status_the_delivery_rules_know():
    # The rank tables are what record_status accepts; every status there must have its kind.
    assert set(SMS_STATUSES) == set(delivery._SMS_RANK)
    assert set(CALL_STATUSES) == set(delivery._CALL_RANK)
    for channel, statuses in ((Channel.SMS, SMS_STATUSES), (Channel.CALL, CALL_STATUSES)):
        for status in statuses:
            kind = EventKind.delivery(channel, status)
            # The spelling services built by hand before EventKind existed.
            assert kind == f"{channel}_{status}".replace("-", "_")
            assert (kind.channel, kind.status) == (channel, status)
            assert kind.is_delivery and not kind.is_key_step
    assert len(DELIVERY_KINDS) == len(SMS_STATUSES) + len(CALL_STATUSES)


def test_delivery_refuses_what_is_not_a_delivery_status():
    assert EventKind.delivery("call", "no-answer") is EventKind.CALL_NO_ANSWER
    assert EventKind.delivery(Channel.SMS, "canceled") is EventKind.SMS_CANCELED
    for channel, status in (("sms", "received"), ("call", "accepted"), ("sms", "no-answer"), ("fax", "sent")):
        with pytest.raises(ValueError):
            EventKind.delivery(channel, status)


def test_key_steps_and_the_delivery_log_split_every_kind():
    assert KEY_STEPS | DELIVERY_KINDS == set(EventKind) and not KEY_STEPS & DELIVERY_KINDS
    story = {
        EventKind.CALL_RECEIVED,
        EventKind.FAN_OUT,
        EventKind.CALL_ACCEPTED,
        EventKind.SMS_REPLY,
        EventKind.ESCALATED,
        EventKind.TRANSFERRED,
        EventKind.CALLER_CONNECTED,
        EventKind.CALLER_HUNG_UP,
        EventKind.CLOSED,
        EventKind.RECORDED_AFTER_OUTAGE,
    }
    assert story <= KEY_STEPS
    assert EventKind.CALL_ACCEPTED.channel is None and EventKind.SMS_REPLY.status is None
    assert is_key_step("sms_reply") and not is_key_step("sms_delivered")
    assert is_key_step("something_new"), "an unknown kind must not be hidden"
    assert EventKind.parse("caller_connected") is EventKind.CALLER_CONNECTED and EventKind.parse("x") is None


# --- labels ----------------------------------------------------------------------------


def test_every_event_kind_has_a_label_in_chinese_and_english():
    assert set(event_labels.TITLES) == set(EventKind)
    catalog = read_po(PO.open("rb"))
    for kind in EventKind:
        message = catalog.get(event_labels.TITLES[kind])
        assert message is not None and message.string and not message.fuzzy, kind
        english = event_title(kind, {}, "en")
        chinese = event_title(kind, {}, "zh")
        assert english and english != kind.value, kind
        assert CJK.search(chinese) and not CJK.search(english), kind
    assert LANGUAGES == ("zh", "en")


def test_every_message_of_the_presenters_has_a_chinese_translation():
    catalog = read_po(PO.open("rb"))
    found = {
        message
        for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT / "hotline" / "presenters"), keywords={"N_": None}
        )
    }
    assert len(found) > len(EventKind) // 2
    missing = sorted(m for m in found if not (catalog.get(m) and catalog.get(m).string and not catalog.get(m).fuzzy))
    assert not missing, f"untranslated: {missing} (see hotline/translations/README.md)"


def test_codes_inside_event_details_have_labels():
    assert set(event_labels.OUTCOMES) == {outcome.value for outcome in Outcome}
    catalog = read_po(PO.open("rb"))
    tables = (event_labels.ANSWERS, event_labels.PURPOSES, event_labels.LEVELS, event_labels.OUTCOMES)
    messages = [*event_labels.STATION_ANSWER_TITLES.values(), *(m for table in tables for m in table.values())]
    for msgid in messages:
        assert catalog.get(msgid) is not None and catalog.get(msgid).string, msgid


def test_titles_for_the_station_and_for_villagers():
    accept, decline = {"answer": "accept"}, {"answer": "decline"}
    assert event_title("call_accepted", accept, "zh") == "电话接警"
    assert event_title("call_accepted", decline, "zh") == "电话拒绝"
    assert event_title("call_accepted", decline, "en") == "Declined on the phone"
    assert event_title("call_accepted", accept, "zh", Audience.VILLAGER) == "电话按键应答"
    assert event_title("caller_connected", {}, "zh") == "求助人已接通"
    assert event_title("recorded_after_outage", {}, "en") == "Recorded after a database outage"
    assert event_title("sms_delivered", {}, "zh") == phone_title("sms_delivered") == "短信已送达"
    assert event_title("something_new", {}, "zh") == "something_new"


def test_details_in_both_languages():
    leader = {"name": "王组长", "phone": "+8613800100001", "answer": "accept"}
    assert event_detail("call_accepted", leader, "zh") == "王组长 +8613800100001 · 接受（1 正在赶往）"
    assert event_detail("call_accepted", leader, "en") == "王组长 +8613800100001 · Accept (1, on the way)"
    assert event_detail("fan_out", {"rung": 8, "texted": 7}, "zh") == "拨打 8 部电话，发送 7 条短信"
    assert event_detail("call_received", {"caller": "+8613900000000", "unregistered": True}, "zh") == (
        "+8613900000000（未登记号码）"
    )
    escalated = {"level": 1, "recipients": [{"name": "张警官"}, {"phone": "+8613800100009"}]}
    assert event_detail("escalated", escalated, "zh") == "第 1 级 民警：张警官、+8613800100009"
    assert event_detail("escalated", escalated, "en") == "Level 1, Officers: 张警官, +8613800100009"
    assert event_detail("acknowledged", {"name": "duty line", "channel": "call"}, "zh") == "值班电话（电话）"
    assert event_detail("caller_connected", {"stage": 0}, "zh") == "联防小组"
    assert event_detail("caller_hung_up", {"status": "completed", "duration": 42}, "zh") == "通话 42 秒"
    assert event_detail("caller_hung_up", {"status": "no-answer", "duration": 0}, "en") == (
        "Call not answered · 0 s on the line"
    )
    closed = {"outcome": "false_alarm", "by": "a_staff", "note": "老人误按 100%"}
    assert event_detail("closed", closed, "zh") == "误报 · a_staff · 老人误按 100%"
    failed = {"name": "村民2", "phone": "+8613800100002", "purpose": "alert", "error_code": 30003}
    assert event_detail("sms_failed", failed, "en") == "村民2 +8613800100002 · Alert · error 30003"
    assert event_detail("something_new", {}, "zh") == ""


def test_rows_carry_time_since_the_call_and_whether_they_are_key_steps():
    opened = at("2026-03-02 01:00:00")
    events = [
        TimelineEvent(id=1, at=opened, kind="call_received", detail={"caller": "+8613800100000"}),
        TimelineEvent(id=2, at=opened + timedelta(seconds=3.46), kind="sms_delivered", detail={"name": "村民2"}),
        TimelineEvent(id=3, at=opened + timedelta(seconds=75.9), kind="caller_connected", detail={"stage": 1}),
        TimelineEvent(id=4, at=opened + timedelta(hours=1, seconds=5), kind="closed", detail=None),
    ]
    rows = timeline_rows(events, opened, language="en")
    assert [(row.id, row.seconds, row.clock, row.key) for row in rows] == [
        (1, 0.0, "+0:00", True),
        (2, 3.5, "+0:03", False),
        (3, 75.9, "+1:15", True),
        (4, 3605.0, "+1:00:05", True),
    ]
    assert [row.title for row in key_steps(rows)] == ["Call for help received", "Caller connected", "Closed by station"]
    assert rows[2].detail == "Officers"
    assert clock(-2) == "+0:00"


# --- the console's incident page -------------------------------------------------------


def test_incident_page_shows_key_steps_and_the_delivery_log_on_request(console, session, world):
    incident = make_incident(session, world.group_a, opened_at=at("2026-03-02 01:00:00"), accept_after=20)
    leg = {"name": "村民2", "phone": "+8613800100002", "purpose": "alert"}
    session.add_all(
        [
            TimelineEvent(
                incident_id=incident.id, at=incident.opened_at + timedelta(seconds=3), kind="sms_delivered", detail=leg
            ),
            TimelineEvent(
                incident_id=incident.id,
                at=incident.opened_at + timedelta(seconds=25),
                kind="caller_connected",
                detail={"stage": 0},
            ),
        ]
    )
    session.commit()
    login(console, "a_staff")

    page = console.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert "收到求助电话" in page and "求助人已接通" in page and "电话接警" in page
    assert "短信已送达" not in page
    assert f'href="/incidents/{incident.id}?log=all#timeline"' in page and "另有 1 条" in page

    full = console.get(f"/incidents/{incident.id}?log=all").get_data(as_text=True)
    assert "短信已送达" in full and "村民2 +8613800100002 · 报警通知" in full
    assert 'class="k-sms_delivered delivery"' in full and "只看关键步骤" in full

    english = console.get(f"/incidents/{incident.id}?log=all&lang=en").get_data(as_text=True)
    assert "SMS delivered" in english and "Caller connected" in english and "Accepted on the phone" in english
