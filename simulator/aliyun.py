"""Aliyun mode: the simulator plays Alibaba Cloud's Dysms (SendSms) and Dyvms (IvrCall, SingleCallByTts).

The service's Aliyun carrier sends its SDK requests to the simulator (its
``HOTLINE_ALIYUN_SMS_ENDPOINT`` and ``_VOICE_ENDPOINT`` point here). Virtual
phones receive the registered template's words with their values, ring, hear
the TTS prompt and press the keys their script says (a voice notice,
``SingleCallByTts``, is only heard); what happened goes back
as Aliyun pushes it: JSON arrays of ``SmsReport``, ``VoiceCallReport`` (a key
press is ``status_code`` 300000 with its ``dtmf``) and ``VoiceReport``, and a
phone texting the service is an ``SmsUp``. A push not answered with
``{"code": 0}`` is pushed again after 1, 5 and 10 minutes, as Aliyun does.

Request signatures are not checked here (the project's tests check them
against a mock of the API); parameters are read as Aliyun reads them.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from simulator.calls import OUTBOUND_API, Call, CallGone
from simulator.clock import iso_now
from simulator.ids import new_sid
from simulator.records import Message
from simulator.ringing import ANSWERED, ring
from simulator.runtime import Runtime

# Aliyun refuses a second call to one number within a minute (and counts it).
CALL_SPACING = 60.0
# A push that failed is pushed again after these many (simulated) seconds.
RETRY_AFTER = (60.0, 300.0, 600.0)
KEY_PRESS = "300000"
# VoiceReport codes for how a call ended.
ENDED = {"completed": "200000", "hung-up": "200001", "no-key": "200008", "busy": "200002",
         "no-answer": "200003", "failed": "200005"}
_VARIABLE = re.compile(r"\$\{(\w+)\}")
_DOMESTIC = re.compile(r"^(1[3-9][0-9]{9}|0[1-9][0-9]{8,10})$")


@dataclass(frozen=True)
class AliyunSetup:
    """What the simulator needs to play Aliyun for one service.

    Attributes:
        receipts_url: The service's receipt base, ``{public}/aliyun/{token}``;
            pushes go to ``/voice-report``, ``/sms-report`` and ``/sms-up`` under it.
        sign_name: The SMS sign name, shown in 【】 before every text.
        wording: Each registered template code's words, variables written
            ``${name}``; a code not here is shown as its code and values.
    """

    receipts_url: str
    sign_name: str = ""
    wording: Mapping[str, str] = field(default_factory=dict)


class AliyunRefusal(Exception):
    """A request Aliyun answers with an error ``Code`` (HTTP 200, as Aliyun answers business errors)."""

    def __init__(self, code: str, message: str, http_status: int = 200) -> None:
        super().__init__(message)
        self.code, self.message, self.http_status = code, message, http_status


_ids = itertools.count(100_000)


def e164(domestic: str) -> str:
    """A mainland number as Aliyun takes it (``13800138000``, ``057188880000``) in E.164."""
    return "+86" + domestic.removeprefix("0")


def domestic(number: str) -> str:
    """An E.164 mainland number as Aliyun writes it in receipts."""
    national = number.removeprefix("+86")
    return national if national.startswith("1") else "0" + national


def _now() -> str:
    return datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _values(raw: str | None, name: str) -> dict[str, str]:
    if not raw:
        return {}
    try:
        values = json.loads(raw)
    except ValueError:
        raise AliyunRefusal("isv.INVALID_JSON_PARAM", f"{name} is not JSON") from None
    if not isinstance(values, dict):
        raise AliyunRefusal("isv.INVALID_JSON_PARAM", f"{name} must be a JSON object")
    return {str(key): str(value) for key, value in values.items()}


def words(setup: AliyunSetup, code: str, values: Mapping[str, str]) -> str:
    """What a template says with ``values`` filled in."""
    pattern = setup.wording.get(code)
    if pattern is None:
        return f"{code} {json.dumps(dict(values), ensure_ascii=False)}"
    return _VARIABLE.sub(lambda match: values.get(match.group(1), match.group(0)), pattern)


def _required(params: Mapping[str, str], *names: str) -> None:
    for name in names:
        if not params.get(name):
            raise AliyunRefusal("MissingParameter", f"{name} is required", http_status=400)


def _number(params: Mapping[str, str], name: str) -> str:
    number = params[name]
    if not _DOMESTIC.match(number):
        raise AliyunRefusal("isv.MOBILE_NUMBER_ILLEGAL", f"{name} {number!r} is not a mainland number")
    return number


# --- SendSms ---------------------------------------------------------------------


def send_sms(rt: Runtime, setup: AliyunSetup, params: Mapping[str, str]) -> dict[str, Any]:
    """Accept a ``SendSms``: the phone gets the template's words, then an ``SmsReport`` goes back.

    Raises:
        AliyunRefusal: A parameter is missing, the number is not a mainland one,
            or ``TemplateParam`` is not a JSON object.
    """
    _required(params, "PhoneNumbers", "SignName", "TemplateCode")
    number = _number(params, "PhoneNumbers")
    values = _values(params.get("TemplateParam"), "TemplateParam")
    body = f"【{params['SignName']}】{words(setup, params['TemplateCode'], values)}"
    to = e164(number)
    with rt.cond:
        script = rt.script_for(to)
        message = Message(
            sid=f"{next(_ids)}^0", direction="outbound-api", from_=rt.hotline_number, to=to, body=body,
            status="queued", created_at=rt.clock.now(),
        )
        message.history.append({"status": "queued", "at": round(message.created_at, 3)})
        rt.messages[message.sid] = message
    rt.log.add("sms.queued", message_sid=message.sid, phone=to, body=body, template=params["TemplateCode"],
               **{"from": rt.hotline_number})
    out_id = params.get("OutId", "")
    rt.spawn(f"sms-{message.sid}", _deliver, rt, setup, message, out_id, script.undeliverable, script.sms_reply,
             script.sms_reply_after)
    return {"Code": "OK", "Message": "OK", "BizId": message.sid, "RequestId": secrets.token_hex(8)}


def _deliver(rt: Runtime, setup: AliyunSetup, message: Message, out_id: str, undeliverable: bool,
             reply: str | None, reply_after: float) -> None:
    rt.wait(lambda: False, rt.sms_delivery_delay)
    if rt.halted():
        return
    delivered = not undeliverable
    with rt.cond:
        message.status = "delivered" if delivered else "undelivered"
        message.history.append({"status": message.status, "at": round(rt.clock.now(), 3)})
        phone = rt.phone(message.to)
        answer = None
        if delivered:
            phone.inbox.append({"sid": message.sid, "from": message.from_, "body": message.body,
                                "at": round(rt.clock.now(), 3), "time": iso_now(), "status": "delivered"})
            if reply is not None and not phone.replied:
                phone.replied, answer = True, reply
        rt.cond.notify_all()
    if delivered:
        rt.log.add("phone.sms_received", phone=message.to, message_sid=message.sid, body=message.body,
                   **{"from": message.from_})
    rt.log.add("sms.status", message_sid=message.sid, phone=message.to, status=message.status)
    report = {
        "phone_number": domestic(message.to), "send_time": _now(), "report_time": _now(),
        "success": delivered, "err_code": "DELIVERED" if delivered else "MK:0001",
        "err_msg": "用户接收成功" if delivered else "用户关机", "sms_size": "1", "biz_id": message.sid,
        "out_id": out_id,
    }
    push(rt, setup, "sms-report", [report])
    if answer is not None:
        rt.wait(lambda: False, reply_after)
        if not rt.halted():
            text_the_service(rt, setup, message.to, answer)


# --- SmsUp -----------------------------------------------------------------------


def text_the_service(rt: Runtime, setup: AliyunSetup, number: str, body: str) -> str:
    """A phone texts the service's number: pushed as an ``SmsUp``; returns once the service answered."""
    sid = new_sid("SM")
    with rt.cond:
        rt.phone(number).outbox.append({"sid": sid, "to": rt.hotline_number, "body": body,
                                        "at": round(rt.clock.now(), 3), "time": iso_now(), "status": "received"})
    rt.log.add("phone.sms_sent", phone=number, message_sid=sid, body=body, to=rt.hotline_number)
    up = {
        "phone_number": domestic(number), "content": body, "send_time": _now(), "dest_code": "0000",
        "sequence_id": next(_ids), "sign_name": setup.sign_name,
    }
    push(rt, setup, "sms-up", [up], retry_in_background=True)
    return sid


