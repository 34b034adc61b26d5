"""What an SMS body means: a reply to an alert, an opt-out, or neither."""

from __future__ import annotations

import enum
import unicodedata

from hotline.models import Answer


class Keyword(enum.StrEnum):
    STOP = "stop"
    START = "start"


_ACCEPT = {"1", "到", "收到", "马上到", "就到", "我到", "来了", "我来", "马上来", "好", "好的", "ok", "yes", "y", "是"}
_DECLINE = {"2", "不能", "无法前往", "去不了", "来不了", "不去", "不行", "no", "n"}
_STOP = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "退订", "td", "取消订阅"}
_START = {"start", "unstop", "yes start", "订阅", "恢复"}
_TRIM = " \t\r\n。.!！,，~～、"


def _normalise(body: str) -> str:
    # NFKC turns full-width digits and letters (１, ＯＫ) into ASCII.
    return unicodedata.normalize("NFKC", body or "").strip(_TRIM).lower()


def parse_reply(body: str) -> Answer | None:
    """The answer an SMS gives to an alert, or None if it is not one.

    One character is enough (``1`` or ``2``); common Chinese words such as
    到, 收到 and 马上到 are understood too.
    """
    text = _normalise(body)
    if text in _ACCEPT:
        return Answer.ACCEPT
    if text in _DECLINE:
        return Answer.DECLINE
    return None


def parse_keyword(body: str) -> Keyword | None:
    """STOP/START style opt-out keywords, which carriers also act on."""
    text = _normalise(body)
    if text in _STOP:
        return Keyword.STOP
    if text in _START:
        return Keyword.START
    return None
