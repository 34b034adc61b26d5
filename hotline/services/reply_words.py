"""The words villagers use when they answer an alert by SMS.

Every entry is matched against a reply's letters after NFKC, casefolding and
:data:`TRADITIONAL` (traditional characters read as simplified ones), with
punctuation, emoji and spaces removed, so list each word once in its plain
simplified-Chinese or lower-case form. :mod:`hotline.services.replies` holds
the rules that use these lists.
"""

from __future__ import annotations

# Replies longer than this (letters and digits) are messages, not answers.
MAX_REPLY_CHARS = 30

# The lists below are kept a line per kind of word, not a line per word.
# fmt: off

# Traditional forms of the characters these lists use, each beside its
# simplified form. NFKC leaves traditional characters alone (無 is not 无), so
# without this 無法前往 or 別等我 would look like nothing anybody listed.
_TRADITIONAL_PAIRS = (
    "無无 別别 沒没 來来 過过 趕赶 達达 馬马 後后 說说 這这 會会 還还 們们 門门 開开 給给 頭头 車车 騎骑"
    " 電电 動动 發发 時时 間间 辦办 醫医 衛卫 輸输 燒烧 斷断 對对 謝谢 嗎吗 麼么 麽么 誰谁 幾几 點点 鐘钟"
    " 兩两 個个 幫帮 搶抢 賊贼 殺杀 傷伤 報报 險险 問问 題题 裡里 裏里 邊边 現现 經经 閒闲 閑闲 夠够 嗆呛"
    " 戧戗 難难 離离 帶带 應应 該该 請请 壞坏 話话 錯错 見见 覺觉 氣气 煙烟 災灾 曉晓 縣县 診诊 熱热 腳脚"
    " 產产 親亲 場场 鎮镇 鄉乡 隊队 喲哟 囉啰 嘍喽 唄呗 噠哒 吶呐 額额 誒诶 隨随 兒儿 闊阔 歐欧 衝冲 脫脱"
    " 擔担 絕绝 著着 況况 計计 約约 盡尽 儘尽 廣广 掛挂 輪轮 週周 禮礼 夢梦 強强 盜盗 騙骗 闖闯 槍枪 貳贰"
    " 處处 顧顾 實实 亂乱 鬧闹 聲声 贏赢 讓让 進进 遠远 緊紧 煩烦 勞劳 復复 認认 識识 藥药 針针 護护 鄰邻"
    " 漲涨 淚泪 暈晕 禍祸 滅灭 鬥斗 嚇吓 幹干 飯饭 學学 線线 機机 陣阵 歲岁 講讲 東东 號号 驚惊 術术 檢检"
    " 麗丽 夥伙 媽妈 爺爷 孫孙 婦妇 輛辆 託托 趨趋 級级 樣样 歡欢 聽听 雞鸡 豬猪 貓猫 錢钱 買买"
    " 賣卖 憑凭 隻只 單单 鬆松 準准 確确 試试 爭争 許许 將将 轉转 閃闪 側侧 圍围 內内 區区 廳厅"
).split()
TRADITIONAL = str.maketrans(
    "".join(pair[0] for pair in _TRADITIONAL_PAIRS), "".join(pair[1] for pair in _TRADITIONAL_PAIRS)
)

# Typing 不 with pinyin often gives a character of the same sound (去部了,
# 走步开, 到布了); straight after a way of moving and before the end of a
# "can't" phrase it is read as 不.
NEGATION_TYPOS = "步部布补埠"
NEGATION_TYPO_BEFORE = "到来去走赶过回出"
NEGATION_TYPO_AFTER = "了成到开来去动及"

# Someone telling of trouble, or calling someone else over, not answering an
# alert: a household that texts "着火了，快来" or "你过来" is asking for help
# and must never be filed as a reply.
CALLS_FOR_HELP: tuple[str, ...] = (
    "救", "火", "烟", "贼", "偷", "抢", "盗", "骗", "闯", "杀", "砍", "刀", "枪", "伤", "血",
    "晕", "昏", "摔", "死", "疼", "痛", "撞", "祸", "淹", "溺", "爆", "炸", "煤气", "漏气",
    "警", "帮", "出事", "危险", "不好了", "打架", "打人", "打起来", "被打", "被困", "打我", "撬",
    # people arriving, or someone else doing something
    "来人", "有人", "坏人", "陌生人", "人呢", "人来了", "没人", "个人", "多人", "一群",
    "他", "她", "你",
    # being called over
    "快来", "快点", "快过来", "速来", "速到", "赶紧来", "赶紧过来", "赶快来", "赶快过来", "一下",
)
LATIN_CALLS_FOR_HELP = frozenset({"help", "sos"})

