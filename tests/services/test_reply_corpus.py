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
from hotline.services.replies import Keyword, is_call_for_help, parse_keyword, parse_reply

# fmt: off
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

# Replies that were once read as "coming" and are not: each must be DECLINE, or
# None where the reply leaves it open, never ACCEPT.
ONCE_READ_AS_COMING: list[tuple[str, Answer | None]] = [
    # traditional characters
    ("無法前往", Answer.DECLINE), ("別等我了", Answer.DECLINE),
    # refusals, and a yes taken back
    ("收到，算啦", Answer.DECLINE), ("马上到才怪", Answer.DECLINE), ("马上到嘛才怪", Answer.DECLINE),
    ("收到，休想", Answer.DECLINE), ("收到，免了", Answer.DECLINE), ("马上到，开玩笑的", Answer.DECLINE),
    ("收到，做梦吧", Answer.DECLINE),
    # dialect negations
    ("收到，木得空", Answer.DECLINE), ("收到，木法去", Answer.DECLINE), ("收到，弗来哉", Answer.DECLINE),
    # 不 typed as a character of the same sound
    ("马上到步了", Answer.DECLINE), ("收到，走步开", Answer.DECLINE), ("收到，去部了", Answer.DECLINE),
    # away
    ("收到，人在昆明", None), ("收到，人在广东", None), ("好的，但我在成都", None), ("收到，在省城", Answer.DECLINE),
    # ill, or someone at home is
    ("收到，我在县医院", Answer.DECLINE), ("收到 我在卫生院", Answer.DECLINE), ("收到，在输液", Answer.DECLINE),
    ("收到，孩子发烧", Answer.DECLINE), ("收到，老人病重", Answer.DECLINE), ("收到，老婆要生了", Answer.DECLINE),
    ("收到，我腿断了", Answer.DECLINE),
    # later, not now
    ("明天过去", Answer.DECLINE), ("收到，明早过去", Answer.DECLINE), ("收到，明天", Answer.DECLINE),
    ("可以，但得明天", Answer.DECLINE), ("收到，过两天回来", Answer.DECLINE), ("等我回来再说", None),
    ("收到，再说吧", None), ("收到，看情况", None),
    # at work or at a feast
    ("收到，在上夜班", Answer.DECLINE), ("收到，我在加班", Answer.DECLINE), ("收到，我在隔壁村吃酒", Answer.DECLINE),
]

