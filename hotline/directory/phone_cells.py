"""A phone cell as stations fill it in, and what is wrong with it in plain words.

A cell may hold two numbers ("13800138000/13900139000", common for an elderly
household with a child's number): the first is the member's own, the second
their backup. A number that is not valid is explained (a mobile number has 11
digits; a Kunming landline has 8 digits after 0871), never with the phone
library's own text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from phonenumbers import geocoder

from hotline.directory.wording import Localised, Text, _l, quoted
from hotline.phones import Phone, PhoneError, parse_phone

# Between two numbers in one cell: / ， , 、 ; ； or the word 或 ("or").
_SEPARATORS = re.compile(r"\s*(?:[/／,，、;；|｜\n]|或)\s*")
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")
_PUNCTUATION = re.compile(r"[\s\-()（）.+]")
_EXAMPLE_LANDLINE = "0871-6512 3456"


@dataclass(frozen=True)
class PhoneProblem:
    """Why a cell's number was refused (``message``) and how to put it right (``hint``)."""

    message: Text
    hint: Text | None = None


@dataclass(frozen=True)
class CellPhones:
    """The member's number, and the backup number when the cell holds two."""

    phone: Phone
    backup: Phone | None = None


def parse_cell(raw: str, region: str) -> CellPhones | PhoneProblem:
    """The number(s) in a phone cell, or why they cannot be used."""
    text = (raw or "").strip()
    if not text:
        return PhoneProblem(_l("phone number is missing"))
    if _SCIENTIFIC.match(text):
        return PhoneProblem(_l(
            "%(raw)s is a number Excel shortened to scientific notation; format the column as text and retype it",
            raw=quoted(text),
        ))
    try:
        return CellPhones(parse_phone(text, region))
    except PhoneError:
        pass
    parts = [part for part in _SEPARATORS.split(text) if part]
    if len(parts) == 1:
        # "13800138000 13900139000": spaces separate numbers only when each half is a number.
        halves = text.split()
        if len(halves) == 2 and all(_valid(half, region) for half in halves):
            parts = halves
    if len(parts) == 1:
        return explain(parts[0], region, raw=text)
    if len(parts) > 2:
        return PhoneProblem(
            _l("%(raw)s holds %(count)d numbers", raw=quoted(text), count=len(parts)),
            _l("give at most two: the member's own number, then one backup number"),
        )
    numbers = []
    for part in parts:
        try:
            numbers.append(parse_phone(part, region))
        except PhoneError:
            return explain(part, region, raw=text)
    if numbers[0].e164 == numbers[1].e164:
        return CellPhones(numbers[0])
    return CellPhones(numbers[0], numbers[1])


def _valid(text: str, region: str) -> bool:
    try:
        parse_phone(text, region)
    except PhoneError:
        return False
    return True


def explain(number: str, region: str, *, raw: str | None = None) -> PhoneProblem:
    """Why ``number`` (part of the cell ``raw``) is not a valid phone number."""
    message = _l("%(raw)s is not a valid phone number", raw=quoted(raw if raw is not None else number))
    if raw is not None and raw != number:
        message = _l("%(raw)s: %(part)s is not a valid phone number", raw=quoted(raw), part=quoted(number))
    folded = unicodedata.normalize("NFKC", number)
    digits = _PUNCTUATION.sub("", folded)
    if not digits.isdigit():
        strange = "".join(sorted({char for char in digits if not char.isdigit()}))[:10]
        return PhoneProblem(message, _l("it contains %(chars)s; write only the digits", chars=quoted(strange)))
    if region != "CN":
        return PhoneProblem(message, _l("check the number and write it with its area code"))
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) > 11:
        digits = digits[2:]
    if digits.startswith("1"):
        if len(digits) != 11:
            return PhoneProblem(message, _l(
                "a mobile number has 11 digits, this one has %(count)d", count=len(digits)
            ))
        return PhoneProblem(message, _l(
            "no mobile number starts with %(prefix)s; check the first digits", prefix=digits[:3]
        ))
    if digits.startswith("0"):
        return PhoneProblem(message, _landline_hint(digits))
    if 7 <= len(digits) <= 8:
        return PhoneProblem(message, _l(
            "a landline needs its area code in front, e.g. %(example)s", example=_EXAMPLE_LANDLINE
        ))
    return PhoneProblem(message, _l(
        "write a mobile number of 11 digits, or a landline with its area code, e.g. %(example)s",
        example=_EXAMPLE_LANDLINE,
    ))


def _landline_hint(digits: str) -> Text:
    """What a landline beginning with ``digits``' area code should look like."""
    # Beijing (010) and 020-029 have three-digit area codes, every other city four.
    area_length = 3 if digits[1:2] in ("1", "2") else 4
    area = digits[:area_length]
    lengths, city = _local_lengths(area)
    if lengths:
        return _l(
            "a landline in %(city)s has %(digits)s digits after the area code %(area)s, this one has %(count)d",
            city=city, digits=_or(lengths), area=area, count=len(digits) - area_length,
        )
    return _l(
        "%(area)s is not an area code; write the area code, then the number, e.g. %(example)s",
        area=area, example=_EXAMPLE_LANDLINE,
    )


def _local_lengths(area: str) -> tuple[list[int], Localised | None]:
    """How many digits follow ``area`` in a valid landline, and the area's name."""
    lengths: list[int] = []
    city: Localised | None = None
    for length in (7, 8):
        for first in "2345678":
            candidate = area + first + "1234567"[: length - 1]
            try:
                number = phonenumbers.parse(candidate, "CN")
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                lengths.append(length)
                if city is None:
                    city = Localised({
                        "zh": geocoder.description_for_number(number, "zh") or area,
                        "en": geocoder.description_for_number(number, "en") or area,
                    })
                break
    return lengths, city


def _or(lengths: list[int]) -> Text | int:
    if len(lengths) == 1:
        return lengths[0]
    return _l("%(first)d or %(second)d", first=lengths[0], second=lengths[1])
