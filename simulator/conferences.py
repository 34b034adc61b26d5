"""``<Dial><Conference>``: named rooms that calls join and leave."""

from __future__ import annotations

from collections.abc import Callable

from simulator import twiml
from simulator.calls import INBOUND, Call, CallGone
from simulator.clock import rfc2822_now
from simulator.ids import new_sid
from simulator.records import DialResult, Participant, Room
from simulator.runtime import Runtime

_EVENT_NAMES = {
    "join": "participant-join",
    "leave": "participant-leave",
    "start": "conference-start",
    "end": "conference-end",
}


def join_conference(rt: Runtime, call: Call, noun: twiml.Conference, *, answer: Callable[[], None]) -> DialResult:
    """Put ``call`` in the room named by ``noun`` until it leaves, and return the Dial result.

    A call leaves when its phone hangs up (a member after its script's
    ``talk_for``, a caller at ``hangup_after`` or by :meth:`Simulator.hangup`),
    when the room ends (a participant with ``endConferenceOnExit`` left), or,
    for a scripted caller, when everyone else who had joined has left.
    """
    answer()
    pending: list[tuple[Room, str, Participant | None]] = []
    with rt.cond:
        room = rt.conferences.get(noun.name)
        if room is None or room.status == "completed":
            room = Room(name=noun.name, sid=new_sid("CF"), created_at=rt.clock.now())
            rt.conferences[noun.name] = room
        if room.status_callback is None and noun.status_callback:
            room.status_callback = noun.status_callback
            room.status_callback_method = noun.status_callback_method
            room.status_events = noun.status_callback_events
        me = Participant(
            call_sid=call.sid,
            phone=call.phone,
            joined_at=rt.clock.now(),
            start_conference_on_enter=noun.start_conference_on_enter,
            end_conference_on_exit=noun.end_conference_on_exit,
        )
        room.participants.append(me)
        call.conference = noun.name
        pending.append((room, "join", me))
        if noun.start_conference_on_enter and room.status == "init":
            room.status, room.started_at = "in-progress", rt.clock.now()
            pending.append((room, "start", None))
        waiting = room.status == "init"
        rt.cond.notify_all()
    rt.record(call, "conference-join", name=room.name, conference_sid=room.sid, waiting=waiting)
    _post(rt, pending)
    if waiting and noun.wait_url:
        _hear_wait_document(rt, call, noun, room)

    talk_for = None if (call.direction == INBOUND or call.manual) else call.script.talk_for
    leaves_when_alone = call.direction == INBOUND and not call.manual

    def time_to_leave() -> bool:
        if room.status == "completed":
            return True
        others = [p for p in room.participants if p is not me]
        return leaves_when_alone and bool(others) and all(p.left_at is not None for p in others)

    gone: str | None = None
    try:
        rt.wait(time_to_leave, talk_for, call=call)
    except CallGone as exc:
        gone = exc.reason
    pending = []
    with rt.cond:
        me.left_at = rt.clock.now()
        pending.append((room, "leave", me))
        ends_room = room.status != "completed" and (
            (me.end_conference_on_exit and room.status == "in-progress") or not room.present()
        )
        if ends_room:
            room.status, room.ended_at = "completed", rt.clock.now()
            pending.append((room, "end", None))
        rt.cond.notify_all()
    rt.record(call, "conference-leave", name=room.name, conference_sid=room.sid, ended_room=ends_room)
    _post(rt, pending)
    return DialResult("completed", None, round(me.left_at - me.joined_at), gone)


def _post(rt: Runtime, pending: list[tuple[Room, str, Participant | None]]) -> None:
    for room, event, participant in pending:
        rt.log.add(
            f"conference.{event}",
            name=room.name,
            conference_sid=room.sid,
            call_sid=participant.call_sid if participant else None,
            phone=participant.phone if participant else None,
        )
        with rt.cond:
            if not room.status_callback or event not in room.status_events:
                continue
            sequence = room.sequence
            room.sequence += 1
            url, method = room.status_callback, room.status_callback_method
        params = {
            "AccountSid": rt.account_sid,
            "ConferenceSid": room.sid,
            "FriendlyName": room.name,
            "StatusCallbackEvent": _EVENT_NAMES[event],
            "SequenceNumber": str(sequence),
            "Timestamp": rfc2822_now(),
        }
        if participant is not None:
            params.update(
                CallSid=participant.call_sid,
                StartConferenceOnEnter=str(participant.start_conference_on_enter).lower(),
                EndConferenceOnExit=str(participant.end_conference_on_exit).lower(),
                Muted="false",
                Hold="false",
                Coaching="false",
            )
        rt.webhooks.send(
            url, params, method=method, kind="conference-status", conference_sid=room.sid, event=_EVENT_NAMES[event]
        )


def _hear_wait_document(rt: Runtime, call: Call, noun: twiml.Conference, room: Room) -> None:
    """Play the wait page until the conference starts, fetching it again each time it ends, as Twilio does.

    A page without a ``<Pause>`` is played once (a loop with no time passing
    would fetch it without end).
    """
    if noun.wait_url is None:
        return

    def started() -> bool:
        return room.status != "init"

    try:
        while not started():
            document = rt.fetch_twiml(
                call, noun.wait_url, noun.wait_method, rt.call_params(call), kind="conference-wait-url"
            )
            if document is None:
                return
            paused = False
            for verb in document.verbs:
                if started():
                    return
                if isinstance(verb, twiml.Say):
                    rt.record(call, "say", text=verb.text, language=verb.language, voice=verb.voice, hold=True)
                elif isinstance(verb, twiml.Play):
                    rt.record(call, "play", url=verb.url, hold=True)
                elif isinstance(verb, twiml.Pause):
                    paused = True
                    rt.wait(started, verb.length, call=call)
            if not paused:
                return
    except CallGone:
        return  # the caller hung up while waiting; the conference code below sees it
