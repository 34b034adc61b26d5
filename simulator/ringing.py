"""Ringing a virtual phone and letting its script (or a person) decide what happens."""

from __future__ import annotations

from simulator.calls import Call
from simulator.runtime import Runtime

ANSWERED = "answered"


def ring(rt: Runtime, call: Call, *, ring_seconds: float, started: float) -> str:
    """Ring ``call``'s phone until it answers, refuses, or ``ring_seconds`` pass.

    Posts the initiated / ringing / answered status callbacks the leg asked for.
    Times count from ``started`` (a ``time.monotonic()`` value) so that every
    leg of a ring-all Dial shares one clock however slow the callbacks are.

    Returns:
        ``"answered"`` (the leg is now in-progress), or the final status the
        leg should end with: ``busy``, ``failed`` or ``no-answer``.

    Raises:
        CallGone: The leg was canceled while ringing (another leg won, the
            caller hung up, or the simulator is halting).
    """
    script = call.script
    rt.set_status(call, "initiated")
    rt.post_call_status(call, "initiated")
    rt.check(call)
    if not call.manual and script.fail:
        return "failed"
    if not call.manual and script.busy:
        return "busy"
    rt.set_status(call, "ringing")
    rt.log.add("phone.ringing", call_sid=call.sid, phone=call.phone, caller=call.from_, manual=call.manual)
    rt.post_call_status(call, "ringing")

    ring_deadline = started + rt.clock.real(ring_seconds)
    answer_at: float | None = None
    if not call.manual and not script.ignore:
        answer_at = started + rt.clock.real(script.answer_after)
    answers_in_time = answer_at is not None and answer_at < ring_deadline
    target = answer_at if answer_at is not None and answers_in_time else ring_deadline

    rt.wait(lambda: call.answer_requested or call.reject_requested, until=target, call=call)
    with rt.cond:
        if call.reject_requested:
            return "busy"
        answered = call.answer_requested or answers_in_time
    if not answered:
        return "no-answer"
    rt.set_status(call, "in-progress")
    rt.log.add("phone.answered", call_sid=call.sid, phone=call.phone)
    rt.post_call_status(call, "answered")
    return ANSWERED
