"""Runs TwiML voice documents on one call leg, verb by verb, as Twilio would.

``<Dial>`` is carried out by handlers the interpreter is given (see
:class:`DialHandlers`) rather than ones it imports: the Dial flows run the
interpreter on the legs they ring, so importing them here would make the
modules import each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from simulator import twiml
from simulator.calls import INBOUND, Call, CallGone
from simulator.records import DialResult, Outcome
from simulator.runtime import Runtime

APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."


class NumbersHandler(Protocol):
    """Carries out ``<Dial><Number>...``: rings the numbers and bridges one."""

    def __call__(
        self,
        rt: Runtime,
        parent: Call,
        verb: twiml.Dial,
        *,
        answer: Callable[[], None],
        run_document: Callable[[Call, twiml.Document | None], Outcome],
    ) -> DialResult: ...


class ConferenceHandler(Protocol):
    """Carries out ``<Dial><Conference>``: keeps the call in the room until it leaves."""

    def __call__(
        self, rt: Runtime, call: Call, noun: twiml.Conference, *, answer: Callable[[], None]
    ) -> DialResult: ...


@dataclass(frozen=True)
class DialHandlers:
    """The ``<Dial>`` flows an :class:`Interpreter` hands its Dial verbs to.

    Attributes:
        numbers: Used for a Dial of ``<Number>`` nouns; it gets a way to run
            screening documents on the legs it rings, with these same handlers.
        conference: Used for a Dial of a ``<Conference>``.
    """

    numbers: NumbersHandler
    conference: ConferenceHandler


class Interpreter:
    """Executes documents for one call on the calling thread.

    The phone on the leg hears every ``<Say>`` (recorded in the call's
    transcript) and keys digits at ``<Gather>`` from its script or from
    :meth:`Simulator.press`. Waits end early with :class:`CallGone` when the
    leg is hung up or canceled.

    Args:
        rt: The simulator's shared state.
        call: The leg whose documents this runs.
        dial: Who carries out ``<Dial>`` verbs.
    """

    def __init__(self, rt: Runtime, call: Call, dial: DialHandlers) -> None:
        self.rt = rt
        self.call = call
        self.dial = dial
        self.reject_reason = "rejected"

    def run(self, document: twiml.Document | None) -> Outcome:
        """Run ``document`` and whatever it leads to (Gather / Dial action, Redirect).

        ``None`` stands for a document that could not be fetched: the phone
        hears Twilio's application-error message and the call ends.

        Raises:
            CallGone: The leg ended while running (the caller hung up, the leg
                lost a ring-all, or the simulator is halting).
        """
        outcome = Outcome.ERROR
        while document is not None:
            document, outcome = self._execute(document)
        if outcome is Outcome.ERROR:
            self._answer()
            self.rt.record(self.call, "error", text=APPLICATION_ERROR)
        return outcome

    def _execute(self, document: twiml.Document) -> tuple[twiml.Document | None, Outcome]:
        for verb in document.verbs:
            self.rt.check(self.call)
            if isinstance(verb, twiml.Say):
                self._answer()
                self._say(verb)
            elif isinstance(verb, twiml.Play):
                self._answer()
                self.rt.record(self.call, "play", url=verb.url)
            elif isinstance(verb, twiml.Pause):
                self._answer()
                self.rt.record(self.call, "pause", length=verb.length)
                self.rt.sleep(verb.length, call=self.call)
            elif isinstance(verb, twiml.Gather):
                self._answer()
                step = self._gather(verb)
                if step is not None:
                    return step
            elif isinstance(verb, twiml.Dial):
                step = self._dial(verb)
                if step is not None:
                    return step
            elif isinstance(verb, twiml.Hangup):
                self._answer()
                self.rt.record(self.call, "hangup")
                return None, Outcome.HANGUP
            elif isinstance(verb, twiml.Reject):
                if self.call.answered:
                    self.rt.record(self.call, "hangup", reason="reject after answer")
                    return None, Outcome.HANGUP
                self.reject_reason = verb.reason
                self.rt.record(self.call, "reject", reason=verb.reason)
                return None, Outcome.REJECT
            elif isinstance(verb, twiml.Redirect):
                self.rt.record(self.call, "redirect", url=verb.url)
                params = self.rt.call_params(self.call)
                return self._fetched(verb.url, verb.method, params, "redirect")
            else:
                name = verb.name if isinstance(verb, twiml.Unsupported) else type(verb).__name__
                self.rt.record(self.call, "unsupported", verb=name)
        return None, Outcome.END

    def _fetched(
        self, url: str, method: str, params: dict[str, str], kind: str
    ) -> tuple[twiml.Document | None, Outcome]:
        """The next document to run; if it cannot be had, the call ends with an application error."""
        document = self.rt.fetch_twiml(self.call, url, method, params, kind=kind)
        return document, Outcome.ERROR

    def _answer(self) -> None:
        # Twilio answers an inbound call with the first verb that needs audio;
        # outbound legs are answered before their TwiML runs.
        call = self.call
        with self.rt.cond:
            if call.direction != INBOUND or call.answered or call.final:
                return
        self.rt.set_status(call, "in-progress")
        self.rt.post_call_status(call, "answered")

    def _say(self, verb: twiml.Say) -> None:
        # loop="0" means "until hung up" on Twilio; once is enough to show what was said.
        for _ in range(max(1, min(verb.loop, 10))):
            self.rt.record(self.call, "say", text=verb.text, language=verb.language, voice=verb.voice)

    def _gather(self, verb: twiml.Gather) -> tuple[twiml.Document | None, Outcome] | None:
        self.rt.record(self.call, "gather", num_digits=verb.num_digits, timeout=verb.timeout, action=verb.action)
        for prompt in verb.prompts:
            if isinstance(prompt, twiml.Say):
                self._say(prompt)
            elif isinstance(prompt, twiml.Play):
                self.rt.record(self.call, "play", url=prompt.url)
            else:
                self.rt.sleep(prompt.length, call=self.call)
        digits, finished_on_key = self._collect(verb)
        if not digits and not verb.action_on_empty_result:
            self.rt.record(self.call, "gather-timeout")
            return None
        self.rt.record(self.call, "gathered", digits=digits)
        params = self.rt.call_params(self.call, Digits=digits, FinishedOnKey=finished_on_key or "")
        return self._fetched(verb.action, verb.method, params, "gather-action")

    def _collect(self, verb: twiml.Gather) -> tuple[str, str | None]:
        """Take keyed digits until numDigits, finishOnKey, or ``timeout`` seconds without a key."""
        rt, call = self.rt, self.call
        with rt.cond:
            auto = call.auto_press
            auto_at = rt.clock.deadline(call.press_after) if auto and not call.manual else None
        collected = ""
        last_key_at = time.monotonic()
        while True:
            with rt.cond:
                taken = 0
                for key in call.keypad:
                    taken += 1
                    if verb.finish_on_key and key == verb.finish_on_key:
                        call.keypad = call.keypad[taken:]
                        return collected, key
                    collected += key
                    if verb.num_digits and len(collected) >= verb.num_digits:
                        call.keypad = call.keypad[taken:]
                        return collected, None
                if taken:
                    call.keypad = ""
                    last_key_at = time.monotonic()
            now = time.monotonic()
            if auto_at is not None and now >= auto_at:
                press(rt, call, auto or "", by="script")
                auto_at = None
                continue
            timeout_at = last_key_at + rt.clock.real(verb.timeout)
            if now >= timeout_at:
                return collected, None
            until = timeout_at if auto_at is None else min(timeout_at, auto_at)
            rt.wait(lambda: bool(call.keypad), until=until, call=call)

    def _dial(self, verb: twiml.Dial) -> tuple[twiml.Document | None, Outcome] | None:
        call = self.call
        if verb.unsupported:
            self.rt.record(call, "unsupported", verb=f"Dial/{','.join(verb.unsupported)}")
        if verb.conference is not None:
            result = self.dial.conference(self.rt, call, verb.conference, answer=self._answer)
        else:
            result = self.dial.numbers(self.rt, call, verb, answer=self._answer, run_document=self._run_on_leg)
        with self.rt.cond:
            call.dial_results.append(result.to_dict())
        self.rt.record(call, "dial-result", **result.to_dict())
        if verb.action is None:
            if result.caller_gone:
                raise CallGone(result.caller_gone)
            return None
        params = self.rt.call_params(call, **result.action_params())
        if result.caller_gone:
            # Twilio still reports the Dial's end, but a hung-up caller hears nothing more.
            params["CallStatus"] = "completed"
            self.rt.webhooks.send(
                verb.action, params, method=verb.method, kind="dial-action", call_sid=call.sid, phone=call.phone
            )
            raise CallGone(result.caller_gone)
        return self._fetched(verb.action, verb.method, params, "dial-action")

    def _run_on_leg(self, leg: Call, document: twiml.Document | None) -> Outcome:
        """Run ``document`` on another leg (a dialled member's), with the same Dial handlers."""
        return Interpreter(self.rt, leg, self.dial).run(document)


def press(rt: Runtime, call: Call, digits: str, *, by: str) -> None:
    """Key ``digits`` on ``call``: they wait in the keypad buffer for a ``<Gather>``."""
    with rt.cond:
        call.keypad += digits
        call.digits.append(digits)
        rt.cond.notify_all()
    rt.log.add("phone.pressed", call_sid=call.sid, phone=call.phone, digits=digits, by=by)


__all__ = ["ConferenceHandler", "DialHandlers", "Interpreter", "NumbersHandler", "Outcome", "press"]