# A call for help about the sender's own home, strong enough to open an
# incident even while a neighbour's alert is asking the sender to answer (see
# replies.is_call_for_help). Words about the alert being answered (已报警,
# 贼跑了, 火灭了) are not enough on their own: TROUBLE needs an OWN word beside it.
CRIES: tuple[str, ...] = ("救命", "救救", "救我", "快救", "呼救")
TROUBLE: tuple[str, ...] = (
    "着火", "失火", "起火", "火灾", "烧起来", "冒烟", "贼", "小偷", "偷", "抢劫", "打劫", "抢钱",
    "抢东西", "被抢", "抢我", "强盗", "打人", "打我", "被打", "打架", "杀人", "杀我", "要杀",
    "砍人", "砍我", "拿刀", "受伤", "流血", "晕倒", "摔倒", "闯进", "闯入", "撬", "煤气", "漏气",
    "中毒", "快报警", "帮我报警", "帮忙报警", "赶紧报警", "请报警",
)
OWN: tuple[str, ...] = (
    "我家", "我们家", "俺家", "咱家", "家里", "屋里", "我屋", "院子里", "我被", "我们被",
    "打我", "杀我", "砍我", "抢我", "偷我", "救我", "帮我", "我受伤", "我这", "我们这", "我门口",
)
# Other people's homes, blanked before OWN is looked for (他家里 is not 家里).
OTHERS_HOMES: tuple[str, ...] = (
    "他们家", "她们家", "你们家", "他家", "她家", "你家", "谁家", "哪家", "别人家", "人家", "邻居家",
)

# Questions get the help text rather than a guess. "A不A" forms (去不去) are
# found by pattern in the rules, not listed here.
QUESTIONS: tuple[str, ...] = (
    "吗", "什么", "甚么", "啥", "怎么", "咋", "谁", "哪", "几点", "多久", "多远", "还是", "是否",
)

# Sayings that contain a negation but mean yes ("no problem"); they are blanked
# out before negations are looked for.
REASSURANCES: tuple[str, ...] = (
    "没问题", "没得问题", "没有问题", "冇问题", "木问题", "莫问题", "木得问题", "莫得问题", "冇得问题",
    "没事", "别急", "莫急", "别慌", "莫慌", "别担心", "不用担心", "不要担心", "不用急", "不要急",
    "别怕", "莫怕", "不要怕", "没毛病",
)

# Any of these makes a reply unable to mean "I'm coming".
NEGATIONS: tuple[str, ...] = (
    "不", "没", "冇", "莫", "别", "甭", "勿", "未", "无", "唔", "毋", "否", "木有", "木得", "木法",
    "么得", "么有", "冒得", "弗", "覅", "朆", "袂", "呒", "嘸",
)

# Words that leave a reply open ("看情况", "再说", "但我在成都"): never an
# acceptance, even beside one, so the sender gets the help text.
HEDGES: tuple[str, ...] = (
    "再说", "看情况", "我看看", "再看看", "看看吧", "看吧", "到时候", "到时", "再看", "也许", "或许", "可能", "尽量",
    "争取", "试试", "但", "可是", "只是", "要是", "如果", "除非", "没事了",
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
    # there already
    "在现场", "到现场", "到场", "到达", "已到场", "已到达",
    # heading that way (往那边赶, 正往村口走)
    *(f"往{place}{move}" for place in ("那边", "那", "现场", "村口", "村头") for move in ("赶", "走", "去", "跑")),
    # yes
    "好的", "好嘞", "好咧", "好勒", "好滴", "得嘞", "要得", "要的", "可以", "阔以", "欧克",
    "没问题", "冇问题", "木问题", "没毛病",
    *(soon + going for soon in SOON for going in GOING),
)

# Words that say nothing against coming: once the accept phrases are taken
# out of a reply, these may be all that is left of it and it still accepts
# ("收到，骑车5分钟到，谢谢"). Anything else left over makes the reply unclear.
NEUTRAL: tuple[str, ...] = (
    # who, and fillers
    "我", "俺", "咱", "我们", "俺们", "咱们", "就", "那", "也", "这", "马上", "立刻", "立马",
    "立即", "即刻", "现在", "这就", "这会", "这会儿", "已", "已经", "正在", "正", "先",
    # how soon, roughly
    "一会", "一会儿", "等下", "等会", "等会儿", "晚点", "稍后", "随后", "稍等", "等等", "很快",
    "尽快", "赶紧", "赶快", "差不多", "还有",
    # how
    "在", "带上", "带着",
    "骑", "骑车", "开车", "开摩托", "开三轮", "坐车", "打车", "摩托", "摩托车", "电动车", "电瓶车", "电驴", "三轮",
    "三轮车", "自行车", "单车", "步行", "走路", "跑步", "上路", "出门", "途中", "穿衣服",
    "穿个衣服", "换衣服", "换个衣服", "穿鞋", "换鞋", "手电", "手电筒", "电筒", "拿手电", "带手电",
    # where to, and what for
    "村口", "村头", "现场", "那边", "那里", "看看", "看一看", "瞧瞧", "带人", "叫人", "喊人",
    # how near
    "附近", "就在附近", "离得近", "离得很近", "很近",
    # thanks and understanding
    "谢谢", "多谢", "辛苦", "辛苦了", "放心", "请放心", "知道", "懂了",
)

