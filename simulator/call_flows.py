"""Whole-call flows: a villager's inbound call, and a call the hotline places via the API."""

from __future__ import annotations

import time

from simulator.calls import Call, CallGone
from simulator.conferences import join_conference
from simulator.dial import run_dial
from simulator.interpreter import DialHandlers, Interpreter
from simulator.records import Outcome
from simulator.ringing import ANSWERED, ring
from simulator.runtime import Runtime

# The interpreter is handed its <Dial> flows here, the one module that knows
# all three, so that none of them imports another in a circle.
DIAL_HANDLERS = DialHandlers(numbers=run_dial, conference=join_conference)


def run_inbound_call(rt: Runtime, call: Call) -> None:
    """Run a call from a virtual phone to the hotline number until it ends.

    Status callbacks go to the voice status URL (ringing, in-progress,
    completed). The voice webhook is requested first; if it fails (HTTP error,
    no answer within the webhook timeout, or bad TwiML) the fallback URL is
    requested with ErrorCode and ErrorUrl, as Twilio does.
    """
    status, ended_by = "completed", "hotline"
    try:
        rt.post_call_status(call, "ringing")
        params = rt.call_params(call)
        document = rt.fetch_twiml(call, rt.voice_url, "POST", params, kind="voice")
        if document is None and not rt.halted():
            with rt.cond:
                code = call.errors[-1]["code"] if call.errors else 11200
            fallback_params = dict(params, ErrorCode=str(code), ErrorUrl=rt.voice_url)
            document = rt.fetch_twiml(call, rt.voice_fallback_url, "POST", fallback_params, kind="voice-fallback")
        interpreter = Interpreter(rt, call, DIAL_HANDLERS)
        outcome = interpreter.run(document)
        if outcome is Outcome.REJECT:
            # Twilio: reason="busy" ends busy, the default "rejected" ends no-answer.
            status = "busy" if interpreter.reject_reason == "busy" else "no-answer"
    except CallGone as gone:
        with rt.cond:
            status = "completed" if call.answered else "canceled"
        ended_by = gone.reason
    rt.finish(call, status, ended_by=ended_by)


def run_api_call(rt: Runtime, call: Call, url: str, ring_seconds: float) -> None:
    """Ring a phone for a call created through the carrier API and run ``url``'s TwiML when answered."""
    started = time.monotonic()
    try:
        outcome = ring(rt, call, ring_seconds=ring_seconds, started=started)
        if outcome != ANSWERED:
            rt.finish(call, outcome, ended_by="network")
            return
        document = rt.fetch_twiml(call, url, "POST", rt.call_params(call), kind="call-url")
        Interpreter(rt, call, DIAL_HANDLERS).run(document)
        rt.finish(call, "completed", ended_by="hotline")
    except CallGone as gone:
        with rt.cond:
            status = "completed" if call.answered else (call.stop_status or "canceled")
        rt.finish(call, status, ended_by=gone.reason)
