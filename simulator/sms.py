"""SMS: messages the hotline sends through the carrier API, and texts phones send to it."""

from __future__ import annotations

from typing import Any

from simulator import twiml
from simulator.clock import iso_now, rfc2822_now
from simulator.ids import is_e164, new_sid
from simulator.phones import Phone, Script
from simulator.records import Message
from simulator.refusals import CarrierRefusal
from simulator.runtime import API_VERSION, Runtime

UNDELIVERED_ERROR = 30003  # Twilio: unreachable destination handset
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})


def submit_sms(rt: Runtime, *, to: str, from_: str, body: str, status_callback: str | None) -> Message:
    """Accept an SMS from the hotline for delivery, as Twilio's Messages API does.

    Delivery happens in the background: status callbacks ``sent`` then
    ``delivered`` (the phone's inbox gets it) or ``undelivered`` with
    ErrorCode 30003.

    A phone scripted with ``sms_delay`` makes the answer slow: an accepted
    SMS is on its way before the wait, a refusal is given after it.

    Raises:
        CarrierRefusal: ``to`` is not E.164 (21211), ``body`` is empty (21602),
            the phone texted STOP (21610), or the phone's script has an
            ``sms_error`` for this try.
    """
    if not is_e164(to):
        raise CarrierRefusal(f"The 'To' number {to} is not a valid phone number.", code=21211, http_status=400)
    if not body:
        raise CarrierRefusal("Message body is required.", code=21602, http_status=400)
    with rt.cond:
        phone = rt.phone(to)
        script = phone.effective_script(rt.default_script)
        delay = _scripted_delay(phone, script)
        refusal = _scripted_refusal(phone, script)
        if refusal is None and phone.opted_out:
            refusal = CarrierRefusal("Attempt to send to unsubscribed recipient", code=21610, http_status=400)
        if refusal is None:
            message = Message(
                sid=new_sid("SM"),
                direction="outbound-api",
                from_=from_,
                to=to,
                body=body,
                status="queued",
                created_at=rt.clock.now(),
                status_callback=status_callback or None,
            )
            message.history.append({"status": "queued", "at": round(message.created_at, 3)})
            rt.messages[message.sid] = message
    if delay:
        rt.log.add("sms.api_slow", phone=to, delay=delay, accepted=refusal is None)
    if refusal is not None:
        _pause(rt, delay)
        rt.log.add("sms.refused", phone=to, code=refusal.code, http_status=refusal.http_status, body=body)
        raise refusal
    rt.log.add("sms.queued", message_sid=message.sid, phone=to, body=body, **{"from": from_})
    rt.spawn(f"sms-{message.sid[-8:]}", _deliver, rt, message, script)
    _pause(rt, delay)
    return message


def _scripted_delay(phone: Phone, script: Script) -> float:
    if not script.sms_delay:
        return 0.0
    if script.sms_delay_times is not None and phone.sms_delays >= script.sms_delay_times:
        return 0.0
    phone.sms_delays += 1
    return script.sms_delay


def _scripted_refusal(phone: Phone, script: Script) -> CarrierRefusal | None:
    if script.sms_error is None:
        return None
    if script.sms_error_times is not None and phone.sms_refusals >= script.sms_error_times:
        return None
    phone.sms_refusals += 1
    return CarrierRefusal(
        f"Simulated carrier error {script.sms_error} for {phone.number}",
        code=script.sms_error,
        http_status=script.sms_http_status(),
    )


def _deliver(rt: Runtime, message: Message, script: Script) -> None:
    half = rt.sms_delivery_delay / 2
    if not _pause(rt, half):
        return
    _set_status(rt, message, "sent")
    if not _pause(rt, half):
        return
    if script.undeliverable:
        _set_status(rt, message, "undelivered", error_code=UNDELIVERED_ERROR)
        return
    with rt.cond:
        phone = rt.phone(message.to)
        phone.inbox.append(_inbox_entry(rt, message))
        reply = None
        if script.sms_reply is not None and not phone.replied:
            phone.replied = True
            reply = script.sms_reply
    rt.log.add(
        "phone.sms_received", phone=message.to, message_sid=message.sid, body=message.body, **{"from": message.from_}
    )
    _set_status(rt, message, "delivered")
    if reply is not None and _pause(rt, script.sms_reply_after):
        send_from_phone(rt, message.to, reply, to=message.from_)


