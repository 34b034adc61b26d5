"""Absolute URLs that the carrier will call back.

Built from ``HOTLINE_PUBLIC_URL`` rather than the request, so that workers
(which have no request) and webhooks behind a TLS-terminating proxy produce
the same URLs that signatures are later checked against.
"""

from __future__ import annotations

from urllib.parse import urlencode

from config.settings import Settings


def callback_url(settings: Settings, path: str, **params: int | str) -> str:
    """:func:`public_url_for` under ``HOTLINE_PUBLIC_URL``."""
    return public_url_for(settings.public_url, path, **params)


def public_url_for(public_url: str, path: str, **params: int | str) -> str:
    """``{public_url}{path}?{params}`` with the parameters in a stable order."""
    query = urlencode(sorted((key, str(value)) for key, value in params.items()))
    return f"{public_url}{path}" + (f"?{query}" if query else "")
