"""Phone numbers: parse anything a station might type, store E.164."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

# Types that can receive an SMS. FIXED_LINE_OR_MOBILE is ambiguous (e.g. US
# numbers); those are given the benefit of the doubt.
_SMS_TYPES = {
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.PAGER,
    PhoneNumberType.VOIP,
}


class PhoneError(ValueError):
    """A phone number could not be parsed, or is not a real number."""


@dataclass(frozen=True)
class Phone:
    """A valid phone number in E.164 form."""

    e164: str
    sms_capable: bool


def parse_phone(raw: str, region: str = "CN") -> Phone:
    """Normalise ``raw`` to E.164.

    Accepts the forms found in station spreadsheets: ``138 0013 8000``,
    ``+86-138-0013-8000``, ``013800138000``, ``0086 13800138000``, full-width
    digits, and landlines such as ``010-6552 9988``.

    Raises:
        PhoneError: ``raw`` is empty, not a number, or not a valid number in
            any region (the message says which).
    """
    text = (raw or "").strip()
    if not text:
        raise PhoneError("phone number is empty")
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]  # spreadsheets store numbers as floats
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise PhoneError(f"{raw!r} is not a phone number ({exc._msg})") from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(f"{raw!r} is not a valid phone number")
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        sms_capable=phonenumbers.number_type(number) in _SMS_TYPES,
    )


def normalise_incoming(raw: str, region: str = "CN") -> str:
    """Best-effort E.164 for a number a carrier reported; falls back to the raw text.

    Carriers may present withheld or malformed caller IDs; those must still be
    recorded, not rejected.
    """
    try:
        return parse_phone(raw, region).e164
    except PhoneError:
        return (raw or "").strip()[:32]