def _pause(rt: Runtime, sim_seconds: float) -> bool:
    """Let time pass; False if the simulator halted meanwhile."""
    rt.wait(lambda: False, sim_seconds)
    return not rt.halted()


def _set_status(rt: Runtime, message: Message, status: str, *, error_code: int | None = None) -> None:
    with rt.cond:
        message.status = status
        message.error_code = error_code
        message.history.append({"status": status, "at": round(rt.clock.now(), 3)})
        rt.cond.notify_all()
    rt.log.add("sms.status", message_sid=message.sid, phone=message.to, status=status, error_code=error_code)
    if not message.status_callback:
        return
    params = {
        "AccountSid": rt.account_sid,
        "ApiVersion": API_VERSION,
        "MessageSid": message.sid,
        "SmsSid": message.sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "From": message.from_,
        "To": message.to,
        "Timestamp": rfc2822_now(),
    }
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    rt.webhooks.send(
        message.status_callback, params, kind="sms-status", message_sid=message.sid, phone=message.to, sms_status=status
    )


def _inbox_entry(rt: Runtime, message: Message) -> dict[str, Any]:
    return {
        "sid": message.sid,
        "from": message.from_,
        "body": message.body,
        "at": round(rt.clock.now(), 3),
        "time": iso_now(),
        "status": "delivered",
    }


def send_from_phone(rt: Runtime, number: str, body: str, *, to: str | None = None) -> Message:
    """Deliver a text from virtual phone ``number`` to the hotline's SMS webhook.

    Runs on the calling thread: when it returns, the service has answered.
    ``<Message>`` verbs in its TwiML answer are delivered to the phone's inbox.
    STOP-type words opt the phone out (later sends fail with 21610) and
    START-type words opt it back in, as Twilio does on long codes.
    """
    to = to or rt.hotline_number
    with rt.cond:
        phone = rt.phone(number)
        message = Message(
            sid=new_sid("SM"),
            direction="inbound",
            from_=number,
            to=to,
            body=body,
            status="received",
            created_at=rt.clock.now(),
        )
        rt.messages[message.sid] = message
        word = body.strip().upper()
        if word in OPT_OUT_WORDS:
            phone.opted_out = True
        elif word in OPT_IN_WORDS:
            phone.opted_out = False
        phone.outbox.append(
            {
                "sid": message.sid,
                "to": to,
                "body": body,
                "at": round(message.created_at, 3),
                "time": iso_now(),
                "status": "received",
            }
        )
    rt.log.add("phone.sms_sent", phone=number, message_sid=message.sid, body=body, to=to)
    params = {
        "AccountSid": rt.account_sid,
        "ApiVersion": API_VERSION,
        "MessageSid": message.sid,
        "SmsSid": message.sid,
        "SmsMessageSid": message.sid,
        "From": number,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
    }
    result = rt.webhooks.send(rt.sms_url, params, kind="sms", message_sid=message.sid, phone=number)
    if not result.ok:
        rt.log.add("sms.webhook_failed", message_sid=message.sid, phone=number, code=result.twilio_error_code)
        return message
    _deliver_twiml_replies(rt, message, result.body)
    return message


def _deliver_twiml_replies(rt: Runtime, inbound: Message, body: str) -> None:
    if not body.strip():
        return
    try:
        document = twiml.parse_twiml(body, rt.sms_url)
    except twiml.TwimlError as exc:
        rt.log.add("sms.twiml_error", message_sid=inbound.sid, detail=str(exc))
        return
    for verb in document.verbs:
        if not isinstance(verb, twiml.Message):
            continue
        recipient = verb.to or inbound.from_
        reply = Message(
            sid=new_sid("SM"),
            direction="outbound-reply",
            from_=inbound.to,
            to=recipient,
            body=verb.body,
            status="delivered",
            created_at=rt.clock.now(),
        )
        with rt.cond:
            rt.messages[reply.sid] = reply
            rt.phone(recipient).inbox.append(_inbox_entry(rt, reply))
        rt.log.add(
            "phone.sms_received", phone=recipient, message_sid=reply.sid, body=reply.body, **{"from": reply.from_}
        )
