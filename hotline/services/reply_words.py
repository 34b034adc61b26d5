"""The words villagers use when they answer an alert by SMS.

Every entry is matched against a reply's letters after NFKC and casefolding,
with punctuation, emoji and spaces removed, so list each word once in its
plain simplified-Chinese or lower-case form. :mod:`hotline.services.replies`
holds the rules that use these lists.
"""

from __future__ import annotations

# Replies longer than this (letters and digits) are messages, not answers.
MAX_REPLY_CHARS = 30

# Someone telling of trouble, or calling someone else over, not answering an
# alert: a household that texts "着火了，快来" or "你过来" is asking for help
# and must never be filed as a reply.
CALLS_FOR_HELP: tuple[str, ...] = (
    "救", "火", "烟", "贼", "偷", "抢", "盗", "骗", "闯", "杀", "砍", "刀", "枪", "伤", "血",
    "晕", "昏", "摔", "死", "疼", "痛", "撞", "祸", "淹", "溺", "爆", "炸", "煤气", "漏气",
    "警", "帮", "出事", "危险", "不好了", "打架", "打人", "打起来", "被打", "被困",
    # people arriving, or someone else doing something
    "来人", "有人", "坏人", "陌生人", "人呢", "人来了", "没人", "个人", "多人", "一群",
    "他", "她", "你",
    # being called over
    "快来", "快点", "快过来", "速来", "速到", "赶紧来", "赶紧过来", "赶快来", "赶快过来", "一下",
)
LATIN_CALLS_FOR_HELP = frozenset({"help", "sos"})

# Questions get the help text rather than a guess. "A不A" forms (去不去) are
# found by pattern in the rules, not listed here.
QUESTIONS: tuple[str, ...] = (
    "吗", "什么", "啥", "怎么", "咋", "谁", "哪", "几点", "多久", "多远", "还是", "是否",
)

# Sayings that contain a negation but mean yes ("no problem"); they are blanked
# out before negations are looked for.
REASSURANCES: tuple[str, ...] = (
    "没问题", "没得问题", "没有问题", "冇问题", "木问题", "莫问题", "没事", "别急", "莫急",
    "别慌", "莫慌", "别担心", "不用担心", "不要担心", "不用急", "不要急",
)

# Any of these makes a reply unable to mean "I'm coming".
NEGATIONS: tuple[str, ...] = (
    "不", "没", "沒", "冇", "莫", "别", "甭", "勿", "未", "无", "唔", "毋", "否", "木有", "么得",
)

# Ways of being on the move. Combined with SOON and with negations below.
GOING: tuple[str, ...] = (
    "到", "来", "去", "过来", "过去", "出发", "赶到", "赶来", "赶去", "赶过来", "赶过去",
    "赶往", "前往", "动身",
)
SOON: tuple[str, ...] = (
    "我", "就", "马上", "立刻", "立马", "立即", "即刻", "这就", "现在", "已", "已经",
    "一会", "一会儿", "等下", "等会", "等会儿", "晚点", "稍后", "随后", "分钟", "正在", "在",
)

# Phrases that mean "I'm coming" wherever they appear in a short reply. Bare
# 到了 and 来了 are left to the whole-reply answers below: inside longer texts
# they are often something else (看到了, 回来了, 来了几个人).
ACCEPTS: tuple[str, ...] = (
    # received, understood
    "收到", "收倒", "收道", "晓得", "知道了", "知到了", "明白", "了解",
    # on the way
    "快到了", "过来了", "过去", "出发", "赶往", "前往", "动身", "赶过来", "赶过去", "赶紧去",
    "赶紧过去", "赶快去", "赶快过去", "在路上", "路上", "在赶", "出门了", "等我",
    # yes
    "好的", "好嘞", "好咧", "好勒", "好滴", "得嘞", "要得", "要的", "可以", "阔以", "欧克",
    "没问题", "冇问题", "木问题",
    *(soon + going for soon in SOON for going in GOING),
)

# Whole-reply answers: one of these characters, alone or with particles and
# fillers ("好", "行吧", "嗯嗯", "好，马上"), but not inside other words
# (中午, 银行, 看到).
SHORT_ACCEPTS = frozenset("好行中是对嗯恩得妥到来去冲收一壹")
SHORT_DECLINES = frozenset("不否忙二两贰")
PARTICLES = frozenset("了啊阿呀哦噢喔哈啦嘞咧勒咯啰喽呗吧的哒滴哟呐额呃哎诶唉嗷")
FILLERS: tuple[str, ...] = ("马上", "立刻", "立马", "现在", "这就", "我", "就", "那")

# Phrases that mean "I can't come". A decline wins over anything else in the
# reply, so every phrase here is also safe inside a longer text.
DECLINES: tuple[str, ...] = (
    # can't get there
    "去不了", "来不了", "到不了", "去不成", "来不成", "去不到", "来不到", "过不去", "过不来",
    "赶不", "走不开", "走不了", "脱不开", "离不开", "抽不开", "出不去", "出不来", "回不来",
    "来不及", "搞不赢", "来不赢", "去不赢", "走不脱", "脱不了身", "难以", "很难", "够呛", "够戗",
    "去不得", "来不得", "走不动", "抽不出", "分不开身", "顾不上", "搞不定", "未能", "不克", "无力",
    # no
    "不能", "不行", "不可以", "不中", "不得行", "要不得", "不方便", "不了", "唔得", "算了",
    "下次", "下回", "改天", "拒绝", "请假", "缺席", "别等我", "不用等", "找别人", "叫别人", "让别人",
    # busy or away
    "没空", "没时间", "没得空", "冇得空", "冇空", "冇时间", "莫得空", "么得空", "么得时间",
    "木有空", "不得空", "没得时间", "莫得时间", "冇得闲", "冇闲", "唔得闲", "不得闲",
    "没法", "没办法", "无法", "冇法", "冇办法", "冇得法", "莫法", "没得法", "有事", "有点事", "在忙", "忙着", "太忙",
    "很忙", "正忙", "在外", "外地", "外出", "出差", "不在", "在城里", "进城", "在县城",
    "在县里", "在市里", "打工", "上班", "喝了酒", "喝酒了", "喝多了", "喝醉", "车坏了", "太远",
    # unwell
    "不舒服", "生病", "病了", "住院", "在医院",
    # sorry
    "抱歉", "对不起", "对不住", "对唔住", "不好意思",
    # a negation before a way of moving: 不去, 没法去, 不能马上到
    *(negation + going for negation in ("不", "没", "冇", "莫", "别", "唔") for going in GOING),
)

LATIN_ACCEPTS = frozenset({"ok", "okay", "okk", "yes", "y", "ya", "yeah", "yep", "hao", "haode", "shoudao"})
LATIN_DECLINES = frozenset(
    {"no", "n", "nope", "not", "dont", "cant", "cannot", "unable", "busy", "sorry", "bu", "buxing", "buneng"}
)

# Emoji read as words before other symbols are dropped.
EMOJI_WORDS: dict[str, str] = {
    "👌": "ok", "👍": "ok", "✅": "ok", "✔": "ok", "🆗": "ok", "🙆": "ok",
    "👎": "no", "❌": "no", "🙅": "no",
}
