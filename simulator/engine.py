"""The :class:`Simulator`: a stand-in for Twilio that phones the hotline service and answers it."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from simulator.aliyun import AliyunRefusal, AliyunSetup, ivr_call, single_call_by_tts, text_the_service
from simulator.aliyun import send_sms as aliyun_send_sms
from simulator.call_flows import run_api_call, run_inbound_call
from simulator.calls import INBOUND, NOT_ANSWERED, OUTBOUND_API, Call
from simulator.ids import is_e164
from simulator.interpreter import press as key_digits
from simulator.phones import DEFAULT_SCRIPT, Phone, Script, http_status_for
from simulator.refusals import CarrierRefusal
from simulator.runtime import Runtime
from simulator.sms import send_from_phone, submit_sms

T = TypeVar("T")
_DIGITS = re.compile(r"^[0-9*#]+$")


class Simulator:
    """A simulated phone network with scriptable virtual phones.

    It plays Twilio toward the hotline service at ``service_url``: inbound calls
    POST to ``/twilio/voice`` (fallback ``/twilio/voice/fallback``), inbound SMS
    to ``/twilio/sms``, and every other URL comes from TwiML or from carrier API
    requests. Every request is signed with ``auth_token`` like Twilio's.

    Args:
        service_url: The hotline's public base URL, e.g. ``http://127.0.0.1:5000``.
        auth_token: The token webhooks are signed with.
        hotline_number: The number villagers dial and text.
        time_scale: Multiplies every wait (0.1 runs ten times faster).
            Reported durations stay in simulated seconds.
        voice_status_url: Where inbound calls' status changes go; defaults to
            ``{service_url}/twilio/voice/status``.
        account_sid: AccountSid to report; a random ``AC...`` by default.
        webhook_timeout: Real seconds to wait for a webhook answer (Twilio: 15).
        sms_delivery_delay: Simulated seconds from accepting an SMS to its
            final status (``sent`` comes half-way).
        aliyun: Play Aliyun instead of Twilio (:mod:`simulator.aliyun`): the
            service's SendSms, IvrCall and SingleCallByTts requests are taken at ``POST /``,
            phones text the service by ``SmsUp``, and nothing calls the
            service (Aliyun takes no calls for it).

    Raises:
        ValueError: ``time_scale`` is not positive.
    """

    def __init__(
        self,
        *,
        service_url: str,
        auth_token: str,
        hotline_number: str,
        time_scale: float = 1.0,
        voice_status_url: str | None = None,
        account_sid: str | None = None,
        webhook_timeout: float = 15.0,
        sms_delivery_delay: float = 1.0,
        aliyun: AliyunSetup | None = None,
    ) -> None:
        self._aliyun = aliyun
        self._rt = Runtime(
            service_url=service_url,
            auth_token=auth_token,
            hotline_number=hotline_number,
            time_scale=time_scale,
            voice_status_url=voice_status_url,
            account_sid=account_sid,
            webhook_timeout=webhook_timeout,
            sms_delivery_delay=sms_delivery_delay,
        )

    # --- configuration ---------------------------------------------------

    @property
    def service_url(self) -> str:
        return self._rt.service_url

    @property
    def hotline_number(self) -> str:
        return self._rt.hotline_number

    @property
    def account_sid(self) -> str:
        return self._rt.account_sid

    @property
    def time_scale(self) -> float:
        return self._rt.clock.time_scale

    @property
    def plays_aliyun(self) -> bool:
        """Whether the simulator plays Aliyun rather than Twilio."""
        return self._aliyun is not None

    def script(self, phone: str, **fields: Any) -> dict[str, Any]:
        """Script how ``phone`` behaves; fields not given take :class:`Script`'s defaults.

        A new script also re-arms ``sms_reply`` and the ``*_error_times`` and ``sms_delay_times`` counters.
        Calls already ringing keep the script they started with.

        Returns:
            The phone's new script as a dict.

        Raises:
            ValueError: ``phone`` is not E.164, or a field is unknown or of the wrong type.
            RuntimeError: The simulator has been shut down.
        """
        self._require_running()
        _require_e164(phone)
        script = Script.from_fields(**fields)
        with self._rt.cond:
            state = self._rt.phone(phone)
            state.script = script
            state.replied = False
            state.sms_refusals = 0
            state.sms_delays = 0
            state.call_refusals = 0
        self._rt.log.add("phone.scripted", phone=phone, script=script.to_dict())
        return script.to_dict()

    def default_script(self, **fields: Any) -> dict[str, Any]:
        """Set how unscripted phones behave (initially: ring, nobody answers).

        Raises:
            ValueError: A field is unknown or of the wrong type.
        """
        script = Script.from_fields(**fields)
        with self._rt.cond:
            self._rt.default_script = script
        self._rt.log.add("phone.default_scripted", script=script.to_dict())
        return script.to_dict()

    # --- what phones do --------------------------------------------------

    def dial(
        self,
        from_phone: str,
        *,
        hangup_after: float | None = None,
        press: str | None = None,
        to: str | None = None,
    ) -> str:
        """Call the hotline from virtual phone ``from_phone``; the call runs in the background.

        Args:
            from_phone: The caller's E.164 number.
            hangup_after: Simulated seconds after which the caller hangs up;
                ``None`` stays on until the hotline or the other side ends it.
                Even 0 lets the voice webhook be requested first.
            press: Digits the caller keys at every ``<Gather>`` on this call
                (after the phone's ``press_after``); ``None`` keys nothing
                unless the phone is manual and :meth:`press` is used.
            to: The number dialled; the hotline number by default.

        Returns:
            The new call's CallSid.

        Raises:
            ValueError: ``from_phone`` is not E.164 or ``press`` has non-keypad characters.
            RuntimeError: The simulator has been shut down.
        """
        self._require_running()
        _require_e164(from_phone)
        if self._aliyun is not None:
            raise ValueError("with Aliyun the service takes no calls: text it, or raise an alarm with POST /api/alerts")
        if press is not None and not _DIGITS.match(press):
            raise ValueError(f"press must be keypad digits 0-9 * #, got {press!r}")
        if hangup_after is not None and hangup_after < 0:
            raise ValueError("hangup_after may not be negative")
        rt = self._rt
        with rt.cond:
            call = rt.new_call(
                direction=INBOUND,
                from_=from_phone,
                to=to or rt.hotline_number,
                phone=from_phone,
                status_callback=rt.voice_status_url,
                status_events=frozenset({"ringing", "answered", "completed"}),
            )
            call.auto_press = press
            call.press_after = call.script.press_after
            if hangup_after is not None:
                call.hangup_deadline = rt.clock.deadline(hangup_after)
        rt.set_status(call, "ringing")
        rt.log.add("phone.dialed", call_sid=call.sid, phone=from_phone, to=call.to, hangup_after=hangup_after)
        rt.spawn(f"call-{call.sid[-8:]}", run_inbound_call, rt, call, call=call)
        return call.sid

    def send_sms(self, from_phone: str, body: str, *, to: str | None = None) -> str:
        """Text the hotline from virtual phone ``from_phone``; returns when the service has answered.

        Returns:
            The MessageSid of the inbound SMS.

        Raises:
            ValueError: ``from_phone`` is not E.164.
            RuntimeError: The simulator has been shut down.
        """
        self._require_running()
        _require_e164(from_phone)
        if self._aliyun is not None:
            return text_the_service(self._rt, self._aliyun, from_phone, body)
        return send_from_phone(self._rt, from_phone, body, to=to).sid

    # --- Aliyun's API (what the Aliyun carrier's SDKs call, in Aliyun mode) -----

    def aliyun_request(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        """Answer one of Aliyun's API requests: ``SendSms``, ``IvrCall`` or ``SingleCallByTts``.

        Raises:
            AliyunRefusal: Not in Aliyun mode, an action the simulator does
                not play, or a request Aliyun would refuse.
            RuntimeError: The simulator has been shut down.
        """
        self._require_running()
        if self._aliyun is None:
            raise AliyunRefusal("InvalidAction.NotFound", "the simulator is playing Twilio", http_status=404)
        if action == "SendSms":
            return aliyun_send_sms(self._rt, self._aliyun, params)
        if action == "IvrCall":
            return ivr_call(self._rt, self._aliyun, params)
        if action == "SingleCallByTts":
            return single_call_by_tts(self._rt, self._aliyun, params)
        raise AliyunRefusal("InvalidAction.NotFound", f"the simulator does not play {action!r}", http_status=404)

    # --- the carrier REST API (what SimulatorCarrier calls) --------------

    def submit_sms(self, *, to: str, from_: str, body: str, status_callback: str | None = None) -> dict[str, Any]:
        """Accept an SMS from the hotline, as Twilio's Messages API does.

        Raises:
            CarrierRefusal: Invalid ``to`` (21211), empty body (21602), the phone
                opted out (21610), or the phone's scripted ``sms_error``.
            RuntimeError: The simulator has been shut down.
        """
        self._require_running()
        message = submit_sms(self._rt, to=to, from_=from_, body=body, status_callback=status_callback)
        return {"sid": message.sid, "status": "queued"}

    def place_call(
        self, *, to: str, from_: str, url: str, status_callback: str | None = None, timeout: float = 60
    ) -> dict[str, Any]:
        """Start a call from the hotline to ``to``, as Twilio's Calls API does.

        The phone rings per its script with initiated / ringing / answered /
        completed callbacks to ``status_callback``; when answered, the TwiML
        at ``url`` runs on the call.

        Raises:
            CarrierRefusal: Invalid ``to`` (21211), missing ``url`` (21205), or
                the phone's scripted ``call_error``.
            RuntimeError: The simulator has been shut down.
        """
        self._require_running()
        if not is_e164(to):
            raise CarrierRefusal(f"The 'To' number {to} is not a valid phone number.", code=21211, http_status=400)
        if not url:
            raise CarrierRefusal("Url parameter is required.", code=21205, http_status=400)
        rt = self._rt
        with rt.cond:
            phone = rt.phone(to)
            script = phone.effective_script(rt.default_script)
            refuse = script.call_error is not None and (
                script.call_error_times is None or phone.call_refusals < script.call_error_times
            )
            if refuse:
                phone.call_refusals += 1
        if refuse:
            assert script.call_error is not None
            rt.log.add("call.refused", phone=to, code=script.call_error)
            raise CarrierRefusal(
                f"Simulated carrier error {script.call_error} for {to}",
                code=script.call_error,
                http_status=http_status_for(script.call_error),
            )
        with rt.cond:
            call = rt.new_call(
                direction=OUTBOUND_API,
                from_=from_,
                to=to,
                phone=to,
                status_callback=status_callback or None,
                status_events=frozenset({"initiated", "ringing", "answered", "completed"}),
            )
            call.auto_press = None if call.script.voicemail else call.script.press
            call.press_after = call.script.press_after
        rt.spawn(f"call-{call.sid[-8:]}", run_api_call, rt, call, url, float(timeout or 60), call=call)
        return {"sid": call.sid, "status": "queued"}

    # --- manual control (browser phone, CLI, tests) ----------------------

    def answer(self, call_sid: str) -> None:
        """Pick up a ringing call on the callee's phone.

        Raises:
            KeyError: No call has this sid.
            ValueError: The call is not ringing.
        """
        call = self._ringing(call_sid, "answer")
        with self._rt.cond:
            call.answer_requested = True
            self._rt.cond.notify_all()
        self._rt.log.add("phone.answer", call_sid=call_sid, phone=call.phone)

    def reject(self, call_sid: str) -> None:
        """Decline a ringing call on the callee's phone (it ends ``busy``).

        Raises:
            KeyError: No call has this sid.
            ValueError: The call is not ringing.
        """
        call = self._ringing(call_sid, "reject")
        with self._rt.cond:
            call.reject_requested = True
            self._rt.cond.notify_all()
        self._rt.log.add("phone.reject", call_sid=call_sid, phone=call.phone)

    def press(self, call_sid: str, digits: str) -> None:
        """Key ``digits`` on an answered call; a ``<Gather>`` takes them (now or at its start).

        Raises:
            KeyError: No call has this sid.
            ValueError: ``digits`` are not keypad keys, or the call is not in progress.
        """
        if not digits or not _DIGITS.match(digits):
            raise ValueError(f"digits must be keypad keys 0-9 * #, got {digits!r}")
        call = self._call(call_sid)
        with self._rt.cond:
            if call.status != "in-progress":
                raise ValueError(f"call {call_sid} is {call.status}, not in progress")
        key_digits(self._rt, call, digits, by="person")

    def hangup(self, call_sid: str) -> None:
        """Hang up the phone on this leg (the caller on an inbound call, the callee otherwise).

        A callee hanging up a ringing call declines it (``busy``).

        Raises:
            KeyError: No call has this sid.
            ValueError: The call has already ended.
        """
        call = self._call(call_sid)
        rt = self._rt
        with rt.cond:
            if call.final or call.stop_reason is not None:
                raise ValueError(f"call {call_sid} has already ended ({call.status})")
            if call.direction != INBOUND and call.status in NOT_ANSWERED:
                call.reject_requested = True
                rt.cond.notify_all()
                declined = True
            else:
                declined = False
        if declined:
            rt.log.add("phone.reject", call_sid=call_sid, phone=call.phone)
            return
        reason = "caller-hangup" if call.direction == INBOUND else "callee-hangup"
        rt.stop(call, reason, "canceled")

    # --- inspection ------------------------------------------------------

    def phone(self, phone: str) -> dict[str, Any]:
        """What a virtual phone has seen: its script, SMS in and out, and its calls.

        Returns:
            ``{"number", "script", "scripted", "opted_out", "messages": [...received...],
            "sent": [...], "calls": [call snapshots], "ringing": [sids]}``.
        """
        rt = self._rt
        with rt.cond:
            # Looking at a phone must not make it appear in phones().
            state = rt.phones.get(phone) or Phone(number=phone)
            calls = [rt.calls[sid].snapshot(rt.calls) for sid in state.call_sids if sid in rt.calls]
            return {
                "number": phone,
                "script": state.effective_script(rt.default_script).to_dict(),
                "scripted": state.script is not None,
                "opted_out": state.opted_out,
                "messages": [dict(m) for m in state.inbox],
                "sent": [dict(m) for m in state.outbox],
                "calls": calls,
                "ringing": [c["sid"] for c in calls if c["status"] == "ringing"],
            }

    def phones(self) -> list[dict[str, Any]]:
        """Every phone the simulator knows about, as :meth:`phone` returns them."""
        with self._rt.cond:
            numbers = sorted(self._rt.phones)
        return [self.phone(number) for number in numbers]

    def call(self, sid: str) -> dict[str, Any]:
        """A call's state: status, legs (sid, to, phone, status, bridged), transcript, heard, digits, bridged leg.

        Raises:
            KeyError: No call has this sid.
        """
        with self._rt.cond:
            return self._call(sid).snapshot(self._rt.calls)

    def calls(self) -> list[dict[str, Any]]:
        """Every call, oldest first."""
        with self._rt.cond:
            return [call.snapshot(self._rt.calls) for call in self._rt.calls.values()]

    def message(self, sid: str) -> dict[str, Any]:
        """An SMS's state and status history.

        Raises:
            KeyError: No message has this sid.
        """
        with self._rt.cond:
            message = self._rt.messages.get(sid)
            if message is None:
                raise KeyError(f"no message {sid}")
            return message.snapshot()

    def conference(self, name: str) -> dict[str, Any] | None:
        """The latest conference room with this name and its participants, or ``None``."""
        with self._rt.cond:
            room = self._rt.conferences.get(name)
            return room.snapshot() if room is not None else None

    def events(self, since: int = 0, *, kind: str | None = None) -> list[dict[str, Any]]:
        """Events with ``seq`` greater than ``since``, oldest first, optionally of one ``kind``."""
        events = self._rt.log.since(since)
        return [e for e in events if kind is None or e["kind"] == kind]

    @property
    def last_event_seq(self) -> int:
        return self._rt.log.last_seq

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Re-check ``predicate`` as the simulation moves until it returns something truthy.

        ``timeout`` is in real seconds (not scaled).

        Returns:
            The predicate's truthy value.

        Raises:
            TimeoutError: It stayed falsy for ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout:g}s")
            with self._rt.cond:
                # Woken by every state change; the short cap also catches external state.
                self._rt.cond.wait(min(0.05, remaining))

    def wait_for_call(self, sid: str, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until a call has ended and its final callback went out; return its state.

        Raises:
            TimeoutError: It was still going after ``timeout`` real seconds.
        """
        return self.wait_for(lambda: (c := self.call(sid))["done"] and c, timeout)

    # --- lifecycle -------------------------------------------------------

    def reset(self, timeout: float = 5.0) -> None:
        """End every call, forget all phones, scripts, messages, rooms and events.

        Flows in progress stop without sending further webhooks.
        """
        rt = self._rt
        with rt.cond:
            rt.resetting = True
            rt.cond.notify_all()
        try:
            rt.join_threads(timeout)
        finally:
            with rt.cond:
                rt.phones.clear()
                rt.calls.clear()
                rt.messages.clear()
                rt.conferences.clear()
                rt.default_script = DEFAULT_SCRIPT
                rt.log.clear()
                rt.resetting = False
                rt.cond.notify_all()
        rt.log.add("simulator.reset")

    def shutdown(self, timeout: float = 5.0) -> list[str]:
        """Stop every flow and wait up to ``timeout`` real seconds for its threads.

        Returns:
            Names of threads still alive afterwards (only ones stuck in a
            webhook request that has not answered yet).
        """
        rt = self._rt
        with rt.cond:
            rt.stopping = True
            rt.cond.notify_all()
        return rt.join_threads(timeout)

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # --- helpers ---------------------------------------------------------

    def _require_running(self) -> None:
        if self._rt.stopping:
            raise RuntimeError("the simulator has been shut down")

    def _call(self, sid: str) -> Call:
        with self._rt.cond:
            call = self._rt.calls.get(sid)
            if call is None:
                raise KeyError(f"no call {sid}")
            return call

    def _ringing(self, sid: str, action: str) -> Call:
        call = self._call(sid)
        with self._rt.cond:
            if call.status not in NOT_ANSWERED or call.stop_reason is not None:
                raise ValueError(f"cannot {action} call {sid}: it is {call.status}")
        return call


def _require_e164(number: str) -> None:
    if not is_e164(number):
        raise ValueError(f"{number!r} is not an E.164 phone number like +8613800000001")
