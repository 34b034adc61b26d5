"""Every <Say> names a Twilio voice that speaks its language; HOTLINE_VOICE is checked at start-up."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from config.settings import SettingsError, load_settings
from config.templates import load_templates, render
from hotline.app import create_app
from hotline.carriers.twilio import twiml
from hotline.carriers.twilio.voices import DEFAULT_VOICES, SPOKEN, VOICES, check_voice, language_of, say_voice
from hotline.extensions import get_settings
from hotline.models import Incident, Notification, RingMode, Role, utcnow
from hotline.services.escalation import escalate
from hotline.webhooks.voice import fallback_twiml
from tests.factories import PUBLIC_URL, call_sid, make_group, message_sid, signed_post

HOTLINE = "+8657188880000"


def _says(document: str | bytes | twiml.VoiceResponse) -> list[ET.Element]:
    root = ET.fromstring(str(document) if isinstance(document, twiml.VoiceResponse) else document)
    return list(root.iter("Say"))


def _assert_spoken_right(says: list[ET.Element], template_language: str) -> None:
    """Each <Say> names a voice Twilio lists for its ``language``, a language the templates are written in."""
    assert says, "no <Say> to check"
    for say in says:
        voice, language = say.get("voice"), say.get("language")
        assert language in SPOKEN[template_language], (say.text, language)
        assert voice in VOICES[language], (say.text, voice, language)


# --- the table and the setting -----------------------------------------------------------------


def test_default_voices_speak_their_templates_language():
    assert DEFAULT_VOICES == {"zh": "Polly.Zhiyu", "en": "Polly.Joanna"}
    for template_language, voice in DEFAULT_VOICES.items():
        assert language_of(voice) in SPOKEN[template_language]
    assert language_of("Polly.Zhiyu") == language_of("Google.cmn-CN-Wavenet-A") == "cmn-CN"
    assert language_of("alice") is None and language_of("man") is None
    assert say_voice(load_settings({})) == ("Polly.Zhiyu", "cmn-CN")
    assert say_voice(load_settings({"HOTLINE_LANGUAGE": "en"})) == ("Polly.Joanna", "en-US")
    assert say_voice(load_settings({"HOTLINE_LANGUAGE": "en", "HOTLINE_VOICE": "Polly.Amy"})) == ("Polly.Amy", "en-GB")


def test_a_chosen_mandarin_voice_is_used_with_its_language():
    settings = load_settings({"HOTLINE_VOICE": "Google.cmn-CN-Wavenet-B"})
    check_voice(settings)
    [say] = _says(twiml.say_and_hangup(settings, "再见。"))
    assert (say.get("voice"), say.get("language")) == ("Google.cmn-CN-Wavenet-B", "cmn-CN")


@pytest.mark.parametrize(
    ("environ", "reason"),
    [
        ({"HOTLINE_VOICE": "Polly.Joanna"}, "说的是 en-US"),
        ({"HOTLINE_VOICE": "Polly.Zhiyu", "HOTLINE_LANGUAGE": "en"}, "说的是 cmn-CN"),
        ({"HOTLINE_VOICE": "alice"}, "不是 Twilio 列出的语音"),
        ({"HOTLINE_VOICE": "Polly.zhiyu"}, "不是 Twilio 列出的语音"),
    ],
)
def test_a_voice_that_cannot_speak_the_templates_stops_the_app(environ, reason, tmp_path):
    with pytest.raises(SettingsError) as raised:
        create_app({**environ, "HOTLINE_INSTANCE_PATH": str(tmp_path)})
    message = str(raised.value)
    assert "HOTLINE_VOICE" in message and reason in message
    default = DEFAULT_VOICES[environ.get("HOTLINE_LANGUAGE", "zh")]
    assert f"不设置则使用 {default}" in message


# --- every builder with every prompt -----------------------------------------------------------


def _values(language: str) -> dict[str, str]:
    names = {
        "zh": ("张秀英", "东村", "一组", "东村3号", "45秒"),
        "en": ("Zhang Wei", "East", "Group 1", "3 East Rd", "45 s"),
    }
    caller_name, village, group, address, waited = names[language]
    return {
        "caller_name": caller_name, "village": village, "group": group, "address": address, "waited": waited,
        "caller_phone": "+8613800100001", "count": "8", "names": caller_name,
    }


def _prompts(language: str) -> list[str]:
    templates = load_templates(language)
    return [
        render(language, name, **_values(language)) for name in sorted(templates) if name.startswith("voice_")
    ]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_builder_speaks_every_prompt_in_a_listed_voice(language):
    settings = load_settings({"HOTLINE_LANGUAGE": language, "HOTLINE_FALLBACK_PHONE": "+861088889999"})
    says: list[ET.Element] = []
    for prompt in _prompts(language):
        says += _says(twiml.ring_all(settings, greeting=prompt, legs=[("+8613800100002", 7)], action="/a"))
        says += _says(twiml.screen(settings, prompt, 7))
        says += _says(twiml.join_conference(settings, "room", text=prompt, caller=True))
        says += _says(twiml.say_and_hangup(settings, prompt))
        says += _says(twiml.say_only(settings, prompt))
        says += _says(twiml.transfer(settings, prompt, "+861088880000"))
        says += _says(twiml.transfer(settings, prompt, "+861088880000", action="/a"))
    says += _says(fallback_twiml(settings))
    says += _says(fallback_twiml(load_settings({"HOTLINE_LANGUAGE": language})))
    _assert_spoken_right(says, language)
    assert {say.text for say in says} >= set(_prompts(language))


# --- every prompt the service answers with -----------------------------------------------------


def _xml(response) -> bytes:
    assert response.status_code == 200, response.data
    return response.data


def _caller(group):
    return next(m for m in group.members if m.role == Role.HOUSEHOLD)


def _call(client, phone: str) -> bytes:
    return _xml(signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": phone, "To": HOTLINE}))


def _post(client, url: str, params: dict[str, str]) -> bytes:
    path = url.removeprefix(PUBLIC_URL)
    return _xml(signed_post(client, path, {"CallSid": call_sid(), **params}))


def _calls(session, incident: Incident, purpose: str) -> list[Notification]:
    session.expire_all()
    return list(
        session.scalars(
            select(Notification).where(
                Notification.incident_id == incident.id, Notification.channel == "call", Notification.purpose == purpose
            ).order_by(Notification.id)
        )
    )


def test_every_prompt_the_webhooks_answer_with_names_a_mandarin_voice(client, session, redis_conn, app):
    documents: list[bytes] = []
    group = make_group(session)
    conference = make_group(session, village_name="西村", ring_mode=RingMode.CONFERENCE, prefix="+86138002")

    # The caller's greeting, then the officers', the duty line's and nobody's transfers.
    greeting = _call(client, _caller(group).phone)
    documents.append(greeting)
    incident = session.scalars(select(Incident).order_by(Incident.id.desc())).first()
    action = ET.fromstring(greeting).find("Dial").get("action")
    officers = _post(client, action, {"DialCallStatus": "no-answer"})
    duty = _post(client, ET.fromstring(officers).find("Dial").get("action"), {"DialCallStatus": "no-answer"})
    nobody = _post(client, ET.fromstring(duty).find("Dial").get("action"), {"DialCallStatus": "no-answer"})
    documents += [officers, duty, nobody]

    # A member's screening page, pressing 1 (bridged) and 2 (goodbye); an officer's screen in the transfer.
    legs = [n for n in _calls(session, incident, "alert") if n.via_dial]
    documents.append(_post(client, f"/twilio/voice/screen?n={legs[0].id}", {}))
    documents.append(_post(client, f"/twilio/voice/screen/answer?n={legs[1].id}", {"Digits": "2"}))
    documents.append(_post(client, f"/twilio/voice/screen/answer?n={legs[0].id}", {"Digits": "1"}))
    transfer_legs = [n for n in _calls(session, incident, "escalation") if n.via_dial]
    documents.append(_post(client, f"/twilio/voice/screen?n={transfer_legs[0].id}", {}))

    # A conference group's caller, and a member accepting a worker's call there.
    documents.append(_call(client, _caller(conference).phone))

    # An alert by SMS: members are called by workers; accepting gives the caller's number (ack-only),
    # and an escalation call's screen says how long nobody answered.
    sid = message_sid()
    texted = make_group(session, village_name="南村", prefix="+86138003")
    signed_post(
        client, "/twilio/sms", {"MessageSid": sid, "From": _caller(texted).phone, "To": HOTLINE, "Body": "救命"}
    )
    by_text = session.scalar(select(Incident).where(Incident.message_sid == sid))
    documents.append(_post(client, f"/twilio/voice/screen/answer?n={_calls(session, by_text, 'alert')[0].id}",
                           {"Digits": "1"}))
    late = make_group(session, village_name="北村", prefix="+86138004")
    signed_post(
        client, "/twilio/sms",
        {"MessageSid": message_sid(), "From": _caller(late).phone, "To": HOTLINE, "Body": "救命"},
    )
    waiting = session.scalars(select(Incident).order_by(Incident.id.desc())).first()
    waiting.opened_at = utcnow().replace(year=2000)
    session.commit()
    assert escalate(session, get_settings(app), waiting, 1).fired
    session.commit()
    documents.append(_post(client, f"/twilio/voice/screen?n={_calls(session, waiting, 'escalation')[0].id}", {}))

    # An unregistered caller (put through to the duty line), and Twilio's fallback URL.
    documents.append(_call(client, "+8613999999999"))
    documents.append(_post(client, "/twilio/voice/fallback", {}))

    says = [say for document in documents for say in _says(document)]
    _assert_spoken_right(says, "zh")
    heard = " ".join(say.text or "" for say in says)
    for name in (
        "voice_caller_greeting", "voice_caller_conference", "voice_transfer_officer", "voice_transfer_duty",
        "voice_nobody", "voice_screen_accepted", "voice_goodbye", "voice_unregistered",
    ):
        assert render("zh", name) in heard, name
    for fragment in ("联防求助。", "联防求助升级。", "请尽快联系", "系统繁忙"):
        assert fragment in heard, fragment