# --- IvrCall ---------------------------------------------------------------------


@dataclass(frozen=True)
class IvrRequest:
    """An accepted ``IvrCall`` or voice notice: what to play first, what each key answers, and the ``OutId`` to echo."""

    start: str
    menu: Mapping[str, str]
    out_id: str
    play_times: int
    timeout: float
    keys: bool = True  # False for a voice notice (SingleCallByTts): read out, no key taken


def ivr_call(rt: Runtime, setup: AliyunSetup, params: Mapping[str, str]) -> dict[str, Any]:
    """Accept an ``IvrCall``: the phone rings per its script, hears the prompt and presses its key.

    Raises:
        AliyunRefusal: A parameter is missing, the number is not a mainland
            one, or it was called less than a minute ago
            (``isv.BUSINESS_LIMIT_CONTROL``, as Aliyun refuses it).
    """
    _required(params, "CalledNumber", "CalledShowNumber", "StartCode")
    number = _number(params, "CalledNumber")
    start_values = _values(params.get("StartTtsParams"), "StartTtsParams")
    menu: dict[str, str] = {}
    for name, key in params.items():
        if match := re.fullmatch(r"MenuKeyMap\.(\d+)\.Key", name):
            index = match.group(1)
            reply = _values(params.get(f"MenuKeyMap.{index}.TtsParams"), name)
            menu[key] = words(setup, params.get(f"MenuKeyMap.{index}.Code", ""), reply)
    request = IvrRequest(
        start=words(setup, params["StartCode"], start_values), menu=menu, out_id=params.get("OutId", ""),
        play_times=max(1, min(int(params.get("PlayTimes") or 1), 3)),
        timeout=max(1.0, int(params.get("Timeout") or 10_000) / 1000),
    )
    return _place(rt, setup, number, params.get("CalledShowNumber", ""), request)


