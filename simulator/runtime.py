"""Shared machinery for the simulator's flows: state, lock, waits, webhooks, transcripts.

Every piece of simulator state is read and changed under one re-entrant
condition (``Runtime.cond``); every change notifies it, so any wait can be a
predicate over state. HTTP requests are never made while holding it.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from simulator.calls import INBOUND, Call, CallGone
from simulator.clock import Clock, rfc2822_now
from simulator.events import EventLog
from simulator.ids import new_sid
from simulator.phones import DEFAULT_SCRIPT, Phone, Script
from simulator.records import Message, Room
from simulator.twiml import Document, TwimlError, parse_twiml
from simulator.webhooks import WebhookSender

API_VERSION = "2010-04-01"


class Runtime:
    """State and helpers shared by the call, Dial, conference and SMS flows."""

    def __init__(
        self,
        *,
        service_url: str,
        auth_token: str,
        hotline_number: str,
        time_scale: float,
        voice_status_url: str | None,
        account_sid: str | None,
        webhook_timeout: float,
        sms_delivery_delay: float,
    ) -> None:
        self.service_url = service_url.rstrip("/")
        self.hotline_number = hotline_number
        self.voice_url = f"{self.service_url}/twilio/voice"
        self.voice_fallback_url = f"{self.service_url}/twilio/voice/fallback"
        self.voice_status_url = voice_status_url or f"{self.service_url}/twilio/voice/status"
        self.sms_url = f"{self.service_url}/twilio/sms"
        self.account_sid = account_sid or new_sid("AC")
        self.webhook_timeout = webhook_timeout
        self.sms_delivery_delay = sms_delivery_delay
        self.cond = threading.Condition(threading.RLock())
        self.clock = Clock(time_scale)
        self.log = EventLog(self.clock, on_append=self.notify)
        self.webhooks = WebhookSender(auth_token=auth_token, timeout=webhook_timeout, log=self.log, halted=self.halted)
        self.default_script: Script = DEFAULT_SCRIPT
        self.phones: dict[str, Phone] = {}
        self.calls: dict[str, Call] = {}
        self.messages: dict[str, Message] = {}
        self.conferences: dict[str, Room] = {}
        self.stopping = False
        self.resetting = False
        self._threads: set[threading.Thread] = set()

    # --- lifecycle -------------------------------------------------------

    def halted(self) -> bool:
        """True while resetting or after shutdown: flows stop and send nothing more."""
        return self.stopping or self.resetting

    def notify(self) -> None:
        with self.cond:
            self.cond.notify_all()

    def spawn(self, name: str, target: Callable[..., None], *args: Any, call: Call | None = None) -> None:
        """Run ``target(*args)`` in a daemon thread the simulator tracks and joins.

        Nothing is started once the simulator is halted. An exception other than
        :class:`CallGone` is logged as a ``simulator.error`` event rather than
        lost, so a broken flow shows up in the event log and in tests; the
        ``call`` the thread was running then ends ``failed`` so nothing waits on
        it forever.
        """

        def run() -> None:
            try:
                target(*args)
            except CallGone:
                pass
            except Exception as exc:
                self.log.add("simulator.error", thread=name, error=repr(exc), traceback=traceback.format_exc())
                if call is not None and not call.final:
                    self.finish(call, "failed", ended_by="simulator-error")
            finally:
                with self.cond:
                    self._threads.discard(threading.current_thread())
                    self.cond.notify_all()

        with self.cond:
            if self.halted():
                return
            thread = threading.Thread(target=run, name=f"sim-{name}", daemon=True)
            self._threads.add(thread)
            # Started under the lock so join_threads() never sees a thread not yet started.
            thread.start()

    def join_threads(self, timeout: float) -> list[str]:
        """Wait up to ``timeout`` real seconds for tracked threads; return names still alive."""
        deadline = time.monotonic() + timeout
        with self.cond:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t.name for t in threads if t.is_alive()]

    # --- waiting ---------------------------------------------------------

    def wait(
        self,
        predicate: Callable[[], Any],
        sim_seconds: float | None = None,
        *,
        until: float | None = None,
        call: Call | None = None,
    ) -> bool:
        """Block until ``predicate()`` is true or the time is up.

        Args:
            predicate: Checked under the lock each time state changes.
            sim_seconds: Simulated seconds to wait at most; ``None`` for no limit.
            until: A ``time.monotonic()`` deadline, combined with ``sim_seconds``.
            call: The call this wait belongs to; the wait then ends early when
                the call must stop.

        Returns:
            True if the predicate became true, False if the time ran out (or, for
            a wait without ``call``, if the simulator halted).

        Raises:
            CallGone: ``call`` was hung up, canceled, reached its hang-up time,
                or the simulator is halting.
        """
        deadline = until
        if sim_seconds is not None:
            mine = self.clock.deadline(sim_seconds)
            deadline = mine if deadline is None else min(deadline, mine)
        with self.cond:
            while True:
                if call is not None:
                    self.check(call)
                elif self.halted():
                    return bool(predicate())
                if predicate():
                    return True
                now = time.monotonic()
                limit = deadline
                if call is not None and call.hangup_deadline is not None:
                    limit = call.hangup_deadline if limit is None else min(limit, call.hangup_deadline)
                if limit is not None and limit <= now:
                    if deadline is not None and deadline <= now:
                        return False
                    continue  # the call's own hang-up time came first; check() raises
                self.cond.wait(None if limit is None else limit - now)

    def sleep(self, sim_seconds: float, *, call: Call) -> None:
        """Let ``sim_seconds`` pass on ``call``.

        Raises:
            CallGone: The call ended meanwhile.
        """
        self.wait(lambda: False, sim_seconds, call=call)

    def check(self, call: Call) -> None:
        """Raise :class:`CallGone` if ``call`` must stop now.

        Raises:
            CallGone: With the reason: the simulator halting, the caller's
                scripted hang-up time having come, or a stop someone requested.
        """
        with self.cond:
            if self.stopping:
                raise CallGone("shutdown")
            if self.resetting:
                raise CallGone("reset")
            if (
                call.stop_reason is None
                and call.hangup_deadline is not None
                and time.monotonic() >= call.hangup_deadline
            ):
                self.stop(call, "caller-hangup" if call.direction == INBOUND else "callee-hangup", "canceled")
            if call.stop_reason is not None:
                raise CallGone(call.stop_reason)

    def stop(self, call: Call, reason: str, status_if_unanswered: str) -> None:
        """Ask a call to end; its own thread notices and finishes it."""
        with self.cond:
            if call.final or call.stop_reason is not None:
                return
            call.stop_reason = reason
            call.stop_status = status_if_unanswered
            self.cond.notify_all()
        self.log.add("call.stop", call_sid=call.sid, phone=call.phone, reason=reason)

    # --- phones and calls -----------------------------------------------

    def phone(self, number: str) -> Phone:
        """The phone with this number, created on first use."""
        with self.cond:
            phone = self.phones.get(number)
            if phone is None:
                phone = self.phones[number] = Phone(number=number)
            return phone

    def script_for(self, number: str) -> Script:
        with self.cond:
            return self.phone(number).effective_script(self.default_script)

    def new_call(self, *, direction: str, from_: str, to: str, phone: str, **fields: Any) -> Call:
        """Create and register a call leg in status ``queued``."""
        with self.cond:
            script = self.script_for(phone)
            call = Call(
                sid=new_sid("CA"),
                direction=direction,
                from_=from_,
                to=to,
                phone=phone,
                script=script,
                manual=script.manual,
                created_at=self.clock.now(),
                **fields,
            )
            self.calls[call.sid] = call
            self.phone(phone).call_sids.append(call.sid)
        self.log.add(
            "call.created",
            call_sid=call.sid,
            direction=direction,
            parent_sid=call.parent_sid,
            phone=phone,
            **{"from": from_, "to": to},
        )
        return call

    def set_status(self, call: Call, status: str) -> None:
        with self.cond:
            call.status = status
            if status == "in-progress" and call.answered_at is None:
                call.answered_at = self.clock.now()
            self.cond.notify_all()
        self.log.add("call.status", call_sid=call.sid, phone=call.phone, direction=call.direction, status=status)

    def call_params(self, call: Call, **extra: Any) -> dict[str, str]:
        """The parameters Twilio sends with every request about ``call``."""
        with self.cond:
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "CallSid": call.sid,
                "From": call.from_,
                "To": call.to,
                "Caller": call.from_,
                "Called": call.to,
                "CallStatus": call.status,
                "Direction": call.direction,
            }
            if call.parent_sid:
                params["ParentCallSid"] = call.parent_sid
        params.update({key: str(value) for key, value in extra.items() if value is not None})
        return params

    def post_call_status(self, call: Call, event: str) -> None:
        """POST a status callback for ``event`` if the leg asked for it.

        ``event`` is one of initiated / ringing / answered / completed; the
        CallStatus sent is the leg's status now (in-progress for answered).
        """
        with self.cond:
            if not call.status_callback or event not in call.status_events:
                return
            sequence = call.sequence
            call.sequence += 1
            extra: dict[str, Any] = {
                "SequenceNumber": sequence,
                "Timestamp": rfc2822_now(),
                "CallbackSource": "call-progress-events",
            }
            if call.final:
                extra["CallDuration"] = call.duration()
            url, method = call.status_callback, call.status_callback_method
        params = self.call_params(call, **extra)
        self.webhooks.send(
            url, params, method=method, kind="call-status", call_sid=call.sid, phone=call.phone, event=event
        )

    def finish(self, call: Call, status: str, *, ended_by: str | None = None) -> None:
        """Give ``call`` its final status, post its completed callback, then mark it done."""
        with self.cond:
            if call.final:
                return
            call.status = status
            call.ended_at = self.clock.now()
            call.ended_by = ended_by or call.stop_reason
            self.cond.notify_all()
        self.log.add(
            "call.status",
            call_sid=call.sid,
            phone=call.phone,
            direction=call.direction,
            status=status,
            duration=call.duration(),
            ended_by=call.ended_by,
        )
        try:
            self.post_call_status(call, "completed")
        finally:
            with self.cond:
                call.done = True
                self.cond.notify_all()

    # --- TwiML and transcripts ------------------------------------------

    def fetch_twiml(self, call: Call, url: str, method: str, params: dict[str, str], *, kind: str) -> Document | None:
        """Request a TwiML document for ``call``; ``None`` (and an error noted on the call) if that fails."""
        result = self.webhooks.send(url, params, method=method, kind=kind, call_sid=call.sid, phone=call.phone)
        if not result.ok:
            self.call_error(call, result.twilio_error_code, url, result.error or f"HTTP {result.status}")
            return None
        try:
            return parse_twiml(result.body, url)
        except TwimlError as exc:
            self.call_error(call, TwimlError.code, url, str(exc))
            return None

    def call_error(self, call: Call, code: int, url: str, detail: str) -> None:
        with self.cond:
            call.errors.append({"code": code, "url": url, "detail": detail, "at": round(self.clock.now(), 3)})
        self.log.add("call.error", call_sid=call.sid, phone=call.phone, code=code, url=url, detail=detail)

    def record(self, call: Call, kind: str, **fields: Any) -> None:
        """Add what happened on ``call`` to its transcript and to the event log."""
        with self.cond:
            entry = {"at": round(self.clock.now(), 3), "kind": kind}
            entry.update(fields)
            call.transcript.append(entry)
        self.log.add(f"call.{kind}", call_sid=call.sid, phone=call.phone, **fields)