# More replies as members write them, each with its reading.
MORE_REPLIES: list[tuple[str, Answer | None]] = [
    # coming: every word of the reply is understood
    ("收到，骑车5分钟到，谢谢", Answer.ACCEPT), ("收到！十分钟到", Answer.ACCEPT), ("收到，半小时后到", Answer.ACCEPT),
    ("马上到，大概二十分钟", Answer.ACCEPT), ("在路上了，还有两公里", Answer.ACCEPT), ("已出发🚗", Answer.ACCEPT),
    ("1 骑电动车过去", Answer.ACCEPT), ("１　马上到", Answer.ACCEPT), ("好滴，这就来", Answer.ACCEPT),
    ("中，我这就去", Answer.ACCEPT), ("收到。稍等，马上出门", Answer.ACCEPT), ("👌马上到", Answer.ACCEPT),
    ("收到了，谢谢", Answer.ACCEPT), ("好的，辛苦了", Answer.ACCEPT), ("马上到，放心", Answer.ACCEPT),
    ("馬上到", Answer.ACCEPT), ("收到，馬上過去", Answer.ACCEPT), ("我們馬上到", Answer.ACCEPT),
    ("好的，开摩托过去", Answer.ACCEPT), ("收到，步行过去", Answer.ACCEPT), ("没毛病", Answer.ACCEPT),
    ("没事，马上到", Answer.ACCEPT), ("okay coming", Answer.ACCEPT), ("收到✅", Answer.ACCEPT),
    ("ＯＫ，马上到", Answer.ACCEPT), ("好的好的，这就出门", Answer.ACCEPT), ("要得，骑摩托车过来", Answer.ACCEPT),
    ("收到，约10分钟到现场", Answer.ACCEPT), ("好的呢", Answer.ACCEPT), ("收到，正在路上", Answer.ACCEPT),
    ("我去看看", Answer.ACCEPT), ("我先过去看看", Answer.ACCEPT), ("收到，马上带人过去", Answer.ACCEPT),
    ("我就在附近，马上到", Answer.ACCEPT), ("我离得近，我去", Answer.ACCEPT), ("已经在现场", Answer.ACCEPT),
    ("已到现场", Answer.ACCEPT), ("已到达", Answer.ACCEPT),
    ("我已到场", Answer.ACCEPT), ("我在往那边走", Answer.ACCEPT), ("正往那边赶", Answer.ACCEPT),
    ("收到！我带上手电", Answer.ACCEPT), ("无法到场", Answer.DECLINE), ("没到场", Answer.DECLINE),
    ("马上个屁", None), ("我在家", None),
    ("现场不安全，在附近等", None), ("隔壁在吵架", None),
    # not coming
    ("沒空", Answer.DECLINE), ("無法過去", Answer.DECLINE), ("來不了", Answer.DECLINE), ("去唔到", Answer.DECLINE),
    ("冇得闲", Answer.DECLINE), ("木得时间", Answer.DECLINE), ("冒得空", Answer.DECLINE), ("覅来", Answer.DECLINE),
    ("勿来哉", Answer.DECLINE), ("在镇上赶集，来不了", Answer.DECLINE), ("今晚值班，去不了", Answer.DECLINE),
    ("收到，在喝喜酒", Answer.DECLINE), ("收到，我出差了", Answer.DECLINE), ("收到，住院了", Answer.DECLINE),
    ("好的，后天回来", Answer.DECLINE), ("收到，下周回来", Answer.DECLINE), ("收到，回头去", Answer.DECLINE),
    ("想得美", Answer.DECLINE), ("明儿个再说", Answer.DECLINE), ("not coming", Answer.DECLINE),
    ("收到，在路上，车坏了", Answer.DECLINE), ("马上到✖", Answer.DECLINE), ("收到，有点忙", Answer.DECLINE),
    ("收到 ，在县医院输液", Answer.DECLINE), ("收到，明天5点到", None), ("收到，人在外地回不来", Answer.DECLINE),
    ("不好意思，在医院陪老人", Answer.DECLINE), ("收到，我在县城上班", Answer.DECLINE), ("到步了", Answer.DECLINE),
    ("2小时后到", Answer.DECLINE),
    # left open, or something nobody listed beside the yes: the help text
    ("马上到个屁", None), ("马上到？", None), ("好的，下午过去", None), ("好的，晚上过去", None), ("等我下班", None),
    ("8点到", None), ("1个小时到", None), ("收到，人在深圳", None), ("收到，我在地里", None),
    ("收到，我儿子马上过去", None), ("好的，有空就去", None), ("好的，尽量赶过去", None), ("收到，可能晚点到", None),
    ("收到，没事了", None), ("快去", None), ("应该到了", None), ("马上到嘛，才不是", None), ("呵呵，马上到", None),
    ("收到，腿摔了", None), ("我去不鸟", None), ("ok la", None), ("收到，等我换身衣服", None),
    ("我看看", None), ("看看吧", None), ("再看看", None), ("我去看看吧", None),
]