def single_call_by_tts(rt: Runtime, setup: AliyunSetup, params: Mapping[str, str]) -> dict[str, Any]:
    """Accept a ``SingleCallByTts`` (a voice notice): the phone rings per its script and hears the notice.

    Raises:
        AliyunRefusal: A parameter is missing, the number is not a mainland
            one, or it was called less than a minute ago (by either action).
    """
    _required(params, "CalledNumber", "TtsCode")
    number = _number(params, "CalledNumber")
    values = _values(params.get("TtsParam"), "TtsParam")
    request = IvrRequest(
        start=words(setup, params["TtsCode"], values),
        menu={},
        out_id=params.get("OutId", ""),
        play_times=max(1, min(int(params.get("PlayTimes") or 3), 3)),
        timeout=0.0,
        keys=False,
    )
    return _place(rt, setup, number, params.get("CalledShowNumber") or rt.hotline_number, request)


def _place(rt: Runtime, setup: AliyunSetup, number: str, show_number: str, request: IvrRequest) -> dict[str, Any]:
    """Ring ``number`` for an accepted IvrCall or voice notice, unless it was called less than a minute ago."""
    to = e164(number)
    caller = show_number if show_number.startswith("+") else e164(show_number)
    with rt.cond:
        now = rt.clock.now()
        recent = [rt.calls[sid] for sid in rt.phone(to).call_sids if sid in rt.calls]
        if any(now - call.created_at < CALL_SPACING for call in recent):
            refused = True
        else:
            refused = False
            call = rt.new_call(direction=OUTBOUND_API, from_=caller, to=to, phone=to)
            call.auto_press = None if call.script.voicemail or not request.keys else call.script.press
            call.press_after = call.script.press_after
    if refused:
        rt.log.add("call.refused", phone=to, code="isv.BUSINESS_LIMIT_CONTROL")
        raise AliyunRefusal("isv.BUSINESS_LIMIT_CONTROL", f"{number} was called less than a minute ago")
    rt.spawn(f"ivr-{call.sid[-8:]}", _run_ivr_call, rt, setup, call, request, call=call)
    return {"Code": "OK", "Message": "OK", "CallId": call.sid, "RequestId": secrets.token_hex(8)}


