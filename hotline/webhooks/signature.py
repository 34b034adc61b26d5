"""Only signed webhooks reach a handler: the carrier's dialect says what signed means."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import abort, request

from hotline.carriers.twilio.webhooks import is_signed
from hotline.extensions import get_settings

log = logging.getLogger(__name__)


def twilio_signed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Reject with 403, before anything is read or written, unless Twilio's signature is valid.

    The simulator signs the way Twilio does, with its own token.
    """

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        settings = get_settings()
        if not is_signed(request, tokens=settings.auth_tokens, public_url=settings.public_url):
            log.warning("rejected unsigned or forged webhook to %s from %s", request.path, request.remote_addr)
            abort(403)
        return view(*args, **kwargs)

    return checked
