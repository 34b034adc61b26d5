import pytest

from config.settings import SettingsError, load_settings


def test_defaults_need_nothing_set():
    settings = load_settings({})
    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.escalation_delays == (60, 180)
    assert settings.default_region == "CN"
    assert settings.twilio_api_base == "https://api.twilio.com"
    assert not settings.uses_twilio
    assert settings.auth_tokens == (settings.simulator_auth_token,)


def test_auth_tokens_are_a_list_for_rotation():
    settings = load_settings(
        {
            "HOTLINE_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "HOTLINE_TWILIO_AUTH_TOKEN": "old-token, new-token",
            "HOTLINE_TWILIO_NUMBER": "+86 571 8888 0000",
        }
    )
    assert settings.uses_twilio
    assert settings.auth_tokens == ("old-token", "new-token")
    assert settings.hotline_number == "+8657188880000"


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("HOTLINE_ESCALATION_DELAYS", "60,abc", "HOTLINE_ESCALATION_DELAYS"),
        ("HOTLINE_ESCALATION_DELAYS", "60,-5", "大于 0 秒"),
        ("DATABASE_URL", "mysql://x/y", "postgresql"),
        ("REDIS_URL", "http://localhost", "redis://"),
        ("HOTLINE_PUBLIC_URL", "example.org", "http"),
        ("HOTLINE_DEFAULT_REGION", "XX", "地区代码"),
        ("HOTLINE_NOTIFY_ON_ACK", "maybe", "HOTLINE_NOTIFY_ON_ACK"),
        ("HOTLINE_LANGUAGE", "fr", "可选：en、zh"),
    ],
)
def test_bad_values_name_the_variable(variable, value, fragment):
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    assert variable in str(caught.value)
    assert fragment in str(caught.value)


def test_half_configured_twilio_is_refused():
    with pytest.raises(SettingsError, match="要一起设置"):
        load_settings({"HOTLINE_TWILIO_ACCOUNT_SID": "AC" + "1" * 32})


def test_postgres_urls_use_psycopg():
    settings = load_settings({"DATABASE_URL": "postgresql://u@h/db"})
    assert settings.database_url == "postgresql+psycopg://u@h/db"


def test_an_escalation_delay_longer_than_an_hour_is_refused():
    """A huge delay once overflowed the next level's date after the incident was committed."""
    assert load_settings({"HOTLINE_ESCALATION_DELAYS": "60,3600"}).escalation_delays == (60, 3600)
    for value in ("99999999999999", "60,3601"):
        with pytest.raises(SettingsError) as caught:
            load_settings({"HOTLINE_ESCALATION_DELAYS": value})
        assert "HOTLINE_ESCALATION_DELAYS" in str(caught.value) and "3600 秒（1 小时）" in str(caught.value)
    with pytest.raises(SettingsError, match="最多 10 级"):
        load_settings({"HOTLINE_ESCALATION_DELAYS": ",".join(["60"] * 11)})


def test_every_number_setting_refuses_a_huge_value():
    """No setting that becomes a wait or a count takes a number past its bound (timedelta(seconds=huge) overflows)."""
    from config.settings import Settings

    numeric = [
        field.alias
        for field in Settings.model_fields.values()
        if field.annotation in (int, float) and field.alias is not None
    ]
    assert "HOTLINE_ESCALATION_REPEAT" in numeric and "HOTLINE_RECALL_INTERVAL" in numeric
    for variable in [*numeric, "HOTLINE_ESCALATION_DELAYS"]:
        for value in ("99999999999999", "1e300", "inf", "nan"):
            with pytest.raises(SettingsError) as caught:
                load_settings({variable: value})
            assert variable in str(caught.value), (variable, value)


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("HOTLINE_SWEEP_INTERVAL", "abc", "要写成整数，在 1 到 300 秒之间；“abc”不行"),
        ("HOTLINE_SWEEP_INTERVAL", "9999", "超出范围，要在 1 到 300 秒之间；“9999”不行"),
        ("HOTLINE_SESSION_IDLE_MINUTES", "0", "超出范围，要在 1 到 10080 分钟之间"),
        ("HOTLINE_WEBHOOK_DEADLINE", "soon", "要写成数字，大于 0 秒、不超过 10 秒"),
        ("HOTLINE_BROADCAST_SHARE", "2", "超出范围，要大于 0、不超过 1"),
        ("HOTLINE_QUIET_HOURS", "9-5", "格式不对，例如 21:00-08:00；“9-5”不行"),
        ("HOTLINE_CARRIER", "nokia", "只能是 twilio、simulator、aliyun 之一"),
        ("HOTLINE_NOTIFY_ON_ACK", "maybe", "只能是 1/0、true/false、yes/no、on/off 之一"),
        ("HOTLINE_ESCALATION_DELAYS", "60,abc", "要写成整数，例如 60,180"),
        ("HOTLINE_TIMEZONE", "Mars/Base", "不是时区名称，要写成例如 Asia/Shanghai"),
    ],
)
def test_each_problem_is_one_chinese_line_naming_the_variable(variable, value, reason):
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    message = str(caught.value)
    assert message.startswith("设置有误：\n  ")
    assert f"{variable}：{reason}" in message
    assert caught.value.problems == (message.split("\n  ", 1)[1],)
    for english in ("invalid settings", "Input should", "Value error", "must be"):
        assert english not in message


def test_every_problem_is_listed_once_and_secrets_are_not_repeated():
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {
                "HOTLINE_ESCALATION_DELAYS": "x,y",
                "HOTLINE_RING_TIMEOUT": "1",
                "DATABASE_URL": "mysql://clerk:hunter2@db/hotline",
            }
        )
    problems = caught.value.problems
    # "x,y" is two of pydantic's errors and one line.
    assert [line.split("：")[0] for line in problems] == [
        "DATABASE_URL",
        "HOTLINE_ESCALATION_DELAYS",
        "HOTLINE_RING_TIMEOUT",
    ]
    assert "hunter2" not in str(caught.value)


def test_a_missing_value_says_it_must_be_set():
    from config.settings import _problem

    error = {"type": "missing", "loc": ("HOTLINE_QUIET_HOURS",), "msg": "Field required"}
    assert _problem(error, {}) == "HOTLINE_QUIET_HOURS：必须设置，例如 21:00-08:00"
