"""Reading what a webhook carries: anything missing or malformed is a 400."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TypeVar

from flask import abort, request

from hotline.carriers.webhook_events import BadWebhook

log = logging.getLogger(__name__)

T = TypeVar("T")

# Row ids are 32-bit integers in PostgreSQL; a bigger one is not ours, and would fail the query.
_ID = re.compile(r"[0-9]{1,10}")
MAX_ID = 2**31 - 1


def _reject(reason: str) -> None:
    log.warning("bad webhook to %s: %s (params: %s)", request.path, reason, sorted(request.form.keys()))
    abort(400, description=reason)


def parsed(parse: Callable[..., T]) -> T:
    """``parse(request.form)`` with the carrier's parser; aborts with 400 on a malformed webhook."""
    try:
        return parse(request.form)
    except BadWebhook as exc:
        _reject(str(exc))
        raise  # unreachable: abort raised


def query_id(name: str) -> int:
    """A positive integer id from the query string (the project's own callback URLs)."""
    raw = request.args.get(name, "")
    # str.isdigit() also accepts digits such as "²" that int() refuses.
    if not _ID.fullmatch(raw) or int(raw) > MAX_ID:
        _reject(f"missing or malformed {name}")
    return int(raw)
