"""Carriers behind one seam, chosen by name: Twilio, Aliyun (mainland China), the simulator in development."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from config.settings import Settings, SettingsError
from hotline.carriers.base import (
    Capabilities,
    Carrier,
    CarrierError,
    DeliveryStatus,
    FailureReason,
    OutboundSms,
    Submitted,
)

if TYPE_CHECKING:
    from hotline.carriers.aliyun.templates import Templates


def _twilio(settings: Settings) -> Carrier:
    from hotline.carriers.twilio import TwilioCarrier

    assert settings.twilio_account_sid and settings.twilio_number
    # The first auth token authenticates REST requests; all of them are
    # accepted on webhooks, so a rotation can overlap.
    return TwilioCarrier(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_tokens[0],
        from_number=settings.twilio_number,
        public_url=settings.public_url,
        api_base=settings.twilio_api_base,
    )


def _simulator(settings: Settings) -> Carrier:
    from hotline.carriers.simulator import SimulatorCarrier

    return SimulatorCarrier(
        base_url=settings.simulator_url, from_number=settings.hotline_number, public_url=settings.public_url
    )


def _aliyun_templates(settings: Settings) -> Templates:
    from hotline.carriers.aliyun.templates import Templates, TemplatesError

    assert settings.aliyun_templates
    try:
        return Templates.load(settings.aliyun_templates, settings.language)
    except TemplatesError as exc:
        raise SettingsError(f"HOTLINE_ALIYUN_TEMPLATES：{exc}") from None


def _aliyun(settings: Settings) -> Carrier:
    from hotline.carriers.aliyun import AliyunCarrier

    assert settings.aliyun_access_key_id and settings.aliyun_access_key_secret
    assert settings.aliyun_sign_name and settings.aliyun_caller_number
    return AliyunCarrier(
        access_key_id=settings.aliyun_access_key_id,
        access_key_secret=settings.aliyun_access_key_secret,
        sign_name=settings.aliyun_sign_name,
        caller_number=settings.aliyun_caller_number,
        templates=_aliyun_templates(settings),
        sms_endpoint=settings.aliyun_sms_endpoint,
        voice_endpoint=settings.aliyun_voice_endpoint,
    )


# The registry: HOTLINE_CARRIER names one of these (config.settings.CARRIERS lists the same names).
CARRIER_FACTORIES: dict[str, Callable[[Settings], Carrier]] = {
    "twilio": _twilio, "simulator": _simulator, "aliyun": _aliyun,
}


def check_carrier(settings: Settings) -> None:
    """Check at start-up what the selected carrier reads besides the settings.

    Twilio's prompts (which the simulator plays too) are spoken by
    ``HOTLINE_VOICE``, which must speak the prompts' language; Aliyun reads its
    registered templates from a file.

    Raises:
        config.settings.SettingsError: Naming the variable and every problem, in the operator's language.
    """
    if settings.carrier == "aliyun":
        _aliyun_templates(settings)
    else:
        from hotline.carriers.twilio.voices import check_voice

        check_voice(settings)


def build_carrier(settings: Settings) -> Carrier:
    """The carrier the settings select.

    Raises:
        KeyError: ``settings.carrier`` names no registered carrier (settings
            validation refuses such a name first).
    """
    return CARRIER_FACTORIES[settings.carrier](settings)


__all__ = [
    "CARRIER_FACTORIES",
    "Capabilities",
    "Carrier",
    "CarrierError",
    "DeliveryStatus",
    "FailureReason",
    "OutboundSms",
    "Submitted",
    "build_carrier",
    "check_carrier",
]
