"""Reading carrier parameters: anything missing or malformed is a 400."""

from __future__ import annotations

import logging
import re

from flask import abort, request

log = logging.getLogger(__name__)

# Matched whole (fullmatch): "$" alone would let a trailing newline through.
CALL_SID = re.compile(r"CA[0-9a-f]{32}")
MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-f]{32}")
PHONE = re.compile(r"[+0-9A-Za-z:_.-]{1,64}")
DIGITS = re.compile(r"[0-9*#]{0,20}")
STATUS = re.compile(r"[a-z-]{3,20}")
# Row ids are 32-bit integers in PostgreSQL; a bigger one is not ours, and would fail the query.
_ID = re.compile(r"[0-9]{1,10}")
MAX_ID = 2**31 - 1


def _reject(reason: str) -> None:
    log.warning("bad webhook to %s: %s (params: %s)", request.path, reason, sorted(request.form.keys()))
    abort(400, description=reason)


def form(name: str, pattern: re.Pattern[str], *, required: bool = True) -> str:
    """A POST parameter matching ``pattern``; aborts with 400 otherwise."""
    value = request.form.get(name, "")
    if not value:
        if required:
            _reject(f"missing {name}")
        return ""
    if not pattern.fullmatch(value):
        _reject(f"malformed {name}")
    return value


def query_id(name: str) -> int:
    """A positive integer id from the query string (our own callback URLs)."""
    raw = request.args.get(name, "")
    # str.isdigit() also accepts digits such as "²" that int() refuses.
    if not _ID.fullmatch(raw) or int(raw) > MAX_ID:
        _reject(f"missing or malformed {name}")
    return int(raw)


def error_code() -> int | None:
    raw = request.form.get("ErrorCode", "")
    return int(raw) if re.fullmatch(r"[0-9]{1,9}", raw) else None


def body_text() -> str:
    """The SMS text, cut to 1600 characters, without NUL characters (PostgreSQL cannot store them)."""
    body = request.form.get("Body")
    if body is None:
        _reject("missing Body")
    return body.replace("\x00", "")[:1600]
