"""SMS length: parts counted as carriers count them, and every SMS template measured."""

from __future__ import annotations

from datetime import UTC, datetime
from string import Formatter

import pytest

from config.settings import load_settings
from config.templates import load_templates, render
from hotline.models import Group, Incident, Member, Village
from hotline.services.messages import MAX_SEGMENTS, compose, compose_plain
from hotline.services.segments import count_segments, encoding_of, is_gsm7, length

# --- counting ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("警" * 70, 1),
        ("警" * 71, 2),
        ("警" * 134, 2),
        ("警" * 135, 3),
        # One character outside GSM-7 sends the whole text as UCS-2.
        ("a" * 69 + "…", 1),
        ("a" * 70 + "…", 2),
        # A GSM-7 extension character takes two septets.
        ("€" * 80, 1),
        ("€" * 81, 2),
        ("[" + "a" * 158, 1),
        ("[" + "a" * 159, 2),
        # ... and is never split between parts: the second part starts with it.
        ("a" * 152 + "€" + "a" * 151, 2),
        ("a" * 152 + "€" + "a" * 152, 3),
        # Outside the Basic Multilingual Plane a character takes two UCS-2 units, never split.
        ("🚨" * 35, 1),
        ("🚨" * 36, 2),
        ("警" * 66 + "🚨" + "警" * 66, 3),
    ],
)
def test_parts_are_counted_as_carriers_split_them(text, parts):
    assert count_segments(text) == parts


def test_encoding_and_length():
    assert is_gsm7("Reply 1 coming, 2 cannot come. @£$¥") and encoding_of("abc").name == "GSM-7"
    assert not is_gsm7("回复1") and encoding_of("回复1").name == "UCS-2"
    assert length("a[b]") == 6
    assert length("东风村3组12号") == 8


# --- every SMS template ------------------------------------------------------------------------

T0 = datetime(2024, 11, 27, 6, 5, tzinfo=UTC)

TYPICAL = {
    "zh": {
        "caller_name": "张秀英", "village": "东风新村", "group": "第三组", "address": "东风村3组12号",
        "responder": "王组长",
    },
    "en": {
        "caller_name": "Zhang Wei", "village": "Dongfeng", "group": "Group 3", "address": "12 Dongfeng Rd",
        "responder": "Wang Li",
    },
}
# 40 characters each.
LONG_ADDRESS = {
    "zh": "东风新村第三村民小组东风路南段幸福巷一百二十八号院内东侧第三排五号楼二单元三零一",
    "en": "Building 5, Row 3, 128 Happiness Lane, E",
}
# What each SMS template needs beyond the incident's own values; the longest likely values.
EXTRA = {
    "zh": {"count": "12", "waited": "2分30秒", "body": "有人翻墙进院子了，快来", "caller_phone": "+8613900000000"},
    "en": {"count": "12", "waited": "2 min 30 s", "body": "someone is in the yard", "caller_phone": "+8613900000000"},
}
# Any other value a template may ask for (a name, a count): typical length.
OTHER = {"zh": "王组长", "en": "Wang Li"}
REPLY = {"zh": "回复1赶往，回复2不能去。", "en": "Reply 1 coming, 2 cannot come."}
ALERTS = ("sms_alert", "sms_escalation", "sms_escalation_officers_silent")


def _settings(language: str):
    return load_settings({"HOTLINE_LANGUAGE": language})


def _incident(language: str, **values: str) -> Incident:
    """An incident in memory only: compose reads its caller, group and time."""
    chosen = {**TYPICAL[language], **values}
    village = Village(name=chosen["village"])
    group = Group(name=chosen["group"], village=village)
    caller = Member(name=chosen["caller_name"], phone="+8613800100001", address=chosen["address"], group=group)
    return Incident(
        caller=caller, group=group, caller_name=chosen["caller_name"], caller_phone=caller.phone, opened_at=T0,
    )


def _placeholders(language: str, name: str) -> set[str]:
    return {field for _, field, _, _ in Formatter().parse(load_templates(language)[name]) if field}


def _compose(language: str, name: str, **values: str):
    """``name`` composed for a typical incident, with a likely value for every other placeholder."""
    incident_keys = set(TYPICAL[language]) - {"responder"}
    extra = {
        key: EXTRA[language].get(key) or TYPICAL[language].get(key) or OTHER[language]
        for key in _placeholders(language, name) - incident_keys - {"time", "caller_phone"}
    }
    return compose(_settings(language), _incident(language, **values), name, **extra)


