"""TwiML documents, built with twilio's own ``VoiceResponse`` (pure functions)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from config.settings import Settings
from config.templates import render
from hotline.carriers.twilio.callbacks import Callbacks
from hotline.carriers.twilio.voices import say_voice

# Each leg reports these, so the timeline shows rung, ringing, answered, ended.
LEG_EVENTS = "initiated ringing answered completed"
# Seconds a screened member has to press 1 before the leg is hung up.
SCREEN_TIMEOUT = 8
# The most <Number>s Twilio dials at once from one <Dial> (the carrier's max_ring_group).
MAX_DIAL_NUMBERS = 10

log = logging.getLogger(__name__)


def say(response: VoiceResponse | Gather, settings: Settings, text: str) -> None:
    """Speak ``text`` in the configured voice, naming the language that voice speaks."""
    voice, language = say_voice(settings)
    response.say(text, voice=voice, language=language)


def ring_all(
    settings: Settings,
    *,
    greeting: str,
    legs: Sequence[tuple[str, int]],
    action: str,
    caller_id: str | None = None,
    cancel: CancelHint | None = None,
) -> VoiceResponse:
    """Greet the caller, then ring every ``(phone, notification_id)`` at once.

    Each ``<Number>`` runs the screening page on the answerer's leg before it
    is bridged, so voicemail (which never presses 1) cannot take the call.
    With ``cancel``, the caller may key 9 right after the greeting to cancel a misdial.
    At most :data:`MAX_DIAL_NUMBERS` legs are dialled; callers keep within it
    (the rest are called separately), and any beyond it are left out.
    """
    if len(legs) > MAX_DIAL_NUMBERS:
        log.error("%d legs for one <Dial>; dialling the first %d", len(legs), MAX_DIAL_NUMBERS)
        legs = legs[:MAX_DIAL_NUMBERS]
    response = VoiceResponse()
    say(response, settings, greeting)
    if cancel is not None:
        _offer_cancel(response, settings, cancel)
    dial = Dial(action=action, method="POST", timeout=settings.ring_timeout, caller_id=caller_id)
    callbacks = Callbacks(settings.public_url)
    for phone, notification_id in legs:
        dial.number(
            phone,
            url=callbacks.call_flow(notification_id),
            method="POST",
            status_callback=callbacks.call_status(notification_id),
            status_callback_event=LEG_EVENTS,
            status_callback_method="POST",
        )
    response.append(dial)
    return response


@dataclass(frozen=True)
class CancelHint:
    """A short prompt after the greeting, and where a key pressed during it is posted."""

    text: str
    action: str
    seconds: int = 1


def _offer_cancel(response: VoiceResponse, settings: Settings, cancel: CancelHint) -> None:
    # With no key, Twilio goes on to the next verb: ringing starts after a second.
    gather = response.gather(num_digits=1, timeout=cancel.seconds, action=cancel.action, method="POST")
    say(gather, settings, cancel.text)


def waiting(settings: Settings, text: str, pause: int = 10) -> VoiceResponse:
    """A conference wait page: the caller's status, then a pause before it is fetched again."""
    response = VoiceResponse()
    say(response, settings, text)
    response.pause(length=pause)
    return response


def screen(settings: Settings, prompt: str, notification_id: int) -> VoiceResponse:
    """The page a rung member hears: who needs help and where; press 1 to accept."""
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1,
        timeout=SCREEN_TIMEOUT,
        action=Callbacks(settings.public_url).key_pressed(notification_id),
        method="POST",
    )
    say(gather, settings, prompt)
    say(gather, settings, prompt)
    response.hangup()
    return response


def join_conference(
    settings: Settings,
    name: str,
    *,
    text: str | None = None,
    caller: bool = False,
    wait_url: str | None = None,
    cancel: CancelHint | None = None,
) -> VoiceResponse:
    """Put this leg in the incident's conference; the caller's leaving ends it.

    With ``wait_url`` the leg waits, hearing that page (fetched again and
    again), until a member joins and starts the conference.
    """
    response = VoiceResponse()
    if text:
        say(response, settings, text)
    if cancel is not None:
        _offer_cancel(response, settings, cancel)
    dial = Dial()
    options: dict[str, str] = {"wait_url": wait_url, "wait_method": "POST"} if wait_url else {}
    dial.conference(
        name,
        start_conference_on_enter=wait_url is None,
        end_conference_on_exit=caller,
        beep=False,
        **options,
    )
    response.append(dial)
    return response


def say_and_hangup(settings: Settings, text: str) -> VoiceResponse:
    response = VoiceResponse()
    say(response, settings, text)
    response.hangup()
    return response


def say_only(settings: Settings, text: str) -> VoiceResponse:
    """Speak, then end the document: on a screened leg, this bridges the call."""
    response = VoiceResponse()
    say(response, settings, text)
    return response


def transfer(
    settings: Settings, text: str, phone: str, *, action: str | None = None, unanswered: str | None = None,
) -> VoiceResponse:
    """Tell the caller where they are being put through, then dial that number.

    Without an ``action``, the caller hears ``unanswered`` when the number
    does not answer, and the call ends; unless given, that is
    ``voice_nobody_call_110``, which promises nothing of the station (only
    whoever knows the station will be called may say it has the alert).
    """
    response = VoiceResponse()
    say(response, settings, text)
    dial = Dial(timeout=settings.ring_timeout, action=action, method="POST" if action else None)
    dial.number(phone)
    response.append(dial)
    if action is None:
        say(response, settings, unanswered or render(settings.language, "voice_nobody_call_110"))
    return response


def hangup() -> VoiceResponse:
    response = VoiceResponse()
    response.hangup()
    return response


def empty_messaging_reply() -> str:
    """The answer to an inbound SMS: nothing sent back here (replies go through the outbox)."""
    return str(MessagingResponse())
