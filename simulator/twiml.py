"""Parse TwiML voice documents into plain verb objects.

Only parsing lives here; :mod:`simulator.interpreter` runs the verbs.
URLs in attributes and in ``<Redirect>`` are resolved against the URL of the
document that contained them, as Twilio does.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urljoin

MAX_DIAL_NUMBERS = 10  # Twilio rings at most ten <Number> nouns in one <Dial>
CALL_EVENTS = frozenset({"initiated", "ringing", "answered", "completed"})
CONFERENCE_EVENTS = frozenset({"start", "end", "join", "leave", "mute", "hold", "modify", "speaker", "announcement"})


class TwimlError(ValueError):
    """A document is not TwiML the simulator can run (Twilio's error 12100)."""

    code = 12100


@dataclass(frozen=True)
class Say:
    text: str
    language: str | None = None
    voice: str | None = None
    loop: int = 1


@dataclass(frozen=True)
class Play:
    url: str
    loop: int = 1


@dataclass(frozen=True)
class Pause:
    length: float = 1.0


@dataclass(frozen=True)
class Gather:
    action: str
    method: str = "POST"
    num_digits: int | None = None
    timeout: float = 5.0
    finish_on_key: str = "#"
    action_on_empty_result: bool = False
    prompts: tuple[Say | Play | Pause, ...] = ()


@dataclass(frozen=True)
class Number:
    number: str
    url: str | None = None
    method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: frozenset[str] = frozenset({"completed"})


@dataclass(frozen=True)
class Conference:
    name: str
    start_conference_on_enter: bool = True
    end_conference_on_exit: bool = False
    wait_url: str | None = None
    wait_method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: frozenset[str] = frozenset({"start", "end"})


@dataclass(frozen=True)
class Dial:
    numbers: tuple[Number, ...] = ()
    conference: Conference | None = None
    action: str | None = None
    method: str = "POST"
    timeout: float = 30.0
    time_limit: float = 14400.0
    caller_id: str | None = None
    answer_on_bridge: bool = False
    unsupported: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Redirect:
    url: str
    method: str = "POST"


@dataclass(frozen=True)
class Reject:
    reason: str = "rejected"


@dataclass(frozen=True)
class Message:
    """``<Message>`` in a messaging response: text the sender receives back."""

    body: str
    to: str | None = None


@dataclass(frozen=True)
class Unsupported:
    name: str


Verb = Say | Play | Pause | Gather | Dial | Hangup | Redirect | Reject | Message | Unsupported


@dataclass(frozen=True)
class Document:
    """A parsed ``<Response>`` and the URL it was fetched from."""

    url: str
    verbs: tuple[Verb, ...] = field(default_factory=tuple)


def parse_twiml(text: str, url: str) -> Document:
    """Parse a TwiML ``<Response>`` fetched from ``url``.

    Raises:
        TwimlError: The text is not well-formed XML, its root is not
            ``<Response>``, or a ``<Dial>`` holds more than ten ``<Number>``
            nouns; Twilio would play an application error then, and ring
            nobody from that document.
    """
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        raise TwimlError(f"document from {url} is not XML: {exc}") from exc
    if root.tag != "Response":
        raise TwimlError(f"document from {url} has root <{root.tag}>, expected <Response>")
    return Document(url=url, verbs=tuple(_verb(el, url) for el in root))


def _verb(el: ET.Element, base: str) -> Verb:
    tag = el.tag
    if tag == "Say":
        return _say(el)
    if tag == "Play":
        return Play(url=urljoin(base, _text(el)), loop=_int(el.get("loop"), 1))
    if tag == "Pause":
        return Pause(length=_float(el.get("length"), 1.0))
    if tag == "Gather":
        return _gather(el, base)
    if tag == "Dial":
        return _dial(el, base)
    if tag == "Hangup":
        return Hangup()
    if tag == "Redirect":
        return Redirect(url=urljoin(base, _text(el)) if _text(el) else base, method=_method(el.get("method")))
    if tag == "Reject":
        return Reject(reason=el.get("reason") or "rejected")
    if tag == "Message":
        body_el = el.find("Body")
        body = _text(body_el) if body_el is not None else _text(el)
        return Message(body=body, to=el.get("to") or None)
    return Unsupported(name=tag)


def _say(el: ET.Element) -> Say:
    return Say(text=_text(el), language=el.get("language"), voice=el.get("voice"), loop=_int(el.get("loop"), 1))


def _gather(el: ET.Element, base: str) -> Gather:
    prompts: list[Say | Play | Pause] = []
    for child in el:
        verb = _verb(child, base)
        if isinstance(verb, (Say, Play, Pause)):
            prompts.append(verb)
    return Gather(
        # A Gather without action posts back to the document that contained it.
        action=urljoin(base, el.get("action")) if el.get("action") else base,
        method=_method(el.get("method")),
        num_digits=_int(el.get("numDigits"), 0) or None,
        timeout=_float(el.get("timeout"), 5.0),
        finish_on_key=el.get("finishOnKey", "#"),
        action_on_empty_result=_bool(el.get("actionOnEmptyResult"), False),
        prompts=tuple(prompts),
    )


def _dial(el: ET.Element, base: str) -> Dial:
    numbers: list[Number] = []
    conference: Conference | None = None
    unsupported: list[str] = []
    for child in el:
        if child.tag == "Number":
            numbers.append(
                Number(
                    number=_text(child),
                    url=_url(base, child.get("url")),
                    method=_method(child.get("method")),
                    status_callback=_url(base, child.get("statusCallback")),
                    status_callback_method=_method(child.get("statusCallbackMethod")),
                    # The final status is always reported, whatever else was asked for.
                    status_callback_events=_events(child.get("statusCallbackEvent"), CALL_EVENTS, {"completed"})
                    | {"completed"},
                )
            )
        elif child.tag == "Conference":
            conference = Conference(
                name=_text(child),
                start_conference_on_enter=_bool(child.get("startConferenceOnEnter"), True),
                end_conference_on_exit=_bool(child.get("endConferenceOnExit"), False),
                wait_url=_url(base, child.get("waitUrl")),
                wait_method=_method(child.get("waitMethod")),
                status_callback=_url(base, child.get("statusCallback")),
                status_callback_method=_method(child.get("statusCallbackMethod")),
                status_callback_events=_events(child.get("statusCallbackEvent"), CONFERENCE_EVENTS, {"start", "end"}),
            )
        else:
            unsupported.append(child.tag)
    if len(numbers) > MAX_DIAL_NUMBERS:
        # Refused as a whole rather than cut short: silently dropping numbers
        # would hide from hotline that some members were never rung.
        raise TwimlError(
            f"<Dial> in the document from {base} has {len(numbers)} <Number> nouns; at most {MAX_DIAL_NUMBERS}"
        )
    text = (el.text or "").strip()
    if text and not numbers and conference is None:
        numbers.append(Number(number=text))
    return Dial(
        numbers=tuple(numbers),
        conference=conference,
        action=_url(base, el.get("action")),
        method=_method(el.get("method")),
        timeout=_float(el.get("timeout"), 30.0),
        time_limit=_float(el.get("timeLimit"), 14400.0),
        caller_id=el.get("callerId") or None,
        answer_on_bridge=_bool(el.get("answerOnBridge"), False),
        unsupported=tuple(unsupported),
    )


def _text(el: ET.Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def _url(base: str, value: str | None) -> str | None:
    return urljoin(base, value) if value else None


def _method(value: str | None) -> str:
    return "GET" if (value or "").strip().upper() == "GET" else "POST"


def _bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() == "true"


def _int(value: str | None, default: int) -> int:
    try:
        return int(float(value)) if value is not None else default
    except ValueError:
        return default


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def _events(value: str | None, allowed: frozenset[str], default: set[str]) -> frozenset[str]:
    if not value:
        return frozenset(default)
    names = {part.strip().lower() for part in value.replace(",", " ").split()}
    return frozenset(names & allowed) or frozenset(default)
