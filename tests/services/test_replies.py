"""What an SMS body means: the pure parsers behind inbound SMS handling."""

import pytest

from hotline.models import Answer
from hotline.services.replies import Keyword, parse_keyword, parse_reply


@pytest.mark.parametrize(
    "body",
    ["1", " 1 ", "1\n", "１", "1。", "1.", "1！", "到", "收到", "马上到", "收到。", "好的", "OK", "ｏｋ"],
)
def test_acceptances(body):
    assert parse_reply(body) == Answer.ACCEPT


@pytest.mark.parametrize("body", ["2", "２", "2。", " 2 ", "不能", "来不了", "NO"])
def test_declines(body):
    assert parse_reply(body) == Answer.DECLINE


@pytest.mark.parametrize(
    "body",
    ["", "   ", "3", "12", "21", "1 2", "救命", "着火了，快来", "马上", "STOP", "退订", "START", "?", "。"],
)
def test_anything_else_is_not_a_reply(body):
    assert parse_reply(body) is None


def test_none_body_is_not_a_reply():
    assert parse_reply(None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("body", ["STOP", "stop", "Stop", " STOP ", "ＳＴＯＰ", "STOP。", "退订", "TD", "unsubscribe"])
def test_stop_keywords(body):
    assert parse_keyword(body) == Keyword.STOP


@pytest.mark.parametrize("body", ["START", "start", "ＳＴＡＲＴ", "unstop", "订阅"])
def test_start_keywords(body):
    assert parse_keyword(body) == Keyword.START


@pytest.mark.parametrize(
    "body", ["", "1", "2", "到", "收到", "马上到", "１", "stop it", "please stop", "garbage", "停"]
)
def test_replies_and_garbage_are_not_keywords(body):
    assert parse_keyword(body) is None


def test_reply_words_and_keywords_do_not_overlap():
    # A body must never be both a reply and an opt-out: STOP is checked first and would swallow it.
    for body in ["1", "2", "到", "收到", "马上到", "好", "ok", "yes", "no", "不能"]:
        assert parse_reply(body) is not None
        assert parse_keyword(body) is None
