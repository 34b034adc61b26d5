"""The ``OutId`` the service gives every SMS and call, signed so a receipt cannot name a row it was not sent for.

Aliyun's receipts are not signed and come from no published addresses: the
``OutId`` is the one thing in them that the service wrote. It carries the
outbox row's id and a MAC over that id and the recipient's number, keyed with
the access key secret; a receipt whose ``OutId`` does not verify names no row.
``IvrCall`` allows 15 bytes, so the id is written in base 36 and the MAC
truncated to 48 bits: forging one takes about 2**47 guesses against a URL
that is itself secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

MAX_LENGTH = 15  # IvrCall's limit on OutId
_MAC_BYTES = 6  # 8 characters in URL-safe base64
_SEPARATOR = "."
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(number: int) -> str:
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = _DIGITS[digit] + text
        if not number:
            return text


def _mac(secret: str, row_id: int, phone: str) -> str:
    digest = hmac.new(secret.encode(), f"hotline-out-id:{row_id}:{phone}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).decode("ascii")


def sign(secret: str, row_id: int, phone: str) -> str:
    """The ``OutId`` for outbox row ``row_id`` sent to ``phone`` (E.164).

    Raises:
        ValueError: ``row_id`` is negative or too large to fit 15 bytes.
    """
    if row_id < 0:
        raise ValueError("row ids are not negative")
    out_id = _base36(row_id) + _SEPARATOR + _mac(secret, row_id, phone)
    if len(out_id) > MAX_LENGTH:
        raise ValueError(f"row id {row_id} does not fit an OutId")
    return out_id


def row_id(out_id: str) -> int | None:
    """The row id an ``OutId`` claims, not yet verified; None if it is not one of ours."""
    head, _, mac = (out_id or "").partition(_SEPARATOR)
    if not head or not mac or len(out_id) > MAX_LENGTH or any(c not in _DIGITS for c in head):
        return None
    return int(head, 36)


def verify(secret: str, out_id: str, phone: str) -> int | None:
    """The row id of a genuine ``OutId`` for ``phone``; None for anything else."""
    claimed = row_id(out_id)
    if claimed is None:
        return None
    return claimed if hmac.compare_digest(out_id, sign(secret, claimed, phone)) else None
