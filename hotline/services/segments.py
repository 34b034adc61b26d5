"""How many SMS parts a text takes (pure).

An SMS carries 140 bytes. Text written entirely in the GSM-7 alphabet packs
160 characters into one; anything else (Chinese, or a single "…") is sent as
UCS-2, 70 characters. A longer text is split into parts that each give up
room to a header joining them again: 153 GSM-7 characters or 67 UCS-2. A
GSM-7 extension character (``€``, ``[``, ``]``, ``{``, ``}``, ``|``, ``^``,
``~``, ``\\``) is an escape plus a character, so it counts twice and is
never split between parts; nor is a UCS-2 character outside the Basic
Multilingual Plane, which takes two units.
"""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38's default alphabet (without the escape itself) and its extension table.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"


@dataclass(frozen=True)
class Encoding:
    """An SMS encoding and its room: in a lone SMS, and in each part of a split one."""

    name: str
    single: int
    per_part: int


GSM7_ENCODING = Encoding(GSM7, 160, 153)
UCS2_ENCODING = Encoding(UCS2, 70, 67)


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` is in the GSM-7 alphabet or its extension."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def encoding_of(text: str) -> Encoding:
    """The encoding a carrier sends ``text`` in: GSM-7 when it can, otherwise UCS-2."""
    return GSM7_ENCODING if is_gsm7(text) else UCS2_ENCODING


def _costs(text: str, encoding: Encoding) -> list[int]:
    """The room each character takes: septets in GSM-7, 16-bit units in UCS-2."""
    if encoding is GSM7_ENCODING:
        return [2 if char in GSM7_EXTENSION else 1 for char in text]
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def length(text: str) -> int:
    """The room ``text`` takes in its encoding (an extension character counts twice)."""
    return sum(_costs(text, encoding_of(text)))


def count_segments(text: str) -> int:
    """How many SMS parts ``text`` is sent as; an empty text still takes one."""
    encoding = encoding_of(text)
    costs = _costs(text, encoding)
    if sum(costs) <= encoding.single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > encoding.per_part:
            # A character that does not fit whole starts the next part.
            parts, used = parts + 1, 0
        used += cost
    return parts


def fits(text: str, parts: int) -> bool:
    """Whether ``text`` goes out in at most ``parts`` SMS parts."""
    return count_segments(text) <= parts
