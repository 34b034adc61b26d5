"""Guarantee 10: no webhook post, however strange, gets a 500 or leaves half a write behind.

Hypothesis posts correctly signed requests to every ``/twilio`` route with
parameters that range from well-formed to garbage (NUL bytes, huge numbers,
unknown statuses, stray newlines, unknown keys), against the database the
suite was given. Every answer must be below 500; an answer of 400 or more
must leave every table as it was; and whatever is written must be whole
(each incident with its one "received" event, each inbound SMS decided).
Forged signatures, and real ones replayed with altered parameters or to
another route, must get 403 and write nothing.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from hotline.models import Base, InboundMessage, Incident, TimelineEvent
from tests.factories import (
    PUBLIC_URL,
    SIM_TOKEN,
    call_sid,
    make_group,
    sign,
    signed_post,
)

FUZZ = settings(max_examples=250, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

ROUTES = {
    "/twilio/voice": (),
    "/twilio/voice/fallback": (),
    "/twilio/voice/status": (),
    "/twilio/voice/dial-result": ("incident", "stage"),
    "/twilio/voice/screen": ("n",),
    "/twilio/voice/screen/answer": ("n",),
    "/twilio/sms": (),
    "/twilio/sms-status": ("n",),
    "/twilio/call-status": ("n",),
}

# Text a form can carry: anything but lone surrogates, which cannot be encoded at all.
garbage = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
hex32 = st.text("0123456789abcdef", min_size=32, max_size=32)
PHONES = ["+8613800100000", "+8613800100001", "+8613800100003", "+8613800100007", "+861088880000"]
STATUSES = ["queued", "sending", "sent", "delivered", "undelivered", "failed", "ringing", "in-progress",
            "completed", "busy", "no-answer", "canceled", "answered", "initiated", "received"]

FIELDS = {
    "CallSid": st.one_of(hex32.map("CA".__add__), garbage, st.just("CA" + "0" * 32 + "\n")),
    "MessageSid": st.one_of(hex32.map("SM".__add__), garbage),
    "From": st.one_of(st.sampled_from(PHONES), st.from_regex(r"\+[0-9]{6,15}", fullmatch=True), garbage,
                      st.sampled_from(["client:alice", "anonymous", "+", "266696687", "+8613800100001\n"])),
    "To": st.one_of(st.sampled_from(PHONES), garbage),
    "Body": st.one_of(st.sampled_from(["1", "2", "STOP", "START", "救命", "到", "{caller_name}", "\x00", ""]),
                      st.text(st.characters(blacklist_categories=("Cs",)), max_size=2000)),
    "Digits": st.one_of(st.sampled_from(["1", "2", "", "1#", "*"]), garbage),
    "CallStatus": st.one_of(st.sampled_from(STATUSES), garbage),
    "MessageStatus": st.one_of(st.sampled_from(STATUSES), garbage),
    "SmsStatus": st.one_of(st.sampled_from(STATUSES), garbage),
    "DialCallStatus": st.one_of(st.sampled_from(STATUSES), garbage),
    "ErrorCode": st.one_of(st.integers(0, 10**12).map(str), garbage, st.just("21610")),
    "CallDuration": st.one_of(st.integers(0, 10**25).map(str), garbage),
}
ids = st.one_of(st.integers(1, 30), st.integers(0, 2**64), st.just(2**31), st.just(2**31 - 1))
query_value = st.one_of(ids.map(str), garbage)

params = st.fixed_dictionaries({}, optional=FIELDS).flatmap(
    lambda known: st.dictionaries(garbage, garbage, max_size=2).map(lambda extra: {**extra, **known})
)


@st.composite
def webhook_posts(draw) -> tuple[str, dict[str, str]]:
    """A route, with its query string, and the form parameters to post to it."""
    route = draw(st.sampled_from(sorted(ROUTES)))
    names = ROUTES[route]
    query = {name: draw(query_value) for name in names if draw(st.booleans()) or draw(st.booleans())}
    path = route + ("?" + urlencode(query) if query else "")
    return path, draw(params)


@pytest.fixture
def seeded(app, session, client):
    """A group, and an incident opened by a real call, so ids in the fuzz hit real rows too."""
    group = make_group(session, delays="60,180")
    caller = next(m for m in group.members if m.role == "household")
    assert signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": caller.phone}).status_code == 200
    return app


def _counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in Base.metadata.sorted_tables}


def _whole(engine) -> None:
    """What any committed write must look like: no incident without its one 'received' event, no undecided SMS."""
    with engine.connect() as connection:
        received = (
            select(func.count()).select_from(TimelineEvent)
            .where(TimelineEvent.incident_id == Incident.id,
                   TimelineEvent.kind.in_(("call_received", "sms_received")))
            .scalar_subquery()
        )
        broken = connection.execute(select(Incident.id).where(received != 1)).scalars().all()
        assert broken == [], f"incidents written in part: {broken}"
        undecided = connection.execute(
            select(InboundMessage.id).where(InboundMessage.handled_as == "pending")).scalars().all()
        assert undecided == [], f"inbound SMS written in part: {undecided}"
        if connection.dialect.name == "sqlite":
            assert connection.execute(text("PRAGMA foreign_key_check")).all() == []


def _engine(app):
    from hotline.extensions import db

    return db.state(app).engine


@FUZZ
@given(request=webhook_posts())
def test_signed_garbage_never_gets_a_500_or_a_partial_write(seeded, client, request):
    path, form = request
    engine = _engine(seeded)
    before = _counts(engine)
    response = signed_post(client, path, form)
    assert response.status_code < 500, f"{path} {form!r} -> {response.status_code}: {response.data[:500]!r}"
    if response.status_code >= 400:
        assert _counts(engine) == before, f"{path} {form!r} -> {response.status_code} but wrote rows"
    _whole(engine)


ALTERATIONS = ["value", "added", "removed", "token", "route", "query", "random"]


@FUZZ
@given(request=webhook_posts(), alteration=st.sampled_from(ALTERATIONS), data=st.data())
def test_forged_or_altered_signatures_get_403_and_write_nothing(seeded, client, request, alteration, data):
    path, form = request
    signature = sign(PUBLIC_URL + path, form)
    sent_path, sent = path, dict(form)
    # Twilio signs each parameter as its name and value run together, so an empty
    # name with an empty value signs as nothing at all: those changes are invisible.
    visible = sorted(key for key in form if key + form[key])
    if alteration == "value" and visible:
        key = data.draw(st.sampled_from(visible))
        sent[key] = data.draw(garbage.filter(lambda v: v != form[key]))
    elif alteration in ("added", "value", "removed") and (alteration == "added" or not visible):
        key = data.draw(garbage.filter(lambda k: k not in form))
        sent[key] = data.draw(garbage.filter(lambda v: bool(key + v)))
    elif alteration == "removed":
        del sent[data.draw(st.sampled_from(visible))]
    elif alteration == "token":
        signature = sign(PUBLIC_URL + path, form, token=SIM_TOKEN + "-old")
    elif alteration == "route":
        sent_path = data.draw(st.sampled_from(sorted(r for r in ROUTES if r != path.split("?")[0])))
    elif alteration == "query":
        sent_path = path.split("?")[0] + "?n=" + str(data.draw(st.integers(1, 10**6)))
        sent_path += "&also=1" if sent_path == path else ""
    else:
        header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
        signature = data.draw(st.one_of(header_text, st.binary(min_size=20, max_size=20).map(lambda b: b.hex())))
    engine = _engine(seeded)
    before = _counts(engine)
    response = client.post(sent_path, data=sent, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403, f"{alteration}: {sent_path} {sent!r} -> {response.status_code}"
    assert _counts(engine) == before