def _run_ivr_call(rt: Runtime, setup: AliyunSetup, call: Call, request: IvrRequest) -> None:
    """Ring, play the prompt, take one key (a voice notice: none); then push the call's record."""
    key = ""
    try:
        outcome = ring(rt, call, ring_seconds=60.0, started=rt.clock.deadline(0))
        if outcome != ANSWERED:
            rt.finish(call, outcome, ended_by="network")
            _report_end(rt, setup, call, request, outcome, key)
            return
        _call_report(rt, setup, call, request, "200102")
        for _ in range(request.play_times):
            rt.record(call, "say", text=request.start)
            if not request.keys:
                rt.sleep(1.0, call=call)  # the notice being read out
                continue
            key = _key(rt, call, request)
            if key:
                break
        if key:
            _call_report(rt, setup, call, request, KEY_PRESS, dtmf=key)
            if key in request.menu:
                rt.record(call, "say", text=request.menu[key])
        rt.finish(call, "completed", ended_by="hotline")
        _report_end(rt, setup, call, request, "completed" if key or not request.keys else "no-key", key)
    except CallGone as gone:
        with rt.cond:
            answered = call.answered
        rt.finish(call, "completed" if answered else (call.stop_status or "canceled"), ended_by=gone.reason)
        _report_end(rt, setup, call, request, "hung-up" if answered else "no-answer", key)


def _key(rt: Runtime, call: Call, request: IvrRequest) -> str:
    """The first key the phone presses while the prompt waits: by its script, or by a person."""
    if call.auto_press and not call.manual:
        rt.sleep(call.press_after, call=call)
        with rt.cond:
            call.digits.append(call.auto_press)
        rt.log.add("phone.pressed", call_sid=call.sid, phone=call.phone, digits=call.auto_press, by="script")
        return call.auto_press[:1]
    rt.wait(lambda: bool(call.keypad), request.timeout, call=call)
    with rt.cond:
        pressed, call.keypad = call.keypad[:1], call.keypad[1:]
    return pressed


def _call_report(rt: Runtime, setup: AliyunSetup, call: Call, request: IvrRequest, code: str,
                 dtmf: str | None = None) -> None:
    item: dict[str, Any] = {"call_id": call.sid, "status_code": code, "status_time": _now(),
                            "out_id": request.out_id}
    if dtmf is not None:
        item["dtmf"] = dtmf
    push(rt, setup, "voice-report", [item])


def _report_end(rt: Runtime, setup: AliyunSetup, call: Call, request: IvrRequest, how: str, key: str) -> None:
    push(rt, setup, "voice-report", [{
        "call_id": call.sid, "status_code": ENDED[how], "status_msg": how, "out_id": request.out_id,
        "callee": domestic(call.to), "caller": domestic(call.from_), "dtmf": key, "duration": str(call.duration()),
        "start_time": _now(), "end_time": _now(), "hangup_direction": "用户", "voice_type": "voice",
    }])


# --- pushing receipts --------------------------------------------------------------


def push(rt: Runtime, setup: AliyunSetup, kind: str, batch: list[dict[str, Any]], *,
         retry_in_background: bool = False) -> bool:
    """POST one batch of receipts to the service; pushed again later until it answers ``{"code": 0}``.

    Returns:
        True when the service took it the first time.
    """
    if _post(rt, setup, kind, batch):
        return True
    if retry_in_background:
        rt.spawn(f"push-{kind}", _retry, rt, setup, kind, batch)
    else:
        _retry(rt, setup, kind, batch)
    return False


def _retry(rt: Runtime, setup: AliyunSetup, kind: str, batch: list[dict[str, Any]]) -> None:
    for wait in RETRY_AFTER:
        rt.wait(lambda: False, wait)
        if rt.halted() or _post(rt, setup, kind, batch):
            return


def _post(rt: Runtime, setup: AliyunSetup, kind: str, batch: list[dict[str, Any]]) -> bool:
    if rt.halted():
        return False
    url = f"{setup.receipts_url.rstrip('/')}/{kind}"
    status: int | None = None
    error: str | None = None
    taken = False
    try:
        response = requests.post(url, json=batch, timeout=rt.webhook_timeout, allow_redirects=False)
        status = response.status_code
        try:
            taken = status == 200 and response.json().get("code") == 0
        except ValueError:
            taken = False
    except requests.RequestException as exc:
        error = str(exc)
    rt.log.add("webhook", webhook=f"aliyun-{kind}", url=url, method="POST", http_status=status, ok=taken,
               error=error, receipts=batch)
    return taken