# Replies that say "not coming", or not yet, or not for sure, in words none of the
# lists above was written from: whatever they are read as, it is never "coming".
NOT_COMING = [
    "1不了", "我到不了现场", "收到 但过不去", "1，但是在外面", "晚上才能到", "恐怕到不了", "赶不回来", "腿脚不便",
    "好的，不一定能到", "到不鸟了", "马上到（开玩笑的）", "收到！！但是我脚崴了", "ok but cannot",
    "收到，晚点去，估计得一个小时", "好，我让我儿子去", "收到，人已经睡了", "去个屁", "马上到 骗你的", "鬼才去",
    "想去但去不了", "就不去了", "难去", "收到。不来", "1（在外地）", "收到，我腿瘸了", "收到，我人在广州",
    "收到，可惜到不了", "收到，我在昆明回不去", "过不来啊", "我在地里干活走不开", "来不了哈", "收到 我这边也有事",
    "好，等我吃完饭再说", "1 等我下班", "收到但我在山上", "我在广东打工", "收到！本人在外", "到时候看",
    "收到，我车没油了", "我摔了一跤去不成", "收到，孩子小离不开", "收到。老人在家没人看", "收到，我眼睛看不见",
    "没在家", "人在深圳", "已出村", "收到 我在医院陪床", "好的 但是我喝了点酒", "去不去的了", "ok no", "yes but no",
    "1 2", "我就不去了吧", "这次就算了", "我去不成了 不好意思", "收到，走不掉", "收到 赶不上", "我过不去河",
    "路断了过不去", "收到，雨太大出不了门", "收到，桥冲垮了", "马上到才怪", "收到，下不了山", "我也没办法",
    "我不会去的", "绝对不去", "肯定去不了", "好的，然而我来不了", "尽力吧", "我想想", "考虑一下", "等等再说",
    "我问问我老公", "我问下家里", "收到 我动不了", "收到 我已卧床", "好 可惜我瘫了", "收到 我年纪大了跑不动",
    "刚做完手术", "收到 在坐月子", "收到，在外面喝喜酒", "收到 今天休息不了", "收到，无能为力", "有心无力",
    "爱莫能助", "恕难从命", "去不了了抱歉", "好滴，不过不能马上到", "1 但要半小时后", "马上，不过得先送孩子",
    "收到，晚上十点以后到", "收到，等天亮再去", "收到 等雨停了去", "1明天去", "我在牌桌上", "打麻将呢", "在喝酒",
    "收到，手机快没电了", "不知道路", "找不到路", "不认识路", "收到，我在外面回不来", "收到，人不在村里",
    "好的，我现在在镇上", "收到，我在镇上赶不回去", "1 我在外面 晚上回", "收到 我去县城了", "我在城里",
    "收到，今天在亲戚家", "收到，在田里离得远", "收到，我离得远", "离得太远了", "收到 我住得远", "去不了，离得远",
    "收到 等下班了过去", "好的 下午过去", "收到，晚上过去", "收到 过几个小时去", "收到 我过会儿去看看吧可能要晚点",
    "收到 我在外面吃饭", "收到，吃完饭过去", "好的但我得先接孩子", "1 我只能晚点到", "收到，只能明早过去",
    "我今晚值夜班", "在镇上开会", "收到，我人在外县", "好的 我现在过不去了", "到不到得了不好说", "说不好", "不一定",
    "难说", "不确定", "估计去不了", "应该去不了", "可能去不了", "大概来不了", "怕是来不了", "来不来得及不知道",
    "马上到？", "真要去吗", "好啊（才不去）", "收到，去你个头", "好，你自己去吧", "你去吧", "叫别人吧", "找村长吧",
    "问问别人", "我去不得", "收到，腿疼", "收到，我腰疼走不了", "收到，我刚喝了酒开不了车", "1 车坏了",
    "收到 车被儿子开走了", "我没车", "没车去不了", "我走路要一个小时", "收到 走过去要一个钟头",
]

