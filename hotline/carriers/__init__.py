"""Carriers behind one seam, chosen by name: Twilio in production, the simulator in development."""

from __future__ import annotations

from collections.abc import Callable

from config.settings import Settings
from hotline.carriers.base import (
    Capabilities,
    Carrier,
    CarrierError,
    DeliveryStatus,
    FailureReason,
    OutboundSms,
    Submitted,
)


def _twilio(settings: Settings) -> Carrier:
    from hotline.carriers.twilio import TwilioCarrier

    assert settings.twilio_account_sid and settings.twilio_number
    # The first auth token authenticates REST requests; all of them are
    # accepted on webhooks, so a rotation can overlap.
    return TwilioCarrier(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_tokens[0],
        from_number=settings.twilio_number,
        api_base=settings.twilio_api_base,
    )


def _simulator(settings: Settings) -> Carrier:
    from hotline.carriers.simulator import SimulatorCarrier

    return SimulatorCarrier(base_url=settings.simulator_url, from_number=settings.hotline_number)


# The registry: HOTLINE_CARRIER names one of these (config.settings.CARRIERS lists the same names).
CARRIER_FACTORIES: dict[str, Callable[[Settings], Carrier]] = {"twilio": _twilio, "simulator": _simulator}


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
]
