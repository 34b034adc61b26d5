"""A mock of Aliyun's Dysms (SendSms) and Dyvms (IvrCall, SingleCallByTts) APIs, and of the receipts Aliyun pushes back.

The mock is the project's own and shares nothing with Aliyun's SDK: it checks
every request's V3 signature (ACS3-HMAC-SHA256: a canonical request of the
method, path, sorted RFC 3986 query, signed headers and body hash, signed
with HMAC-SHA256 under the AccessKey secret), its parameters against the
API's description (required fields, number formats, registered template
codes and their variables, variable lengths, OutId length), and Aliyun's
per-number voice limit (one call a minute). What it accepted is recorded;
receipts are built as Aliyun writes them and held back, to be pushed late,
out of order and twice.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit

ALGORITHM = "ACS3-HMAC-SHA256"
VERSION = "2017-05-25"
MOBILE = re.compile(r"1[3-9][0-9]{9}")
LANDLINE = re.compile(r"0[1-9][0-9]{8,10}")
REQUIRED_SIGNED = {
    "host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version",
}


def _encode(text: str) -> str:
    """RFC 3986 percent-encoding, as Aliyun's canonical query wants it."""
    return quote(text, safe="-_.~")


def canonical_query(raw: str) -> str:
    """The query's pairs decoded, re-encoded and sorted by name."""
    pairs = []
    for part in raw.split("&") if raw else []:
        name, _, value = part.partition("=")
        pairs.append((_encode(unquote_plus(name)), _encode(unquote_plus(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def expected_signature(secret: str, method: str, path: str, query: str, headers: dict[str, str],
                       signed: list[str], body: bytes) -> str:
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    canonical = "\n".join([
        method, path or "/", canonical_query(query), canonical_headers, ";".join(signed),
        hashlib.sha256(body).hexdigest(),
    ])
    to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def _form(text: str) -> dict[str, str]:
    """Form-encoded pairs, decoded."""
    return {unquote_plus(k): unquote_plus(v) for k, _, v in (p.partition("=") for p in text.split("&") if p)}


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Sent:
    """One request the mock accepted."""

    action: str
    params: dict[str, str]
    id: str
    at: float

    @property
    def number(self) -> str:
        return self.params.get("PhoneNumbers") or self.params["CalledNumber"]

    @property
    def out_id(self) -> str:
        return self.params.get("OutId", "")

    def template_params(self, name: str = "TemplateParam") -> dict[str, str]:
        return json.loads(self.params.get(name) or "{}")


@dataclass
class AliyunMock:
    """The mock's state: credentials, registered templates, what was sent, receipts not yet pushed."""

    access_key_id: str
    access_key_secret: str
    sign_name: str
    caller_number: str
    templates: dict[str, tuple[str, ...]] = field(default_factory=dict)  # code -> variable names
    limits: dict[str, int] = field(default_factory=lambda: {"sms": 35, "voice": 20})
    sms: list[Sent] = field(default_factory=list)
    calls: list[Sent] = field(default_factory=list)
    refusals: list[tuple[str, str]] = field(default_factory=list)  # (action, code) of every refused request
    scripted: list[str] = field(default_factory=list)  # codes to answer the next requests with
    url: str = ""
    _nonces: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))

    def register(self, templates_toml: str) -> None:
        """Register every template of a templates file, as a station does in Aliyun's console."""
        data = tomllib.loads(templates_toml)
        self.limits.update(data.get("limits", {}))
        for key, entry in data.items():
            if key != "limits":
                self.templates[entry["code"]] = tuple(entry.get("params", ()))

    # --- the API ---

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        request_id = f"MOCK-{next(self._ids)}"
        try:
            action, params = self._verify(method, target, headers, body)
            with self._lock:
                if self.scripted:
                    code = self.scripted.pop(0)
                    self.refusals.append((action, code))
                    return 200, {"Code": code, "Message": "scripted", "RequestId": request_id}
                if action == "SendSms":
                    return 200, self._send_sms(params, request_id)
                if action == "IvrCall":
                    return 200, self._ivr_call(params, request_id)
                if action == "SingleCallByTts":
                    return 200, self._single_call_by_tts(params, request_id)
            raise Refused(404, "InvalidAction.NotFound", f"no action {action}")
        except Refused as refused:
            with self._lock:
                self.refusals.append((headers.get("x-acs-action", "?"), refused.code))
            return refused.status, {"Code": refused.code, "Message": refused.message, "RequestId": request_id}

    def _verify(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[str, dict[str, str]]:
        auth = headers.get("authorization", "")
        match = re.fullmatch(rf"{ALGORITHM} Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]+)", auth)
        if not match:
            raise Refused(400, "MissingAuthorization", "no ACS3-HMAC-SHA256 Authorization header")
        key_id, signed_text, signature = match.groups()
        signed = signed_text.split(";")
        if key_id != self.access_key_id:
            raise Refused(404, "InvalidAccessKeyId.NotFound", "unknown AccessKey ID")
        if signed != sorted(signed) or not REQUIRED_SIGNED <= set(signed):
            raise Refused(400, "IncompleteSignature", f"signed headers {signed_text}")
        if headers.get("x-acs-content-sha256") != hashlib.sha256(body).hexdigest():
            raise Refused(400, "IncompleteSignature", "body hash does not match")
        parts = urlsplit(target)
        wanted = expected_signature(self.access_key_secret, method, parts.path, parts.query, headers, signed, body)
        if not hmac.compare_digest(wanted, signature):
            raise Refused(403, "SignatureDoesNotMatch", "the signature does not match")
        stamp = datetime.strptime(headers["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs((datetime.now(UTC) - stamp).total_seconds()) > 900:
            raise Refused(400, "InvalidTimeStamp.Expired", "x-acs-date is more than 15 minutes off")
        with self._lock:
            nonce = headers["x-acs-signature-nonce"]
            if nonce in self._nonces:
                raise Refused(400, "SignatureNonceUsed", "nonce used before")
            self._nonces.add(nonce)
        if headers.get("x-acs-version") != VERSION:
            raise Refused(400, "InvalidVersion", "version must be 2017-05-25")
        params = _form(parts.query)
        params.update(_form(body.decode()))
        return headers["x-acs-action"], params

    def _template(self, params: dict[str, str], code_field: str, values_field: str, kind: str) -> None:
        code = params.get(code_field, "")
        if code not in self.templates:
            raise Refused(200, "isv.SMS_TEMPLATE_ILLEGAL" if kind == "sms" else "isv.TTS_TEMPLATE_ILLEGAL",
                          f"{code_field} {code!r} is not registered")
        raw = params.get(values_field)
        values = {} if raw is None else json.loads(raw)
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise Refused(200, "isv.INVALID_JSON_PARAM", f"{values_field} must be a JSON object of strings")
        if set(values) != set(self.templates[code]):
            raise Refused(200, "isv.TEMPLATE_MISSING_PARAMETERS", f"{values_field} {sorted(values)} for {code}")
        for name, value in values.items():
            if len(value) > self.limits[kind]:
                raise Refused(200, "isv.PARAM_LENGTH_LIMIT", f"{name} is {len(value)} characters")

    def _send_sms(self, params: dict[str, str], request_id: str) -> dict[str, Any]:
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not params.get(name):
                raise Refused(400, "MissingParameter", f"{name} is required")
        if not MOBILE.fullmatch(params["PhoneNumbers"]):
            return {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "invalid number", "RequestId": request_id}
        if params["SignName"] != self.sign_name:
            raise Refused(200, "isv.SMS_SIGNATURE_ILLEGAL", "sign name not registered")
        self._template(params, "TemplateCode", "TemplateParam", "sms")
        if len(params.get("OutId", "")) > 256:
            raise Refused(400, "InvalidParameter", "OutId longer than 256")
        sent = Sent("SendSms", params, f"{next(self._ids)}^0", time.time())
        self.sms.append(sent)
        return {"Code": "OK", "Message": "OK", "BizId": sent.id, "RequestId": request_id}

    def _ivr_call(self, params: dict[str, str], request_id: str) -> dict[str, Any]:
        for name in ("CalledNumber", "CalledShowNumber", "StartCode"):
            if not params.get(name):
                raise Refused(400, "MissingParameter", f"{name} is required")
        number = params["CalledNumber"]
        if not (MOBILE.fullmatch(number) or LANDLINE.fullmatch(number)):
            return {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "invalid number", "RequestId": request_id}
        if params["CalledShowNumber"] != self.caller_number:
            raise Refused(200, "isv.DISPLAY_NUMBER_ILLEGAL", "calling number not bought")
        self._template(params, "StartCode", "StartTtsParams", "voice")
        out_id = params.get("OutId", "")
        if not 1 <= len(out_id.encode()) <= 15:
            raise Refused(400, "InvalidParameter", "OutId must be 1 to 15 bytes")
        if not 1 <= int(params.get("PlayTimes", "1")) <= 3:
            raise Refused(400, "InvalidParameter", "PlayTimes must be 1 to 3")
        keys = sorted({m.group(1) for name in params if (m := re.fullmatch(r"MenuKeyMap\.(\d+)\.Key", name))})
        for index in keys:
            menu = {
                "Code": params.get(f"MenuKeyMap.{index}.Code", ""),
                "TtsParams": params.get(f"MenuKeyMap.{index}.TtsParams"),
            }
            self._template(menu, "Code", "TtsParams", "voice")
        return self._place("IvrCall", params, request_id)

    def _single_call_by_tts(self, params: dict[str, str], request_id: str) -> dict[str, Any]:
        """A voice notice: ``TtsCode`` read out ``PlayTimes`` times, no keys.

        ``CalledShowNumber`` may be left out in Aliyun's common mode; given, it must be a number bought.
        """
        for name in ("CalledNumber", "TtsCode"):
            if not params.get(name):
                raise Refused(400, "MissingParameter", f"{name} is required")
        number = params["CalledNumber"]
        if not (MOBILE.fullmatch(number) or LANDLINE.fullmatch(number)):
            return {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "invalid number", "RequestId": request_id}
        if "CalledShowNumber" in params and params["CalledShowNumber"] != self.caller_number:
            raise Refused(200, "isv.DISPLAY_NUMBER_ILLEGAL", "calling number not bought")
        self._template(params, "TtsCode", "TtsParam", "voice")
        if "OutId" in params and not 1 <= len(params["OutId"].encode()) <= 15:
            raise Refused(400, "InvalidParameter", "OutId must be 1 to 15 bytes")
        for name, low, high in (("PlayTimes", 1, 3), ("Volume", 0, 100), ("Speed", -500, 500)):
            if name in params and not (re.fullmatch(r"-?\d+", params[name]) and low <= int(params[name]) <= high):
                raise Refused(400, "InvalidParameter", f"{name} must be {low} to {high}")
        return self._place("SingleCallByTts", params, request_id)

    def _place(self, action: str, params: dict[str, str], request_id: str) -> dict[str, Any]:
        """Accept a call, unless its number was called (by either action) less than a minute ago."""
        number = params["CalledNumber"]
        now = time.time()
        if any(c.number == number and now - c.at < 60 for c in self.calls):
            # Aliyun's per-number limit: one call a minute. Counted, and refused.
            self.refusals.append((action, "isv.BUSINESS_LIMIT_CONTROL"))
            return {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "frequency limit", "RequestId": request_id}
        sent = Sent(action, params, f"{next(self._ids)}^{next(self._ids)}", now)
        self.calls.append(sent)
        return {"Code": "OK", "Message": "OK", "CallId": sent.id, "RequestId": request_id}

    def key_map(self, call: Sent) -> dict[str, str]:
        """The key -> TTS code map a call was placed with."""
        return {
            call.params[name]: call.params[name[: -len("Key")] + "Code"]
            for name in call.params
            if re.fullmatch(r"MenuKeyMap\.\d+\.Key", name)
        }

    # --- receipts, as Aliyun writes them ---

    @staticmethod
    def _now() -> str:
        return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")

    def call_report(self, call: Sent, status_code: str, dtmf: str | None = None) -> dict[str, Any]:
        """A VoiceCallReport for ``call``: a key press is ``300000`` with ``dtmf``."""
        item: dict[str, Any] = {
            "call_id": call.id, "status_code": status_code, "status_time": self._now(), "out_id": call.out_id,
        }
        if dtmf is not None:
            item["dtmf"] = dtmf
        return item

    def voice_report(self, call: Sent, status_code: str = "200000", dtmf: str = "") -> dict[str, Any]:
        """A VoiceReport (the call's record at its end), for an IvrCall or a voice notice (SingleCallByTts)."""
        return {
            "call_id": call.id, "status_code": status_code, "status_msg": "执行完成", "out_id": call.out_id,
            "callee": call.number, "caller": self.caller_number, "dtmf": dtmf, "duration": "12",
            "start_time": self._now(), "end_time": self._now(), "hangup_direction": "用户", "voice_type": "voice",
        }

    def sms_report(self, sms: Sent, success: bool = True, err_code: str = "DELIVERED", err_msg: str = "用户接收成功"):
        """An SmsReport for ``sms``."""
        return {
            "phone_number": sms.number, "send_time": self._now(), "report_time": self._now(), "success": success,
            "err_code": err_code, "err_msg": err_msg, "sms_size": "1", "biz_id": sms.id, "out_id": sms.out_id,
        }

    def sms_up(self, number: str, content: str, sequence_id: int) -> dict[str, Any]:
        """An SmsUp: a text to the service's number."""
        return {
            "phone_number": number, "content": content, "send_time": self._now(), "dest_code": "1234",
            "sequence_id": sequence_id, "sign_name": self.sign_name,
        }

    @staticmethod
    def push(post: Callable[[list[dict[str, Any]]], Any], receipts: list[dict[str, Any]], *,
             twice: bool = True, late: bool = True) -> list[Any]:
        """Push ``receipts`` as Aliyun does: in batches, the later ones first, and everything once more."""
        batches = [[receipt] for receipt in (reversed(receipts) if late else receipts)]
        answers = [post(batch) for batch in batches]
        if twice:
            answers += [post(receipts)]
        return answers


class _Handler(BaseHTTPRequestHandler):
    mock: AliyunMock

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, answer = self.mock.handle("POST", self.path, headers, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def running(mock: AliyunMock) -> Iterator[AliyunMock]:
    """Serve ``mock`` on 127.0.0.1 on a free port; ``mock.url`` says where."""
    handler = type("Handler", (_Handler,), {"mock": mock})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    mock.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield mock
    finally:
        server.shutdown()
        server.server_close()