CORPUS: list[tuple[str, Answer | None]] = [
    *((body, Answer.ACCEPT) for body in ACCEPTED),
    *((body, Answer.DECLINE) for body in DECLINED + NEGATED_DECLINES),
    *((body, None) for body in NEGATED_UNCLEAR + NOT_REPLIES),
    *ONCE_READ_AS_COMING,
    *MORE_REPLIES,
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
# fmt: on


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
    assert len(CORPUS) >= 300
    assert len(NEGATED_DECLINES) + len(NEGATED_UNCLEAR) >= 30
    assert len({body for body, _ in CORPUS}) == len(CORPUS), "each reply is listed once"


@pytest.mark.parametrize(("body", "expected"), CORPUS)
def test_corpus_reading(body, expected):
    assert parse_reply(body) == expected


@pytest.mark.parametrize("body", NEGATED_DECLINES + NEGATED_UNCLEAR)
def test_a_negation_is_never_coming(body):
    assert parse_reply(body) != Answer.ACCEPT


@pytest.mark.parametrize("body", NOT_COMING)
def test_replies_that_do_not_promise_to_come_are_never_coming(body):
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


# "Yes" as members write it, and what may follow or precede it that takes it back.
# fmt: off
YES = ["收到", "收到了", "马上到", "马上过去", "在路上", "好的", "好", "要得", "1", "OK", "👌", "5分钟到", "我来了",
       "馬上來"]
TAKEN_BACK = [
    # negations, plain, dialect, traditional, mistyped
    "去不了", "马上到不了", "不能马上到", "無法前往", "別等我了", "沒空", "來不了", "木得空", "木法去", "冒得空",
    "弗来哉", "覅来", "勿来", "袂去", "朆来", "冇得闲", "唔得闲", "去部了", "走步开", "到布了",
    # refusals and jokes
    "算啦", "才怪", "休想", "免了", "做梦吧", "开玩笑的", "想得美", "没门",
    # away
    "人在昆明", "人在广东", "但我在成都", "在省城", "人在外地", "回不来", "在镇上赶集", "回老家了", "在深圳打工",
    # ill, or someone at home is
    "我在县医院", "在卫生院", "在输液", "孩子发烧", "老人病重", "老婆要生了", "我腿断了", "在诊所打针",
    # later
    "明天", "明早过去", "后天", "过两天回来", "下周", "回头再说", "再说吧", "看情况", "8点到", "2小时后到", "下午过去",
    "等我回来", "等我下班",
    # at work or at a feast
    "在上夜班", "我在加班", "在隔壁村吃酒", "在开会",
]
# fmt: on


def test_a_yes_beside_anything_that_takes_it_back_is_never_coming():
    for yes, fragment, separator in itertools.product(YES, TAKEN_BACK, ["，", " ", "。", ""]):
        for body in (_glue(yes, separator, fragment), _glue(fragment, separator, yes)):
            assert parse_reply(body) != Answer.ACCEPT, body


# Characters no vocabulary list explains: beside a yes they may mean anything.
_EXPLAINING = (
    reply_words.ACCEPTS,
    reply_words.NEUTRAL,
    reply_words.FILLERS,
    reply_words.GOING,
    reply_words.REASSURANCES,
)
_EXPLAINED_CHARACTERS = {ch for words in _EXPLAINING for word in words for ch in word}
_EXPLAINED_CHARACTERS |= reply_words.SHORT_ACCEPTS | reply_words.PARTICLES
_UNEXPLAINED = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF).filter(
    lambda ch: ch not in _EXPLAINED_CHARACTERS and ch.translate(reply_words.TRADITIONAL) not in _EXPLAINED_CHARACTERS
)


@settings(max_examples=1000, deadline=None, database=None)
@given(
    yes=st.sampled_from([*YES, "收到，马上到", "好的，骑车过去", "1 马上到"]),
    unknown=st.text(_UNEXPLAINED, min_size=1, max_size=4),
    separator=st.sampled_from(["，", " ", ""]),
    first=st.booleans(),
)
def test_a_yes_beside_words_nobody_listed_is_never_coming(yes, unknown, separator, first):
    # An acceptance must be explained in full: what is not understood may be a "can't".
    body = _glue(unknown, separator, yes) if first else _glue(yes, separator, unknown)
    assert parse_reply(body) != Answer.ACCEPT, body


def test_traditional_forms_map_one_character_each():
    pairs = reply_words._TRADITIONAL_PAIRS
    assert all(len(pair) == 2 and pair[0] != pair[1] for pair in pairs)
    assert len({pair[0] for pair in pairs}) == len(pairs), "each traditional form is listed once"
    assert "無別沒來過趕到".translate(reply_words.TRADITIONAL) == "无别没来过赶到"


# fmt: off
CALLS_FOR_HELP = [
    "救命，我家着火了", "有贼在我家", "快报警 我被打了", "救命", "救救我", "SOS", "help!", "我家进贼了",
    "家里失火了，快来人", "有人打我", "我被抢了", "我家里有人闯进来", "救命！！有人要杀我", "快帮我报警",
    "家里進賊了", "屋里冒烟了",
]
ABOUT_SOMEONE_ELSE = [
    "已报警", "我报警了", "贼跑了", "火灭了吗", "他家进贼了？", "你家着火了？", "你过来", "快来人", "着火了",
    "收到，马上到", "去不了", "谁家被偷了", "要不要报警", "我家离得近，马上到", "我家里没人，去不了",
]
# fmt: on


@pytest.mark.parametrize("body", CALLS_FOR_HELP)
def test_a_call_for_help_for_the_senders_own_home(body):
    assert is_call_for_help(body)
    assert parse_reply(body) is None, "a call for help is never an answer"


@pytest.mark.parametrize("body", ABOUT_SOMEONE_ELSE)
def test_talk_about_someone_elses_trouble_is_not_a_call_for_help(body):
    assert not is_call_for_help(body)
