"""``<Dial>`` with ``<Number>`` nouns: ring every number at once, bridge the first that accepts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator import twiml
from simulator.calls import NOT_ANSWERED, OUTBOUND_DIAL, Call, CallGone
from simulator.records import DialResult, Outcome
from simulator.ringing import ANSWERED, ring
from simulator.runtime import Runtime

# Runs a TwiML document on a leg and says how it ended; the interpreter hands
# one over, so this module never imports the interpreter that runs <Dial>.
RunDocument = Callable[[Call, twiml.Document | None], Outcome]


@dataclass(eq=False)
class _RingAll:
    parent: Call
    started: float
    timeout: float
    legs: list[Call] = field(default_factory=list)
    winner: Call | None = None


def run_dial(
    rt: Runtime, parent: Call, verb: twiml.Dial, *, answer: Callable[[], None], run_document: RunDocument
) -> DialResult:
    """Ring all of ``verb``'s numbers from ``parent`` and bridge the first leg that accepts.

    A leg accepts when it answers and its ``<Number url>`` document (if any)
    runs to its end without hanging up. The Dial ends when a bridged call ends,
    when every leg has ended unbridged, or when the caller hangs up. Legs still
    ringing at the Dial ``timeout`` end ``no-answer``; a leg already answered
    and screening may still accept after it, since the timeout only limits
    ringing.

    Args:
        rt: The simulator's shared state.
        parent: The caller's leg, running the ``<Dial>``.
        verb: The ``<Dial>`` with its ``<Number>`` nouns.
        answer: Answers ``parent`` (inbound calls answer at the Dial unless
            ``answerOnBridge``).
        run_document: Runs a ``<Number url>`` screening document on a leg
            that answered.

    Returns:
        The result for the Dial ``action``: completed (bridged), busy (every leg
        busy), failed (every leg failed), canceled (the caller hung up first),
        otherwise no-answer.
    """
    # The parser refuses a document whose Dial holds more than
    # twiml.MAX_DIAL_NUMBERS, so every number here is rung.
    numbers = verb.numbers
    if not numbers:
        rt.record(parent, "dial", numbers=[], timeout=verb.timeout)
        return DialResult(status="failed")
    if not verb.answer_on_bridge:
        answer()
    ring_all = _RingAll(parent=parent, started=time.monotonic(), timeout=verb.timeout)
    with rt.cond:
        for noun in numbers:
            leg = rt.new_call(
                direction=OUTBOUND_DIAL,
                from_=verb.caller_id or parent.from_,
                to=noun.number,
                phone=noun.number,
                parent_sid=parent.sid,
                status_callback=noun.status_callback,
                status_callback_method=noun.status_callback_method,
                status_events=noun.status_callback_events,
            )
            leg.auto_press = None if leg.script.voicemail else leg.script.press
            leg.press_after = leg.script.press_after
            ring_all.legs.append(leg)
            parent.legs.append(leg.sid)
    rt.record(
        parent,
        "dial",
        numbers=[n.number for n in numbers],
        legs=[leg.sid for leg in ring_all.legs],
        timeout=verb.timeout,
    )
    for leg, noun in zip(ring_all.legs, numbers, strict=True):
        rt.spawn(f"leg-{leg.sid[-8:]}", _run_leg, rt, ring_all, leg, noun, run_document, call=leg)

    legs = ring_all.legs
    caller_gone: str | None = None
    try:
        rt.wait(lambda: ring_all.winner is not None or all(leg.final for leg in legs), call=parent)
        winner = ring_all.winner
        if winner is not None:
            if verb.answer_on_bridge:
                answer()
            rt.record(parent, "bridged", with_sid=winner.sid, with_phone=winner.phone)
            if not rt.wait(lambda: winner.final, verb.time_limit, call=parent):
                rt.stop(winner, "time-limit", "completed")
    except CallGone as gone:
        caller_gone = gone.reason
        for leg in legs:
            with rt.cond:
                unanswered = leg.status in NOT_ANSWERED
            rt.stop(leg, gone.reason, "canceled" if unanswered else "completed")
    # Legs' completed callbacks go out before the Dial action, as on Twilio.
    rt.wait(lambda: all(leg.done for leg in legs), until=time.monotonic() + rt.webhook_timeout + 5)
    return _result(ring_all, caller_gone)


def _result(ring_all: _RingAll, caller_gone: str | None) -> DialResult:
    legs, winner = ring_all.legs, ring_all.winner
    if winner is not None:
        return DialResult("completed", winner.sid, winner.duration(), caller_gone)
    only = legs[0].sid if len(legs) == 1 else None
    statuses = {leg.status for leg in legs}
    if caller_gone:
        status = "canceled"
    elif statuses == {"busy"}:
        status = "busy"
    elif statuses == {"failed"}:
        status = "failed"
    else:
        status = "no-answer"
    return DialResult(status, only, None, caller_gone)


def _run_leg(rt: Runtime, ring_all: _RingAll, leg: Call, noun: twiml.Number, run_document: RunDocument) -> None:
    try:
        outcome = ring(rt, leg, ring_seconds=ring_all.timeout, started=ring_all.started)
        if outcome != ANSWERED:
            rt.finish(leg, outcome, ended_by="network")
            return
        if noun.url:
            with rt.cond:
                leg.screening = True
            document = rt.fetch_twiml(leg, noun.url, noun.method, rt.call_params(leg), kind="dial-number-url")
            result = run_document(leg, document)
            with rt.cond:
                leg.screening = False
            if result is not Outcome.END:
                rt.finish(leg, "completed", ended_by="screening")
                return
        if not _claim(rt, ring_all, leg):
            rt.finish(leg, "completed", ended_by="lost")
            return
        talk_for = None if leg.manual else leg.script.talk_for
        rt.wait(lambda: False, talk_for, call=leg)
        rt.finish(leg, "completed", ended_by="callee-hangup")
    except CallGone as gone:
        with rt.cond:
            leg.screening = False
            status = "completed" if leg.answered else (leg.stop_status or "canceled")
        rt.finish(leg, status, ended_by=gone.reason)


def _claim(rt: Runtime, ring_all: _RingAll, leg: Call) -> bool:
    """Make ``leg`` the Dial's bridged leg unless another leg or the caller's hang-up came first."""
    parent = ring_all.parent
    with rt.cond:
        if ring_all.winner is not None or parent.final or parent.stop_reason is not None:
            return False
        ring_all.winner = leg
        now = rt.clock.now()
        leg.bridged_with, leg.bridged_at = parent.sid, now
        parent.bridged_with, parent.bridged_at = leg.sid, now
        losers = [other for other in ring_all.legs if other is not leg and not other.final]
        rt.cond.notify_all()
    for other in losers:
        with rt.cond:
            unanswered = other.status in NOT_ANSWERED
        rt.stop(other, "lost", "canceled" if unanswered else "completed")
    rt.record(leg, "bridged", with_sid=parent.sid, with_phone=parent.phone)
    return True
