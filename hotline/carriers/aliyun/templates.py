"""The registered templates: which Aliyun SMS template and TTS code says each of the project's messages.

Aliyun sends only templates registered (and reviewed) in its console. A
station registers one SMS template per ``sms_*`` key and one TTS template per
prompt a call may play, with variables named like the project's placeholders
(``${caller_name}``), and writes their codes into a TOML file
(``HOTLINE_ALIYUN_TEMPLATES``)::

    [limits]
    sms = 35     # characters per SMS variable
    voice = 20   # characters per TTS variable

    [sms_alert]
    code = "SMS_123456789"
    params = ["caller_name", "group", "time", "address"]

A drill's texts and prompts start by saying it is a drill, which a
registered template cannot add to itself: every key a drill sends has a
second template, its drill variant, under the key with ``.drill`` appended
(``["sms_alert.drill"]``), worded like the first after the drill's words.

Broadcasts (:mod:`hotline.services.broadcasts`) have an SMS template and a
TTS template (a voice notice, placed with ``SingleCallByTts``) per kind:
``[sms_broadcast_fraud]`` and ``[voice_broadcast_fraud]`` say the kind's
words inside the broadcast's own (``broadcast_sms``, ``broadcast_voice``),
with the station's name and the sender's values as variables. Broadcasts are
never drills: they have no drill variants. Their values are never shortened:
a broadcast with a value over the limit is refused before it is sent
(:meth:`Templates.problems`).

The file is checked when the carrier is built (at start-up): every key the
service sends, and its drill variant, must have a code, and every parameter
must be a value the service has and one that fits the limit or may be
shortened to fit.
"""

from __future__ import annotations

import json
import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.templates import as_sentence, load_templates, render

# Every prompt an IvrCall may play: the screening prompts, and what each key answers.
VOICE_KEYS = (
    "voice_screen",
    "voice_screen_escalation",
    "voice_screen_escalation_officers_silent",
    "voice_screen_unregistered",
    "voice_screen_ack_only",
    "voice_goodbye",
    "voice_caller_check",
    "voice_caller_check_kept",
    "voice_caller_cancelled",
)

# Values every incident's messages carry besides their template's own placeholders.
INCIDENT_VALUES = ("caller_name", "caller_phone", "address", "group", "village", "time")

# The longest each value of bounded length can be; any other value (names, addresses,
# forwarded texts) is shortened to the limit, ending with the language's ellipsis.
BOUNDED_LENGTHS = {
    "caller_phone": 16,  # E.164: + and at most 15 digits
    "time": 12,  # 12月31日 23:59 / 31 Dec 23:59
    "count": 4,
    "accepted": 4,
    "needed": 4,
    "waited": 8,  # 59分59秒
}

# A key's drill variant is registered under the key with this appended.
DRILL_SUFFIX = ".drill"
# Keys a drill never sends: a forward from a number in no group and the duty line's call
# for one, and the call back to a caller whose call dropped (a drill's household is never on the line).
NOT_IN_DRILLS = frozenset(
    {
        "sms_unregistered_forward", "voice_screen_unregistered", "voice_caller_check", "voice_caller_check_kept",
        "voice_caller_cancelled",
    }
)

# The kinds of broadcast (hotline.services.broadcasts.KINDS), each with an SMS template
# and a voice notice: ``sms_broadcast_fraud``, ``voice_broadcast_fraud``.
BROADCAST_KINDS = ("bulletin", "fraud", "weather", "free")
BROADCAST_PREFIX = "broadcast_"

DEFAULT_LIMITS = {"sms": 35, "voice": 20}
_CODE = {"sms": re.compile(r"SMS_[0-9]{6,20}"), "voice": re.compile(r"TTS_[0-9]{6,20}")}
PLACEHOLDER_CODE = {"sms": "SMS_000000000", "voice": "TTS_000000000"}


class TemplatesError(ValueError):
    """The templates file is missing, malformed or incomplete; the message says what, in the operator's language."""


