"""Checking ``X-Twilio-Signature`` on every carrier webhook."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator

from hotline.extensions import get_settings

log = logging.getLogger(__name__)


def signed_url() -> str:
    """The URL the carrier signed: the configured public base plus the path as sent.

    Behind a TLS-terminating proxy ``request.url`` says http://; the carrier
    signed the public https:// URL, so that is what is checked. The query
    string is taken as received, never re-encoded.
    """
    settings = get_settings(current_app)
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        path_and_query = raw
    else:
        path_and_query = quote(request.path)
        if request.query_string:
            path_and_query += "?" + request.query_string.decode("latin-1")
    return settings.public_url + path_and_query


def signature_is_valid(tokens: tuple[str, ...], url: str, params: dict[str, str], signature: str) -> bool:
    """True if any of ``tokens`` (old and new, during a rotation) signed the request."""
    if not signature:
        return False
    return any(RequestValidator(token).validate(url, params, signature) for token in tokens)


def twilio_signed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Reject with 403, before anything is read or written, unless the request is signed."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        settings = get_settings(current_app)
        params = request.form.to_dict(flat=True)
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature_is_valid(settings.auth_tokens, signed_url(), params, signature):
            log.warning("rejected unsigned or forged webhook to %s from %s", request.path, request.remote_addr)
            abort(403)
        return view(*args, **kwargs)

    return checked
