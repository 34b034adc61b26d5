"""Settings for hotline, read from the environment when the app is created.

Nothing here reads ``os.environ`` at import time: :func:`load_settings` is
given the mapping to read, so the app factory, the workers and the tests each
decide where their settings come from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

DEFAULT_ESCALATION_DELAYS = (60, 180)
# An escalation level waits at most an hour: an alert nobody took must reach the officers and the
# duty line the same hour, and a longer wait once overflowed the date of the next level.
MAX_ESCALATION_DELAY = 3600
# Levels a list of delays may name (only the officers' and the duty line's are used today).
MAX_ESCALATION_LEVELS = 10


class SettingsError(ValueError):
    """One or more settings are invalid; the message names each variable.

    Each of ``problems`` is one line, ``HOTLINE_X：why, and how to put it right``;
    the message is those lines under a header, in Chinese (the operators' language).
    """

    HEADER = "设置有误："

    def __init__(self, *problems: str) -> None:
        self.problems = problems
        super().__init__(self.HEADER + "".join(f"\n  {problem}" for problem in problems))


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _parse_bool(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError("只能是 1/0、true/false、yes/no、on/off 之一")
    return value


def _check_delays(value: tuple[int, ...]) -> tuple[int, ...]:
    if not value:
        raise ValueError("至少要写一级的等待秒数，例如 60,180")
    if any(delay <= 0 for delay in value):
        raise ValueError("每一级的等待都要大于 0 秒，例如 60,180")
    if len(value) > MAX_ESCALATION_LEVELS:
        raise ValueError(f"最多 {MAX_ESCALATION_LEVELS} 级，这里有 {len(value)} 级，例如 60,180")
    if any(delay > MAX_ESCALATION_DELAY for delay in value):
        raise ValueError(f"每一级最多等 {MAX_ESCALATION_DELAY} 秒（1 小时），例如 60,180")
    return value


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


CsvInts = Annotated[tuple[int, ...], BeforeValidator(_split_csv), AfterValidator(_check_delays)]
CsvStrs = Annotated[tuple[str, ...], BeforeValidator(_split_csv)]
Flag = Annotated[bool, BeforeValidator(_parse_bool)]
OptionalStr = Annotated[str | None, BeforeValidator(_blank_to_none)]


# Carriers hotline can send through; HOTLINE_CARRIER picks one.
CARRIERS = ("twilio", "simulator", "aliyun")


class Settings(BaseModel):
    """Validated settings. Field aliases are the environment variable names."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    database_url: OptionalStr = Field(None, alias="DATABASE_URL")
    redis_url: OptionalStr = Field(None, alias="REDIS_URL")
    secret_key: OptionalStr = Field(None, alias="HOTLINE_SECRET_KEY")
    public_url: str = Field("http://127.0.0.1:5000", alias="HOTLINE_PUBLIC_URL")
    carrier_name: OptionalStr = Field(None, alias="HOTLINE_CARRIER")
    twilio_account_sid: OptionalStr = Field(None, alias="HOTLINE_TWILIO_ACCOUNT_SID")
    twilio_auth_tokens: CsvStrs = Field((), alias="HOTLINE_TWILIO_AUTH_TOKEN")
    twilio_number: OptionalStr = Field(None, alias="HOTLINE_TWILIO_NUMBER")
    twilio_api_base: str = Field("https://api.twilio.com", alias="HOTLINE_TWILIO_API_BASE")
    # Alibaba Cloud (HOTLINE_CARRIER=aliyun): voice (Dyvms) and SMS (Dysms) with registered templates.
    aliyun_access_key_id: OptionalStr = Field(None, alias="HOTLINE_ALIYUN_ACCESS_KEY_ID")
    aliyun_access_key_secret: OptionalStr = Field(None, alias="HOTLINE_ALIYUN_ACCESS_KEY_SECRET")
    aliyun_sign_name: OptionalStr = Field(None, alias="HOTLINE_ALIYUN_SIGN_NAME")
    aliyun_caller_number: OptionalStr = Field(None, alias="HOTLINE_ALIYUN_CALLER_NUMBER")
    aliyun_templates: OptionalStr = Field(None, alias="HOTLINE_ALIYUN_TEMPLATES")
    aliyun_receipt_token: OptionalStr = Field(None, alias="HOTLINE_ALIYUN_RECEIPT_TOKEN")
    aliyun_sms_endpoint: str = Field("https://dysmsapi.aliyuncs.com", alias="HOTLINE_ALIYUN_SMS_ENDPOINT")
    aliyun_voice_endpoint: str = Field("https://dyvmsapi.aliyuncs.com", alias="HOTLINE_ALIYUN_VOICE_ENDPOINT")
    default_region: str = Field("CN", alias="HOTLINE_DEFAULT_REGION")
    escalation_delays: CsvInts = Field(DEFAULT_ESCALATION_DELAYS, alias="HOTLINE_ESCALATION_DELAYS")
    # Past the last level, officers and duty line are called again this often (0: never).
    escalation_repeat: int = Field(120, alias="HOTLINE_ESCALATION_REPEAT", ge=0, le=3600)
    # Members who have not answered are called again this often, this many times (0 rounds: never).
    recall_interval: int = Field(180, alias="HOTLINE_RECALL_INTERVAL", ge=5, le=3600)
    recall_rounds: int = Field(3, alias="HOTLINE_RECALL_ROUNDS", ge=0, le=10)
    # A caller whose call dropped before anyone accepted is called back after this many seconds.
    callback_delay: int = Field(30, alias="HOTLINE_CALLBACK_DELAY", ge=5, le=600)
    # A drill's group should be covered within this many seconds; a station may set its own.
    drill_standard_seconds: int = Field(180, alias="HOTLINE_DRILL_STANDARD_SECONDS", ge=10, le=3600)
    notify_on_ack: Flag = Field(True, alias="HOTLINE_NOTIFY_ON_ACK")
    max_group_size: int = Field(10, alias="HOTLINE_MAX_GROUP_SIZE", ge=2, le=250)
    ring_timeout: int = Field(30, alias="HOTLINE_RING_TIMEOUT", ge=5, le=600)
    db_timeout: int = Field(5, alias="HOTLINE_DB_TIMEOUT", ge=1, le=120)
    webhook_deadline: float = Field(1.5, alias="HOTLINE_WEBHOOK_DEADLINE", gt=0, le=10)
    sweep_interval: int = Field(10, alias="HOTLINE_SWEEP_INTERVAL", ge=1, le=300)
    sweep_grace: int = Field(15, alias="HOTLINE_SWEEP_GRACE", ge=1, le=600)
    # A claim is only presumed orphaned once it has outlived the carrier's 10 s request timeout.
    claim_timeout: int = Field(30, alias="HOTLINE_CLAIM_TIMEOUT", ge=15, le=3600)
    language: str = Field("zh", alias="HOTLINE_LANGUAGE")
    # A Twilio text-to-speech voice speaking HOTLINE_LANGUAGE; None picks the language's default.
    # Checked against Twilio's list when the app starts (hotline/carriers/twilio/voices.py).
    voice: OptionalStr = Field(None, alias="HOTLINE_VOICE")
    simulator_url: str = Field("http://127.0.0.1:5050", alias="HOTLINE_SIMULATOR_URL")
    simulator_auth_token: str = Field("hotline-simulator", alias="HOTLINE_SIMULATOR_AUTH_TOKEN")
    simulator_number: str = Field("+8657188880000", alias="HOTLINE_SIMULATOR_NUMBER")
    fallback_phone: OptionalStr = Field(None, alias="HOTLINE_FALLBACK_PHONE")
    timezone: str = Field("Asia/Shanghai", alias="HOTLINE_TIMEZONE")
    # Sends the sending number (or account) may hand the carrier in any one second, shared by every worker.
    # Twilio: 1 SMS/s on a long code, 3 toll-free, 100+ short code; REST calls 1/s unless raised.
    sms_per_second: int = Field(10, alias="HOTLINE_SMS_PER_SECOND", ge=1, le=10000)
    calls_per_second: int = Field(5, alias="HOTLINE_CALLS_PER_SECOND", ge=1, le=10000)
    # The part of those rates broadcasts may use while an emergency is under way (the whole rate otherwise);
    # the rest stays free so the emergency's texts leave at once.
    broadcast_share: float = Field(0.8, alias="HOTLINE_BROADCAST_SHARE", gt=0, le=1)
    # Local hours no spoken broadcast is placed ("21:00-08:00"); a station may set its own.
    quiet_hours: str = Field(
        "21:00-08:00", alias="HOTLINE_QUIET_HOURS", pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$"
    )
    # Sends one worker process keeps in flight at the carrier.
    send_concurrency: int = Field(10, alias="HOTLINE_SEND_CONCURRENCY", ge=1, le=200)
    # Bearer token that GET /metrics requires; unset, /metrics does not exist (404).
    metrics_token: OptionalStr = Field(None, alias="HOTLINE_METRICS_TOKEN")
    # Reverse proxies in front of the web app (0: none, so X-Forwarded-* headers are ignored).
    proxy_count: int = Field(0, alias="HOTLINE_PROXY_COUNT", ge=0, le=5)
    # A console session unused this long is over; the live board's refresh counts as use.
    session_idle_minutes: int = Field(60, alias="HOTLINE_SESSION_IDLE_MINUTES", ge=1, le=7 * 24 * 60)

    @field_validator("public_url", "twilio_api_base", "simulator_url", "aliyun_sms_endpoint", "aliyun_voice_endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("要写成 http:// 或 https:// 开头的网址")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # Heroku-style URLs say postgres://, which SQLAlchemy no longer accepts.
        if value.startswith("postgres://"):
            value = "postgresql+psycopg://" + value[len("postgres://") :]
        elif value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://") :]
        if not value.startswith(("postgresql+psycopg://", "sqlite://")):
            raise ValueError("要写成 postgresql:// 或 sqlite:/// 开头的数据库地址")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("要写成 redis://、rediss:// 或 unix:// 开头的地址")
        return value

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        value = value.upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("不是电话号码库认识的地区代码，要写成例如 CN")
        return value

    @field_validator("twilio_account_sid")
    @classmethod
    def _account_sid(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("AC") and len(value) == 34):
            raise ValueError("要写成 AC 加 32 位十六进制数字")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("不是时区名称，要写成例如 Asia/Shanghai") from None
        return value

    @field_validator("twilio_number", "simulator_number", "fallback_phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parsed = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException as exc:
            raise ValueError("要写成 E.164 格式的号码，例如 +8657188880000") from exc
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        from config.templates import available_languages

        if value not in available_languages():
            raise ValueError(f"没有这种语言的短信和语音模板，可选：{'、'.join(available_languages())}")
        return value

    @property
    def carrier(self) -> str:
        """The carrier's name: ``HOTLINE_CARRIER``, or Twilio when its credentials are set, else the simulator."""
        if self.carrier_name:
            return self.carrier_name
        return "twilio" if self.twilio_account_sid and self.twilio_auth_tokens else "simulator"

    @property
    def uses_twilio(self) -> bool:
        """True when Twilio is the carrier."""
        return self.carrier == "twilio"

    @property
    def auth_tokens(self) -> tuple[str, ...]:
        """Tokens that may sign an incoming webhook."""
        return self.twilio_auth_tokens if self.uses_twilio else (self.simulator_auth_token,)

    @property
    def hotline_number(self) -> str:
        """The number villagers dial, as the carrier presents it."""
        if self.uses_twilio and self.twilio_number:
            return self.twilio_number
        return self.simulator_number


# What HOTLINE_CARRIER=aliyun cannot work without.
_ALIYUN_REQUIRED = {
    "HOTLINE_ALIYUN_ACCESS_KEY_ID": "aliyun_access_key_id",
    "HOTLINE_ALIYUN_ACCESS_KEY_SECRET": "aliyun_access_key_secret",
    "HOTLINE_ALIYUN_SIGN_NAME": "aliyun_sign_name",
    "HOTLINE_ALIYUN_CALLER_NUMBER": "aliyun_caller_number",
    "HOTLINE_ALIYUN_TEMPLATES": "aliyun_templates",
    "HOTLINE_ALIYUN_RECEIPT_TOKEN": "aliyun_receipt_token",
}


def _check_aliyun(settings: Settings) -> None:
    """Refuse an Aliyun carrier that lacks a credential, a registered name, the templates or the receipt token.

    The templates file itself is read and checked when the carrier is built
    (hotline/carriers/aliyun/templates.py).

    Raises:
        SettingsError: Naming every missing variable, and a receipt token too short to be secret.
    """
    missing = [variable for variable, name in _ALIYUN_REQUIRED.items() if not getattr(settings, name)]
    if missing:
        raise SettingsError("HOTLINE_CARRIER：设为 aliyun 时还要设置 " + "、".join(missing))
    if len(settings.aliyun_receipt_token or "") < 16:
        raise SettingsError("HOTLINE_ALIYUN_RECEIPT_TOKEN：至少要 16 个字符，它是回执唯一的密钥")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from an environment mapping.

    Args:
        environ: The variables to read; ``os.environ`` when omitted.

    Raises:
        SettingsError: A value is malformed, or Twilio is half configured. The
            message names every offending variable and says what is wrong.
    """
    source = dict(os.environ if environ is None else environ)
    try:
        settings = Settings.model_validate(source)
    except ValidationError as exc:
        problems = [_problem(error, source) for error in exc.errors()]
        raise SettingsError(*dict.fromkeys(problems)) from None
    if settings.carrier not in CARRIERS:
        raise SettingsError(f"HOTLINE_CARRIER：只能是 {'、'.join(CARRIERS)} 之一，“{settings.carrier}”不是")
    if settings.uses_twilio and not (settings.twilio_account_sid and settings.twilio_auth_tokens):
        raise SettingsError(
            "HOTLINE_CARRIER：设为 twilio 时还要设置 HOTLINE_TWILIO_ACCOUNT_SID 和 HOTLINE_TWILIO_AUTH_TOKEN"
        )
    if bool(settings.twilio_account_sid) != bool(settings.twilio_auth_tokens):
        raise SettingsError(
            "HOTLINE_TWILIO_ACCOUNT_SID 和 HOTLINE_TWILIO_AUTH_TOKEN：要一起设置（都不设置则使用运营商模拟器）"
        )
    if settings.carrier == "aliyun":
        _check_aliyun(settings)
    if settings.uses_twilio and not settings.twilio_number:
        raise SettingsError("HOTLINE_TWILIO_NUMBER：设置了 Twilio 账号就要设置这个号码，例如 +8657188880000")
    return settings


# Values never repeated in an error message: they are secrets, or may hold a password.
_SECRET_PARTS = ("SECRET", "TOKEN", "KEY", "PASSWORD", "DATABASE_URL", "REDIS_URL")
# How a value is written, for the variables whose format is not obvious from the reason.
_EXAMPLES = {"HOTLINE_ESCALATION_DELAYS": "60,180", "HOTLINE_QUIET_HOURS": "21:00-08:00"}


def _problem(error: Any, source: Mapping[str, str]) -> str:
    """One line for one of pydantic's errors: ``HOTLINE_X：`` and why, in Chinese, with how to put it right."""
    name = str(error["loc"][0]) if error["loc"] else "?"
    field = Settings.model_fields.get(name) or next(
        (field for field in Settings.model_fields.values() if field.alias == name), None
    )
    variable = field.alias if field is not None and field.alias else name
    value = source.get(variable, "")
    given = "" if any(part in variable for part in _SECRET_PARTS) else f"；“{value}”不行"
    example = f"，例如 {_EXAMPLES[variable]}" if variable in _EXAMPLES else ""
    bounds = _bounds(field, _UNITS.get(variable, ""))
    within = "，" + bounds.removeprefix("要") if bounds else ""
    kind = error["type"]
    if kind == "missing":
        reason = f"必须设置{example}"
    elif kind in {"int_parsing", "int_type", "int_from_float"}:
        reason = f"要写成整数{within}{example}{given}"
    elif kind in {"float_parsing", "float_type", "finite_number"}:
        reason = f"要写成数字{within}{example}{given}"
    elif kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        reason = f"超出范围，{bounds or '请对照 README 的取值范围'}{given}"
    elif kind == "string_pattern_mismatch":
        reason = f"格式不对{example or '，请对照 README 的写法'}{given}"
    elif kind in {"literal_error", "enum"}:
        reason = f"只能是 {error.get('ctx', {}).get('expected', '')} 之一{given}"
    elif kind == "value_error":
        reason = f"{error['ctx']['error']}{given}"
    else:  # a kind no setting has today: pydantic's own words
        reason = f"{error['msg']}{given}"
    return f"{variable}：{reason}"


# The unit of the number settings whose name does not say it.
_UNITS = {
    "HOTLINE_ESCALATION_REPEAT": " 秒",
    "HOTLINE_RECALL_INTERVAL": " 秒",
    "HOTLINE_CALLBACK_DELAY": " 秒",
    "HOTLINE_DRILL_STANDARD_SECONDS": " 秒",
    "HOTLINE_RING_TIMEOUT": " 秒",
    "HOTLINE_DB_TIMEOUT": " 秒",
    "HOTLINE_WEBHOOK_DEADLINE": " 秒",
    "HOTLINE_SWEEP_INTERVAL": " 秒",
    "HOTLINE_SWEEP_GRACE": " 秒",
    "HOTLINE_CLAIM_TIMEOUT": " 秒",
    "HOTLINE_SESSION_IDLE_MINUTES": " 分钟",
}


def _bounds(field: Any, unit: str) -> str:
    """``要在 1 到 300 秒之间`` from a field's ge/gt/le/lt; "" when it has none."""
    limits: dict[str, Any] = {}
    for item in getattr(field, "metadata", ()):
        for key in ("ge", "gt", "le", "lt"):
            if getattr(item, key, None) is not None:
                limits[key] = getattr(item, key)
    if "ge" in limits and "le" in limits:
        return f"要在 {limits['ge']} 到 {limits['le']}{unit}之间"
    lower = upper = ""
    if "ge" in limits or "gt" in limits:
        lower = f"大于等于 {limits['ge']}{unit}" if "ge" in limits else f"大于 {limits['gt']}{unit}"
    if "le" in limits or "lt" in limits:
        upper = f"不超过 {limits['le']}{unit}" if "le" in limits else f"小于 {limits['lt']}{unit}"
    words = "、".join(part for part in (lower, upper) if part)
    return f"要{words}" if words else ""