@dataclass(frozen=True)
class Registered:
    """One registered template: its code and the project's values it takes, by name."""

    key: str
    code: str
    params: tuple[str, ...]
    limit: int


def kind(key: str) -> str:
    """``sms`` for an SMS template key (or its drill variant), ``voice`` for a prompt."""
    return "sms" if key.startswith("sms_") else "voice"


def drill_variant(key: str) -> str:
    """The key a drill's message of ``key`` is registered under: ``sms_alert.drill``."""
    return key + DRILL_SUFFIX


def base_key(key: str) -> str:
    """The project's template key of a registered key, without ``.drill``."""
    return key.removesuffix(DRILL_SUFFIX)


def broadcast_keys() -> list[str]:
    """The keys of every broadcast's SMS and voice notice: ``sms_broadcast_bulletin``, ``voice_broadcast_bulletin``…"""
    return [f"{channel}_{BROADCAST_PREFIX}{name}" for name in BROADCAST_KINDS for channel in ("sms", "voice")]


def is_broadcast(key: str) -> bool:
    """Whether ``key`` is a broadcast's SMS or voice notice."""
    return key.removeprefix("sms_").removeprefix("voice_").startswith(BROADCAST_PREFIX)


def required_keys(language: str) -> list[str]:
    """Every key the service sends through this carrier: all SMS templates and the call prompts,
    then the drill variant of each that a drill may send, then the broadcasts' SMS and voice notices."""
    keys = [key for key in load_templates(language) if key.startswith("sms_")] + list(VOICE_KEYS)
    return keys + [drill_variant(key) for key in keys if key not in NOT_IN_DRILLS] + broadcast_keys()


def pattern(language: str, key: str) -> str:
    """The project's words of ``key`` (or of the key a drill variant is of), placeholders written ``{name}``.

    A broadcast's are the kind's words inside the broadcast's SMS or spoken
    notice, as :func:`hotline.services.broadcasts.compose` puts them.
    """
    templates = load_templates(language)
    key = base_key(key)
    if not is_broadcast(key):
        return templates[key]
    channel, _, name = key.partition("_")
    inner = as_sentence(templates[name])
    return templates[f"{BROADCAST_PREFIX}{channel}"].replace("{text}", inner)


def _registered_pattern(language: str, key: str) -> str:
    """The words to register for ``key``, placeholders still written ``{name}``.

    Aliyun puts the sign name first, in 【】, and refuses 【】 anywhere in a
    template: a text's own leading 【…】 is left to the sign name, unless it
    holds a value (a broadcast's station), which then leads the text as
    "…：", as a drill's 【演练】 becomes "演练：".
    """

    def lead(match: re.Match[str]) -> str:
        return match.group(1) + "：" if "{" in match.group(1) else ""

    text = re.sub(r"^【([^】]*)】", lead, pattern(language, key))
    if key.endswith(DRILL_SUFFIX):
        prefix = render(language, "drill_sms_prefix" if kind(key) == "sms" else "drill_voice_prefix")
        text = re.sub(r"【([^】]*)】\s*", r"\1：", prefix) + text
    return text


def placeholders(language: str, key: str) -> list[str]:
    """The placeholders of the registered words of ``key`` (see :func:`wording`), in order, each once."""
    names: list[str] = []
    for _, name, _, _ in string.Formatter().parse(_registered_pattern(language, key)):
        if name and name not in names:
            names.append(name)
    return names