def _sms_templates(language: str) -> list[str]:
    return sorted(name for name in load_templates(language) if name.startswith("sms_"))


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_sms_template_fits_one_part_with_typical_values(language):
    names = _sms_templates(language)
    assert set(ALERTS) <= set(names)
    for name in names:
        message = _compose(language, name)
        assert count_segments(message.text) == 1, (name, length(message.text), message.text)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_alerts_with_a_long_address_fit_two_parts_whole(language):
    assert len(LONG_ADDRESS[language]) == 40
    for name in ALERTS:
        message = _compose(language, name, address=LONG_ADDRESS[language])
        assert count_segments(message.text) <= MAX_SEGMENTS, (name, message.text)
        assert LONG_ADDRESS[language] in message.text and message.params["address"] == LONG_ADDRESS[language]
        assert message.text.endswith(REPLY[language])


@pytest.mark.parametrize("language", ["zh", "en"])
def test_an_address_too_long_for_two_parts_is_shortened_never_the_reply_instructions(language):
    ellipsis = render(language, "ellipsis")
    huge = ("东风新村幸福巷" if language == "zh" else "Happiness Lane ") * 30
    for name in ALERTS:
        message = _compose(language, name, address=huge)
        assert count_segments(message.text) == MAX_SEGMENTS, (name, message.text)
        shortened = message.params["address"]
        assert shortened.endswith(ellipsis) and huge.startswith(shortened.removesuffix(ellipsis))
        assert shortened in message.text and message.text.endswith(REPLY[language])
        # As much of the address as fits: one more character would not.
        longer = huge[: len(shortened) - len(ellipsis) + 1] + ellipsis
        assert count_segments(message.text.replace(shortened, longer)) > MAX_SEGMENTS
        assert message.text == render(language, name, **message.params)


def test_a_long_caller_name_is_shortened_only_after_the_address():
    message = _compose("zh", "sms_alert", caller_name="名" * 200)
    assert count_segments(message.text) == MAX_SEGMENTS
    assert message.params["address"] == "…" and message.params["caller_name"].endswith("…")
    assert message.text.endswith(REPLY["zh"])


@pytest.mark.parametrize("language", ["zh", "en"])
def test_forwarded_texts_are_cut_to_fit_with_a_note(language):
    settings = _settings(language)
    note = render(language, "truncated_note")
    short = compose_plain(settings, "sms_unregistered_forward", caller_phone="+8613900000000", body="救命")
    assert short.params["body"] == "救命" and not short.text.endswith(note)

    body = "院子里有两个人在撬门，我一个人在家，请快来帮忙。" * 12  # the 300 characters a forward may carry
    cut = compose_plain(settings, "sms_unregistered_forward", caller_phone="+8613900000000", body=body)
    assert count_segments(cut.text) == MAX_SEGMENTS
    assert cut.text.endswith(note) and cut.params["body"].endswith(note)
    assert body.startswith(cut.params["body"].removesuffix(note))
    assert "+8613900000000" in cut.text


def test_texts_without_long_values_are_left_alone():
    message = _compose("zh", "sms_alert")
    assert message.params["address"] == "东风村3组12号"
    assert message.text == (
        "【联防求助】张秀英（第三组）11月27日 14:05求助，地址：东风村3组12号。回复1赶往，回复2不能去。"
    )


# --- the console -------------------------------------------------------------------------------


def test_the_incident_page_shows_the_parts_each_sms_took(console, world, session):
    from hotline.models import Notification
    from tests.support.console import at, login, make_incident

    incident = make_incident(session, world.group_a, opened_at=at("2026-03-02 01:00:00"))
    texts = list(session.query(Notification).filter_by(incident_id=incident.id, channel="sms"))
    texts[0].body = "警" * 70
    texts[1].body = "警" * 140
    session.commit()
    login(console, "a_staff")

    page = console.get(f"/incidents/{incident.id}").get_data(as_text=True)

    assert "<th>短信条数</th>" in page
    # Each cell carries its column's name for the phone-width layout.
    cell = '<td class="sms-parts" data-label="短信条数">'
    parts = page.count(cell)
    assert parts == len(session.query(Notification).filter_by(incident_id=incident.id).all())
    assert page.count(cell + "1</td>") == 1 and page.count(cell + "3</td>") == 1
    # Calls, and texts with no body recorded, show nothing.
    assert page.count(cell + "</td>") == parts - 2
