"""Replies as villagers type them, and the one rule that matters most: a negation is never "coming".

The corpus is what members of a joint-defence group send back to an alert on
their phones: short, often typed by older people, with typos, dialect words,
full-width characters, emoji and whatever punctuation the keyboard offered.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.models import Answer
from hotline.services import reply_words
from hotline.services.replies import Keyword, parse_keyword, parse_reply

ACCEPTED = [
    # the number the alert asks for, with or without words
    "1", "１", "1️⃣", "①", "1 马上到", "1马上到", "1，马上到", "1 收到", "１ 好的", "回复1", "回1",
    "1 在路上", "1。马上", "收到1",
    # received / on the way
    "收到", "收到了", "收到！", "收到，马上到", "收到收到，马上来", "收到了马上过去", "收倒", "收 到",
    "到了", "快到了", "马上到", "马上就到", "马上到。。。", "马上过去", "马上过来", "马上来",
    "马上来哈", "我马上到", "我马上就到！", "这就去", "这就过去", "立刻出发", "立马过去", "在路上",
    "在路上了😊", "已经在路上了", "出发了", "已出发", "正在赶往", "赶过去了", "收到 马上 到",
    "好的!!!马上到!!!", "马上到（村口）",
    # yes
    "好的", "好的好的", "好的，马上到", "好", "好好好", "好，马上", "行", "行吧", "可以", "可以的",
    "我去", "我来", "我来了", "来了", "来了来了", "去喽", "嗯", "嗯嗯，马上", "是的", "对", "冲",
    "妥妥的", "没问题", "没问题马上到", "别急，马上到",
    # dialect
    "要得", "要得，马上来", "好嘞", "好嘞马上到", "好咧", "好勒", "中", "中中中", "中，马上到", "得嘞",
    "晓得了", "晓得了马上来", "知道了，这就去", "知到了", "明白",
    # latin letters and emoji
    "OK", "ok马上去", "ＯＫ", "Ok👌", "ok了", "yes", "👌", "👍",
    # a time is not an answer number
    "5分钟到", "５分钟就到", "十分钟就到", "马上到，五分钟", "等下就到", "1 10分钟到",
]

DECLINED = [
    "2", "２", "回复2", "在外地", "2 在外地", "2在外地", "在外地打工", "在县城", "人在外地", "出差了",
    "有事", "今晚上班", "2 在医院", "算了，下次", "抱歉", "no", "NO", "No.", "👎",
]

# Negations: each must be DECLINE, or None when it cannot be told, never ACCEPT.
NEGATED_DECLINES = [
    "去不了", "来不了", "来不了了", "到不了", "马上到不了", "不能马上到", "没法去", "不能来",
    "现在去不了", "赶不过去", "暂时走不开", "今天到不了", "不去", "不能去", "去不成", "过不去",
    "我去不了了", "收到，去不了", "好的，我去不了", "收到但是来不了", "1 去不了", "2 马上到",
    "不行", "不方便", "不好意思来不了", "对不起，去不了", "冇得空", "莫得空", "没得空", "没空",
    "没时间", "不得空", "走不开", "家里有事去不了", "在县城，来不了", "不在家", "2，不在家",
    "要不得", "不中", "不得行", "唔得闲", "搞不赢", "来不赢", "赶不到", "怕是去不了",
    "估计赶不到", "可能来不了", "恐怕去不了", "腿脚不方便", "身体不舒服去不了", "喝酒了去不了",
    "不", "不了", "不不不", "没办法过去", "无法前往", "脱不开身", "马上去不了", "ok 去不了",
    "不来了", "别来", "来不及了", "到 不 了", "去不了！！", "去不了😭", "这会儿没法过去", "没车过不去",
    "不能马上过去", "现在赶不过去了", "不ok", "not ok", "难以赶到",
]
NEGATED_UNCLEAR = [
    "不知道", "没收到", "不马上到", "没看到", "不一定能到", "不是我", "不用了", "notok", "nook",
]

NOT_REPLIES = [
    # questions
    "要我去吗？", "什么事？", "谁？", "在哪里", "在哪", "1还是2", "啥事", "咋了", "出什么事了",
    "去不去", "要不要去", "好不好", "几点", "哪个村", "收到？", "1?", "在吗", "嗯？", "？？",
    # numbers other than a lone 1 or 2
    "12", "21", "1 2", "3", "0", "110", "11",
    # calls for help from a household
    "着火了，快来", "救命", "救命啊", "有人偷牛", "快来人", "家里进贼了", "谁家出事了？",
    "他们又来了", "老人摔倒了", "我家着火了", "快来", "有人打架",
    # opt-out keywords and noise
    "STOP", "退订", "START", "", "。", "马上", "谢谢", "你好", "喂", "打错了",
    # too long to be a reply
    "收到，我现在在地里干活，等我回家换了衣服骑摩托车过去大概要半个小时左右才能到",
]

CORPUS: list[tuple[str, Answer | None]] = [
    *((body, Answer.ACCEPT) for body in ACCEPTED),
    *((body, Answer.DECLINE) for body in DECLINED + NEGATED_DECLINES),
    *((body, None) for body in NEGATED_UNCLEAR + NOT_REPLIES),
]

# Phrases that negate whatever "coming" word follows them.
NEGATION_PREFIXES = [
    "不", "不能", "不会", "不用", "不想", "不可能", "不一定", "没", "没法", "没办法", "没得", "冇",
    "冇得", "莫", "莫得", "别", "甭", "无法", "未能", "去不了", "来不了", "到不了", "走不开",
    "不能马上", "暂时不能", "今天不", "现在没法", "恐怕不能", "可能不", "难以", "够呛", "唔",
    "not", "no", "2",
]
NEGATING_TAILS = ["不了", "不了了", "不成", "不到", "不过去", "不过来", "不开"]
ACCEPT_WORDS = sorted(
    {*ACCEPTED, *reply_words.ACCEPTS, *reply_words.SHORT_ACCEPTS, *reply_words.LATIN_ACCEPTS}
)
SEPARATORS = ["", " ", "，", ",", "、", "。", "…", "!", "😊", "\n"]


def _glue(*parts: str) -> str:
    """``parts`` run together, with a space after a number.

    The space keeps a "2" the answer it is: typed straight before "5分钟到" or
    "分钟出发" it would become a time ("25分钟到", "2分钟出发"), a different reply.
    """
    body = ""
    for part in parts:
        if body[-1:].isdigit() and part:
            body += " "
        body += part
    return body


def test_the_corpus_is_large_and_full_of_negations():
    assert len(CORPUS) >= 120
    assert len(NEGATED_DECLINES) + len(NEGATED_UNCLEAR) >= 30
    assert len({body for body, _ in CORPUS}) == len(CORPUS), "each reply is listed once"


@pytest.mark.parametrize(("body", "expected"), CORPUS)
def test_corpus_reading(body, expected):
    assert parse_reply(body) == expected


@pytest.mark.parametrize("body", NEGATED_DECLINES + NEGATED_UNCLEAR)
def test_a_negation_is_never_coming(body):
    assert parse_reply(body) != Answer.ACCEPT


def test_a_negation_before_any_accept_word_is_never_coming():
    for negation, separator, accept in itertools.product(NEGATION_PREFIXES, ["", " ", "，"], ACCEPT_WORDS):
        body = _glue(negation, separator, accept)
        assert parse_reply(body) != Answer.ACCEPT, body


def test_a_negating_tail_after_any_accept_word_is_never_coming():
    for accept, tail in itertools.product(ACCEPT_WORDS, NEGATING_TAILS):
        assert parse_reply(_glue(accept, tail)) != Answer.ACCEPT, accept + tail


@settings(max_examples=500, deadline=None, database=None)
@given(
    before=st.sampled_from(["", *ACCEPT_WORDS]),
    negation=st.sampled_from(NEGATION_PREFIXES),
    accept=st.sampled_from(ACCEPT_WORDS),
    separators=st.lists(st.sampled_from(SEPARATORS), min_size=3, max_size=3),
)
def test_negated_replies_however_punctuated_are_never_coming(before, negation, accept, separators):
    # A reply may open with a "yes" word ("收到，不能马上到"); the negation still wins.
    first, second, third = separators
    body = _glue(before, first, negation, second, accept, third)
    assert parse_reply(body) != Answer.ACCEPT, body


@pytest.mark.parametrize(
    "body", ["TD", "td", "TD。", "td!", "ＴＤ", "【TD】", "退订。", "退订！", "【退订】", "退订TD", "TD退订"]
)
def test_opt_out_keywords_with_punctuation(body):
    assert parse_keyword(body) == Keyword.STOP
    assert parse_reply(body) is None