class Templates:
    """The checked templates file.

    Raises:
        TemplatesError: On construction, for anything that would make a message unsendable.
    """

    def __init__(self, entries: Mapping[str, Registered], language: str) -> None:
        self._entries = dict(entries)
        self.language = language

    @classmethod
    def load(cls, path: str | Path, language: str) -> Templates:
        """Read and check the file at ``path`` for messages in ``language``.

        Raises:
            TemplatesError: Naming the file and every problem found.
        """
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise TemplatesError(f"无法读取阿里云模板文件 {path}：{exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise TemplatesError(f"阿里云模板文件 {path} 格式有误：{exc}") from None
        return cls.parse(data, language, source=str(path))

    @classmethod
    def parse(cls, data: Mapping[str, Any], language: str, *, source: str = "模板文件") -> Templates:
        """Check parsed TOML; see :meth:`load`."""
        problems: list[str] = []
        limits = dict(DEFAULT_LIMITS)
        raw_limits = data.get("limits", {})
        if not isinstance(raw_limits, dict):
            raw_limits = {}
            problems.append("[limits] 应为表")
        for name, value in raw_limits.items():
            if name not in limits or not isinstance(value, int) or not 1 <= value <= 500:
                problems.append(f"[limits] {name} = {value!r}：应为 sms 或 voice，取 1 至 500 的整数")
            else:
                limits[name] = value
        entries: dict[str, Registered] = {}
        for key in required_keys(language):
            entry = data.get(key)
            if not isinstance(entry, dict):
                problems.append(f"[{key}] 缺失：每条短信和语音提示都需要登记的模板")
                continue
            registered = _entry(key, entry, language, limits[kind(key)], problems)
            if registered is not None:
                entries[key] = registered
        if problems:
            raise TemplatesError(f"阿里云模板文件 {source} 有误：\n  " + "\n  ".join(problems))
        return cls(entries, language)

    def get(self, key: str) -> Registered:
        """The registered template of ``key``.

        Raises:
            KeyError: ``key`` is not a message this carrier sends.
        """
        return self._entries[key]

    def wording_by_code(self) -> dict[str, str]:
        """What each registered code says (see :func:`wording`), for the simulator to show on its phones."""
        return {entry.code: wording(self.language, key) for key, entry in self._entries.items()}

    def problems(self, key: str, params: Mapping[str, str]) -> list[str]:
        """Why ``key`` with ``params`` cannot be sent as it is, in Chinese: not registered, a value
        missing, or a value longer than one variable may be (which :meth:`values` would cut). Empty if none.
        """
        registered = self._entries.get(key)
        if registered is None:
            return [f"阿里云模板文件中没有登记 [{key}]：请在阿里云控制台登记该模板，并把代码写入模板文件"]
        what = "短信" if kind(key) == "sms" else "语音"
        found = []
        for name in registered.params:
            value = params.get(name)
            if value is None:
                found.append(f"[{key}] 需要变量 {name}，但没有这个值")
            elif len(str(value)) > registered.limit:
                found.append(
                    f"变量 {name} 有 {len(str(value))} 字，超过阿里云{what}模板（[{key}]）每个变量 "
                    f"{registered.limit} 字的限制：请删减到 {registered.limit} 字以内；若登记的模板类型允许更长的变量，"
                    f"可调高模板文件 [limits] 中的 {kind(key)}"
                )
        return found

    def values(self, key: str, params: Mapping[str, str]) -> str:
        """The JSON of a template's variables from the project's values, each shortened to the limit.

        Raises:
            KeyError: ``key`` is not registered, or a value it takes was not given.
        """
        registered = self._entries[key]
        ellipsis = render(self.language, "ellipsis")
        chosen = {name: shorten(str(params[name]), registered.limit, ellipsis) for name in registered.params}
        return json.dumps(chosen, ensure_ascii=False, separators=(",", ":"))


def shorten(value: str, limit: int, ellipsis: str) -> str:
    """``value`` cut to ``limit`` characters, its cut marked with ``ellipsis``.

    Messages are already shortened to fit the SMS length when composed; this
    only cuts what is still longer than one Aliyun variable may be.
    """
    if len(value) <= limit:
        return value
    keep = max(limit - len(ellipsis), 0)
    return (value[:keep] + ellipsis)[:limit]


def _entry(key: str, entry: Mapping[str, Any], language: str, limit: int, problems: list[str]) -> Registered | None:
    code = entry.get("code")
    pattern = _CODE[kind(key)]
    if not isinstance(code, str) or not pattern.fullmatch(code):
        sample = PLACEHOLDER_CODE[kind(key)][:4] + "123456789"
        problems.append(f"[{key}] code = {code!r}：应为阿里云控制台中登记的模板代码，如 {sample}")
        return None
    if code == PLACEHOLDER_CODE[kind(key)]:
        problems.append(f"[{key}] code 仍是示例的占位代码，请填入登记后的模板代码")
        return None
    params = entry.get("params", [])
    if not isinstance(params, list) or not all(isinstance(name, str) for name in params):
        problems.append(f"[{key}] params 应为变量名列表")
        return None
    known = set(placeholders(language, key)) | (set() if is_broadcast(key) else set(INCIDENT_VALUES))
    for name in params:
        if name not in known:
            problems.append(f"[{key}] 变量 {name!r} 不是该消息的内容；可用：{', '.join(sorted(known))}")
        elif BOUNDED_LENGTHS.get(name, 0) > limit:
            problems.append(
                f"[{key}] 变量 {name!r} 最长 {BOUNDED_LENGTHS[name]} 字，超过每个变量 {limit} 字的限制且不能截短"
            )
    return Registered(key=key, code=code, params=tuple(params), limit=limit)


def wording(language: str, key: str) -> str:
    """The words to register for ``key`` (or its drill variant), variables written ``${name}``.

    Aliyun puts the sign name first, in 【】, and refuses 【】 anywhere in a
    template: a text's own leading 【…】 is left to the sign name (or, holding
    a value, leads the text as "…："), and a drill's 【演练】 becomes "演练：".
    """
    return re.sub(r"\{(\w+)\}", r"${\1}", _registered_pattern(language, key))


def example(language: str) -> str:
    """A complete templates file: every key with a placeholder code, its variables, and the wording to register."""
    lines = [
        "# 阿里云短信与语音模板（HOTLINE_ALIYUN_TEMPLATES）。",
        "# 每一项对应一条短信或语音提示：在阿里云控制台按注释中的内容登记模板（变量名与 params 相同），",
        "# 审核通过后把 code 换成控制台给出的模板代码（短信 SMS_…，语音 TTS_…）。",
        "# 短信开头的【…】由签名代替（模板中不能有【】）。以 .drill 结尾的项是演练时发送的版本，开头说明是演练。",
        "# 每个变量的长度有限制（见 [limits]，以控制台当前规则为准）；地址、姓名等较长的值会被截短。",
        "# 群发（sms_broadcast_…、voice_broadcast_…，语音群发以语音通知拨打）没有演练版本，内容也不会截短：",
        "# 变量超过限制的群发在发送前即被拒绝，请删减内容，或在登记的模板类型允许时调高 [limits]。",
        "",
        "[limits]",
        f"sms = {DEFAULT_LIMITS['sms']}",
        f"voice = {DEFAULT_LIMITS['voice']}",
    ]
    for key in required_keys(language):
        what = ("群发" if is_broadcast(key) else "") + ("短信" if kind(key) == "sms" else "语音")
        lines += [
            "",
            f"# {what}：{wording(language, key)}",
            f"[{json.dumps(key) if DRILL_SUFFIX in key else key}]",
            f"code = {json.dumps(PLACEHOLDER_CODE[kind(key)])}",
            f"params = {json.dumps(placeholders(language, key), ensure_ascii=False)}",
        ]
    return "\n".join(lines) + "\n"


def filled_example(language: str, number: int = 100000000) -> str:
    """The example with distinct well-formed codes, as a station's filled-in file would be (for tests)."""
    text = example(language)
    counter = iter(range(number, number + 1000))
    return re.sub(r'"(SMS|TTS)_000000000"', lambda match: f'"{match.group(1)}_{next(counter)}"', text)
