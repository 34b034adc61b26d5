"""TwiML documents, built with twilio's own ``VoiceResponse`` (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, VoiceResponse

from config.settings import Settings
from config.templates import render
from hotline.urls import callback_url

# Each leg reports these, so the timeline shows rung, ringing, answered, ended.
LEG_EVENTS = "initiated ringing answered completed"
# Seconds a screened member has to press 1 before the leg is hung up.
SCREEN_TIMEOUT = 8


def say(response: VoiceResponse, settings: Settings, text: str) -> None:
    response.say(text, language=settings.voice_language)


def ring_all(
    settings: Settings,
    *,
    greeting: str,
    legs: Sequence[tuple[str, int]],
    action: str,
    caller_id: str | None = None,
) -> VoiceResponse:
    """Greet the caller, then ring every ``(phone, notification_id)`` at once.

    Each ``<Number>`` runs the screening page on the answerer's leg before it
    is bridged, so voicemail (which never presses 1) cannot take the call.
    """
    response = VoiceResponse()
    say(response, settings, greeting)
    dial = Dial(action=action, method="POST", timeout=settings.ring_timeout, caller_id=caller_id)
    for phone, notification_id in legs:
        dial.number(
            phone,
            url=callback_url(settings, "/twilio/voice/screen", n=notification_id),
            method="POST",
            status_callback=callback_url(settings, "/twilio/call-status", n=notification_id),
            status_callback_event=LEG_EVENTS,
            status_callback_method="POST",
        )
    response.append(dial)
    return response


def screen(settings: Settings, prompt: str, notification_id: int) -> VoiceResponse:
    """The page a rung member hears: who needs help and where; press 1 to accept."""
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1,
        timeout=SCREEN_TIMEOUT,
        action=callback_url(settings, "/twilio/voice/screen/answer", n=notification_id),
        method="POST",
    )
    gather.say(prompt, language=settings.voice_language)
    gather.say(prompt, language=settings.voice_language)
    response.hangup()
    return response


def join_conference(settings: Settings, name: str, *, text: str | None = None, caller: bool = False) -> VoiceResponse:
    """Put this leg in the incident's conference; the caller's leaving ends it."""
    response = VoiceResponse()
    if text:
        say(response, settings, text)
    dial = Dial()
    dial.conference(
        name,
        start_conference_on_enter=True,
        end_conference_on_exit=caller,
        beep=False,
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


def transfer(settings: Settings, text: str, phone: str, *, action: str | None = None) -> VoiceResponse:
    """Tell the caller where they are being put through, then dial that number."""
    response = VoiceResponse()
    say(response, settings, text)
    dial = Dial(timeout=settings.ring_timeout, action=action, method="POST" if action else None)
    dial.number(phone)
    response.append(dial)
    if action is None:
        say(response, settings, render(settings.language, "voice_nobody"))
    return response


def hangup() -> VoiceResponse:
    response = VoiceResponse()
    response.hangup()
    return response


def empty_messaging_reply() -> str:
    """The answer to an inbound SMS: nothing sent back here (replies go through the outbox)."""
    return str(MessagingResponse())
