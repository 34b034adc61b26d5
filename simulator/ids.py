"""Twilio-shaped identifiers and number checks used by the simulator."""

from __future__ import annotations

import re
import secrets

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def new_sid(prefix: str) -> str:
    """Return a fresh SID: a two-letter prefix (``CA``, ``SM``, ``AC``, ``CF``) and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def is_e164(number: str) -> bool:
    """Whether ``number`` is an E.164 phone number such as ``+8613800000001``."""
    return bool(_E164.match(number or ""))
