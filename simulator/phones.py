"""Virtual phones and the behaviour scripts that decide how each one acts."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

_KEYPAD = re.compile(r"^[0-9*#]+$")
_HTTP_STATUS_FOR_CODE = {20429: 429, 20500: 500, 20503: 503}


@dataclass(frozen=True)
class Script:
    """How one virtual phone behaves. Times are simulated seconds.

    Attributes:
        answer_after: Seconds of ringing before the phone answers.
        press: Digits keyed at every ``<Gather>`` on this phone's calls; ``None``
            keys nothing.
        press_after: Seconds into a ``<Gather>`` before ``press`` is keyed.
        busy: The phone is busy: calls to it end ``busy`` without ringing.
        ignore: The phone rings until the caller gives up (``no-answer``).
        voicemail: Answers after ``answer_after`` but never keys a digit.
        fail: Calls to it fail at once (``failed``), as an unreachable number does.
        talk_for: Seconds the phone stays on a bridged call or in a conference.
        manual: Calls wait for :meth:`Simulator.answer` / ``press`` / ``hangup`` /
            ``reject`` instead of following the fields above.
        sms_reply: Body the phone texts back once after it receives an SMS.
        sms_reply_after: Seconds between receiving that SMS and replying.
        sms_error: Twilio error code the carrier API answers when asked to text
            this phone (HTTP 429 for 20429, 500/503 for 20500/20503, else 400).
        sms_error_times: Only the first N tries fail; ``None`` means every try.
        call_error: Like ``sms_error``, for calls placed through the carrier API.
        call_error_times: Like ``sms_error_times``, for ``call_error``.
        sms_delay: Seconds the carrier API takes to answer a request to text this
            phone: a slow or overloaded carrier. An SMS it accepts is accepted
            before the wait (its status callbacks may arrive first, as when the
            answer is lost on the way back); a scripted ``sms_error`` is answered
            after it.
        sms_delay_times: Only the first N requests are slow; ``None`` means every one.
        undeliverable: SMS are accepted but end ``undelivered`` (ErrorCode 30003).
    """

    answer_after: float = 2.0
    press: str | None = "1"
    press_after: float = 1.0
    busy: bool = False
    ignore: bool = False
    voicemail: bool = False
    fail: bool = False
    talk_for: float = 5.0
    manual: bool = False
    sms_reply: str | None = None
    sms_reply_after: float = 1.0
    sms_error: int | None = None
    sms_error_times: int | None = None
    call_error: int | None = None
    call_error_times: int | None = None
    sms_delay: float = 0.0
    sms_delay_times: int | None = None
    undeliverable: bool = False

    @classmethod
    def from_fields(cls, **fields: Any) -> Script:
        """Build a script from keyword fields, as sent by tests, the CLI or JSON.

        Raises:
            ValueError: A field name is unknown, a time is negative, or a value
                has the wrong type; a typo would otherwise silently change nothing.
        """
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - set(known))
        if unknown:
            raise ValueError(f"unknown script field(s): {', '.join(unknown)}")
        clean: dict[str, Any] = {}
        for name, value in fields.items():
            clean[name] = _coerce(name, known[name].type, value)
        press = clean.get("press")
        if press is not None and not _KEYPAD.match(press):
            raise ValueError(f"script field press must be keypad keys 0-9 * #, got {press!r}")
        return cls(**clean)

    def to_dict(self) -> dict[str, Any]:
        """The script as a JSON-ready dict."""
        return dataclasses.asdict(self)

    def sms_http_status(self) -> int:
        """HTTP status the carrier API uses when refusing an SMS with ``sms_error``."""
        return http_status_for(self.sms_error)


def http_status_for(code: int | None) -> int:
    """HTTP status that accompanies a scripted Twilio error code."""
    if code is None:
        return 400
    return _HTTP_STATUS_FOR_CODE.get(code, 500 if 500 <= code <= 599 else 400)


def _coerce(name: str, type_name: Any, value: Any) -> Any:
    type_text = str(type_name)
    optional = "None" in type_text
    if value is None:
        if optional:
            return None
        raise ValueError(f"script field {name} may not be null")
    if type_text.startswith("bool"):
        if not isinstance(value, bool):
            raise ValueError(f"script field {name} must be true or false, got {value!r}")
        return value
    if type_text.startswith("float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"script field {name} must be a number, got {value!r}")
        if value < 0:
            raise ValueError(f"script field {name} may not be negative, got {value!r}")
        return float(value)
    if type_text.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"script field {name} must be an integer, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"script field {name} must be a string, got {value!r}")
    return value


DEFAULT_SCRIPT = Script(ignore=True)
"""Phones nobody scripted ring and are not picked up, as happens at night."""


@dataclass(eq=False)
class Phone:
    """One virtual phone's state. Mutated only under the simulator's lock."""

    number: str
    script: Script | None = None
    inbox: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    call_sids: list[str] = field(default_factory=list)
    sms_refusals: int = 0
    sms_delays: int = 0
    call_refusals: int = 0
    replied: bool = False
    opted_out: bool = False

    def effective_script(self, default: Script) -> Script:
        """The phone's own script, or ``default`` when it has none."""
        return self.script if self.script is not None else default
