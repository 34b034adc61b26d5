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
        ("HOTLINE_ESCALATION_DELAYS", "60,-5", "positive"),
        ("DATABASE_URL", "mysql://x/y", "postgresql"),
        ("REDIS_URL", "http://localhost", "redis://"),
        ("HOTLINE_PUBLIC_URL", "example.org", "http"),
        ("HOTLINE_DEFAULT_REGION", "XX", "region"),
        ("HOTLINE_NOTIFY_ON_ACK", "maybe", "HOTLINE_NOTIFY_ON_ACK"),
        ("HOTLINE_LANGUAGE", "fr", "available"),
    ],
)
def test_bad_values_name_the_variable(variable, value, fragment):
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    assert variable in str(caught.value)
    assert fragment in str(caught.value)


def test_half_configured_twilio_is_refused():
    with pytest.raises(SettingsError, match="must be set together"):
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
