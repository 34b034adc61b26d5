"""What an SMS body means: a reply to an alert, an opt-out, or neither.

The vocabulary lives in :mod:`hotline.services.reply_words`; this module holds
the few rules that read a body with it.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from hotline.models import Answer
from hotline.services import reply_words as words


class Keyword(enum.StrEnum):
    STOP = "stop"
    START = "start"


_STOP = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "退订", "td", "取消订阅", "退订td", "td退订"}
_START = {"start", "unstop", "yes start", "订阅", "恢复"}

# Minutes or a distance are how soon someone will be there ("5分钟到",
# "十分钟就到", "半小时后到"), not a 1/2 answer; "2 分钟出发" keeps its 2, the
# safer reading. Hours and clock times ("2小时后到", "8点到") are not taken
# out: "later" is not "coming", and what is left of them makes the reply unclear.
_QUANTITY = re.compile(
    r"(?:大概|大约|约)?"
    r"(?:\d+(?:分钟|分|公里|里| ?km(?![a-z])| ?mins?(?![a-z]))"
    r"|[一二两三四五六七八九十几][一二两三四五六七八九十百多来]*(?:分钟|公里|里)|半个?(?:小时|钟头))"
    r"(?:之后|以后|以内|后|内|左右)?"
)
# "回复1", "回 2": the word before the number the alert asked for.
_ANSWER_WORD = re.compile(r"回复? ?(?=\d)")
_NEGATION_TYPO = re.compile(
    f"(?<=[{words.NEGATION_TYPO_BEFORE}])[{words.NEGATION_TYPOS}](?=[{words.NEGATION_TYPO_AFTER}])"
)
_NUMBER = re.compile(r"\d+")
_LATIN_WORD = re.compile(r"[a-z]+")
# Stands in for a blanked-out saying so the words on either side do not join.
_GAP = "|"
# The longest text taken for a bare answer from someone no alert is waiting for.
BARE_ANSWER_CHARS = 3
# What may be taken out of a reply that accepts, longest first so 在路上 goes before 路上:
# accept phrases, neutral words, and ways of moving ("要得，骑摩托车过来").
_EXPLAINING = tuple(sorted({*words.ACCEPTS, *words.NEUTRAL, *words.FILLERS, *words.GOING}, key=len, reverse=True))
# What may be left once they are: whole-reply answers (好, 到), particles and the gaps.
_LEFT_OVER = words.SHORT_ACCEPTS | words.PARTICLES | {_GAP}


@dataclass(frozen=True)
class _Body:
    """A body split into what the rules look at.

    Attributes:
        length: How many letters and digits it has.
        asks: It has a question mark.
        chinese: Its non-ASCII letters run together, punctuation, emoji and spaces dropped.
        latin: Its ASCII words (``ok``, ``no``).
        numbers: Its numbers, other than times and distances.
    """

    length: int
    asks: bool
    chinese: str
    latin: tuple[str, ...]
    numbers: tuple[str, ...]


def _letters(body: str) -> str:
    """Lower-case letters and digits of ``body``, words separated by single spaces.

    NFKC turns full-width digits and letters (１, ＯＫ) and circled numbers into
    ASCII; traditional characters become simplified ones (無 to 无); emoji with
    a meaning become words; all other symbols become spaces.
    """
    text = unicodedata.normalize("NFKC", body or "").casefold().translate(words.TRADITIONAL)
    for emoji, word in words.EMOJI_WORDS.items():
        text = text.replace(emoji, f" {word} ")
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def _split(body: str) -> _Body:
    letters = _letters(body)
    text = _QUANTITY.sub(" ", _ANSWER_WORD.sub("", _NEGATION_TYPO.sub("不", letters)))
    return _Body(
        length=len(letters.replace(" ", "")),
        asks="?" in unicodedata.normalize("NFKC", body or ""),
        chinese="".join(ch for ch in text if not ch.isascii()),
        latin=tuple(_LATIN_WORD.findall(text)),
        numbers=tuple(_NUMBER.findall(text)),
    )


def _has(text: str, phrases: Iterable[str]) -> bool:
    return any(phrase in text for phrase in phrases)


def _asks_either_or(text: str) -> bool:
    """Whether ``text`` has an "A不A" or "A没A" question (去不去, 到没到)."""
    return any(
        text[i + 1] in "不没" and text[i] == text[i + 2] and text[i] not in words.NEGATIONS
        for i in range(len(text) - 2)
    )


def _only(text: str, answers: frozenset[str]) -> bool:
    """Whether ``text`` is nothing but ``answers`` characters, particles and fillers ("好好", "行吧")."""
    for filler in (*words.FILLERS, _GAP):
        text = text.replace(filler, "")
    return bool(text) and set(text) <= answers | words.PARTICLES and not set(text) <= words.PARTICLES


def _blank(text: str, phrases: Iterable[str]) -> str:
    for phrase in phrases:
        text = text.replace(phrase, _GAP)
    return text


def _is_unclear(body: _Body) -> bool:
    """A question, a call for help, or numbers other than a single 1 or 2."""
    return (
        body.asks
        or _has(body.chinese, words.QUESTIONS)
        or _asks_either_or(body.chinese)
        or _has(body.chinese, words.CALLS_FOR_HELP)
        or any(word in words.LATIN_CALLS_FOR_HELP for word in body.latin)
        or len(body.numbers) > 1
        or any(number not in ("1", "2") for number in body.numbers)
    )


def _unexplained(text: str) -> str:
    """The characters of ``text`` that may say something other than "coming".

    What is left once accept phrases, neutral words and ways of moving are
    taken out, other than one-character answers (好, 到), particles and gaps.
    """
    left = _blank(text, _EXPLAINING)
    return "".join(ch for ch in left if ch not in _LEFT_OVER)


def parse_reply(body: str) -> Answer | None:
    """The answer an SMS gives to an alert, or None if it is not one.

    Understood, in a reply of at most ``MAX_REPLY_CHARS`` letters and digits
    (after NFKC, so full-width forms count as ASCII, with traditional
    characters read as simplified ones, and ignoring punctuation, emoji and
    spaces):

    * ``1`` and ``2``, alone or with words ("1 马上到", "2在外地");
    * decline phrases anywhere (去不了, 没空, 在外地, 明天, 在医院, 才怪, no);
    * an acceptance (收到, 马上到, 在路上, 好的, 要得, OK, 👌, 1, or a
      one-character answer such as 好 or 中) when the whole reply is explained
      by accept phrases and neutral words (fillers, particles, times and
      distances, ways of travelling, thanks: "收到，骑车5分钟到，谢谢").

    Not a reply (None), so the caller can send its help text: questions
    (要我去吗, 1还是2, 去不去), calls for help or for someone else to come
    (着火了，快来, 救命, 你过来), opt-out keywords, other numbers (3, 12,
    "1 2"), hedges (看情况, 再说, 但), and any reply with a word nobody listed
    beside its yes ("收到，人在昆明", "马上到步了", "ok notok").

    Negation wins: a decline anywhere makes the reply a decline even beside
    accept words ("收到，去不了"), and a negation that is not a known decline
    ("不马上到") makes it unclear, never an acceptance. An acceptance must be
    fully explained because what is not understood may be a "can't": reading
    "can't" as "coming" would leave a household waiting for someone who is not
    on the way and stop the alert from escalating; reading it the other way
    only costs the group a help text or another helper.
    """
    if parse_keyword(body) is not None:
        return None
    split = _split(body)
    if not split.length or split.length > words.MAX_REPLY_CHARS or _is_unclear(split):
        return None
    chinese = _blank(split.chinese, words.REASSURANCES)
    if (
        "2" in split.numbers
        or _has(chinese, words.DECLINES)
        or _only(chinese, words.SHORT_DECLINES)
        or any(word in words.LATIN_DECLINES for word in split.latin)
    ):
        return Answer.DECLINE
    # A negation that is no known decline, a hedge, or anything nobody listed
    # beside the yes may be a "can't" (人在昆明, 马上到个屁, "notok", pinyin):
    # not enough to call someone on the way.
    if (
        _has(chinese, words.NEGATIONS)
        or _has(split.chinese, words.HEDGES)
        or any(word not in words.LATIN_ACCEPTS for word in split.latin)
        or _unexplained(chinese)
    ):
        return None
    if (
        "1" in split.numbers
        or _has(split.chinese, words.ACCEPTS)
        or _only(chinese, words.SHORT_ACCEPTS)
        or any(word in words.LATIN_ACCEPTS for word in split.latin)
    ):
        return Answer.ACCEPT
    return None


def is_call_for_help(body: str) -> bool:
    """Whether ``body`` asks for help for the sender's own household.

    A cry for help (救命, help, sos) is one on its own; trouble (着火, 贼, 被打,
    快报警) is one only beside words of the sender's own home or person (我家,
    家里, 我被, 打我), since someone answering a neighbour's alert may well
    write of the fire or the thief there ("贼跑了", "已报警"). Used to open
    the sender's own incident even while a neighbour's alert waits for their
    answer.
    """
    split = _split(body)
    if any(word in words.LATIN_CALLS_FOR_HELP for word in split.latin) or _has(split.chinese, words.CRIES):
        return True
    own = _blank(split.chinese, words.OTHERS_HOMES)
    return _has(split.chinese, words.TROUBLE) and _has(own, words.OWN)


def is_bare_answer(body: str) -> bool:
    """Whether ``body`` is nothing but a short answer ("1", "收到", "OK", "去不了").

    From someone no alert is waiting for, such a text is a stray reply and is
    ignored; anything longer is read as what it says (a call for help).
    """
    letters = _letters(body).replace(" ", "")
    return parse_reply(body) is not None and len(letters) <= BARE_ANSWER_CHARS


def parse_keyword(body: str) -> Keyword | None:
    """STOP/START style keywords: TD, 退订 or STOP opts out of broadcasts (never alerts); START or 订阅 back in.

    The whole body must be the keyword; punctuation, full-width forms and case
    do not matter ("ＳＴＯＰ", "退订。", "【TD】", "退订TD").
    """
    text = _letters(body)
    for candidate in (text, text.replace(" ", "")):
        if candidate in _STOP:
            return Keyword.STOP
        if candidate in _START:
            return Keyword.START
    return None