# Whole-reply answers: one of these characters, alone or with particles and
# fillers ("好", "行吧", "嗯嗯", "好，马上"), but not inside other words
# (中午, 银行, 看到).
SHORT_ACCEPTS = frozenset("好行中是对嗯恩得妥到来去冲收一壹")
SHORT_DECLINES = frozenset("不否忙二两贰")
PARTICLES = frozenset("了啊阿呀哦噢喔哈啦嘞咧勒咯啰喽呗吧的哒滴哟呐额呃哎诶唉嗷嘛哇哩吖噻呢")
FILLERS: tuple[str, ...] = ("马上", "立刻", "立马", "现在", "这就", "我", "就", "那")

# Negations that combine with a way of moving (不去, 木得来, 弗来) or with
# time (没空, 木得空, 没有时间) into a decline.
_NOT = (
    "不", "没", "冇", "莫", "别", "唔", "弗", "覅", "勿", "甭", "木", "袂", "没得", "冇得", "莫得",
    "木得", "么得", "冒得", "没法", "冇法", "莫法", "木法", "没办法", "无法", "没有", "木有",
)
_NO_TIME = (
    "没", "冇", "莫", "木", "没得", "冇得", "莫得", "木得", "么得", "冒得", "不得", "唔得", "没有", "木有", "么有",
)

# Phrases that mean "I can't come". A decline wins over anything else in the
# reply, so every phrase here is also safe inside a longer text.
DECLINES: tuple[str, ...] = (
    # can't get there
    "去不了", "来不了", "到不了", "去不成", "来不成", "去不到", "来不到", "过不去", "过不来",
    "赶不", "走不开", "走不了", "脱不开", "离不开", "抽不开", "出不去", "出不来", "回不来",
    "来不及", "搞不赢", "来不赢", "去不赢", "走不脱", "脱不了身", "难以", "很难", "够呛", "够戗",
    "去不得", "来不得", "走不动", "抽不出", "分不开身", "顾不上", "搞不定", "未能", "不克", "无力",
    # no
    "不能", "不行", "不可以", "不中", "不得行", "要不得", "不方便", "不了", "唔得", "算了", "算啦",
    "下次", "下回", "改天", "改日", "拒绝", "请假", "缺席", "别等我", "不用等", "找别人", "叫别人",
    "让别人", "懒得",
    # not meant: a refusal, or a yes taken back as a joke
    "才怪", "休想", "免了", "免谈", "拉倒", "没门", "门都没有", "做梦", "想得美", "美得你",
    "开玩笑", "开个玩笑", "逗你",
    # later, not now
    "明天", "明早", "明晚", "明儿", "明日", "后天", "过两天", "过几天", "过阵子", "过段时间",
    "下周", "下星期", "下礼拜", "下个月", "回头", "以后",
    # busy or away
    "没法", "没办法", "无法", "冇法", "冇办法", "冇得法", "莫法", "没得法", "木法",
    "有事", "有点事", "有点忙", "忙完", "在忙", "忙着", "太忙", "很忙", "正忙", "在外", "外地", "外出", "外省",
    "出差", "不在", "在城里", "进城", "在县城", "在县里", "在市里", "省城", "在省里", "老家",
    "走亲戚", "赶集", "打工", "上班", "夜班", "加班", "值班", "开会",
    "喝了酒", "喝酒", "喝多了", "喝醉", "吃酒", "喜酒", "吃席", "酒席", "车坏了", "太远",
    # unwell, or caring for someone who is
    "不舒服", "病", "住院", "医院", "卫生院", "诊所", "输液", "打针", "吊瓶", "挂水", "点滴",
    "发烧", "感冒", "要生", "生了", "生孩子", "坐月子", "断了", "骨折", "带孩子", "带娃",
    "看孩子", "照顾",
    # sorry
    "抱歉", "对不起", "对不住", "对唔住", "不好意思",
    # a negation before a way of moving (不去, 没法去, 不能马上到) or time (没空, 木得空)
    *(negation + going for negation in _NOT for going in GOING),
    *(negation + time for negation in _NO_TIME for time in ("空", "得空", "时间", "闲", "得闲")),
)

LATIN_ACCEPTS = frozenset(
    {"ok", "okay", "okk", "yes", "y", "ya", "yeah", "yep", "hao", "haode", "shoudao", "coming", "omw"}
)
LATIN_DECLINES = frozenset(
    {"no", "n", "nope", "not", "dont", "cant", "cannot", "unable", "busy", "sorry", "bu", "buxing", "buneng"}
)

# Emoji read as words before other symbols are dropped.
EMOJI_WORDS: dict[str, str] = {
    "👌": "ok", "👍": "ok", "✅": "ok", "✔": "ok", "🆗": "ok", "🙆": "ok",
    "👎": "no", "❌": "no", "🙅": "no", "✖": "no", "✗": "no", "✘": "no", "×": "no",
}
# fmt: on
