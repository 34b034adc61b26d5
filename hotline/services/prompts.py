"""What a called member hears, chosen when the call is placed.

Twilio fetches a call's prompt from the service when the call is answered;
a carrier that speaks only registered prompts (China's carriers) must be told
at placement which prompt to play, with which values, and what each key
answers. The choice is the same one the screening webhook makes. A spoken
broadcast's call reads its notice out and waits for no key.
"""

from __future__ import annotations

from config.settings import Settings
from hotline.carriers.base import CallPrompt
from hotline.models import Channel, Notification, Purpose
from hotline.services.broadcasts import message_key
from hotline.services.escalation import escalation_prompt
from hotline.services.messages import compose

# A screened member: 1 comes (and hears the caller's number), 2 cannot.
SCREEN_REPLIES = {"1": "voice_screen_ack_only", "2": "voice_goodbye"}
# A caller called back after their call dropped: 1 still needs help, 9 was a misdial.
CALLER_CHECK_REPLIES = {"1": "voice_caller_check_kept", "9": "voice_caller_cancelled"}


def call_prompt(settings: Settings, notification: Notification) -> CallPrompt | None:
    """The prompt of an outbox call: an incident's screening, a spoken broadcast's notice (read out, nothing
    to press), or None for a call that belongs to neither.

    Raises:
        config.templates.TemplateError: A prompt is missing from the language's templates.
    """
    if notification.broadcast_id is not None:
        return CallPrompt(
            template=message_key(notification.template, Channel.CALL), params=dict(notification.template_params or {})
        )
    incident = notification.incident
    if incident is None:
        return None
    if notification.purpose == Purpose.ESCALATION:
        template, values = escalation_prompt(settings, incident, notification)
        replies = SCREEN_REPLIES
    elif notification.purpose == Purpose.CALLER_CHECK:
        template, values, replies = "voice_caller_check", {}, CALLER_CHECK_REPLIES
    else:
        template, values, replies = "voice_screen", {}, SCREEN_REPLIES
    message = compose(settings, incident, template, **values)
    return CallPrompt(template=message.template, params=message.params, replies=replies, drill=incident.is_drill)
