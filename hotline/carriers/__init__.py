"""Carriers behind one seam: Twilio in production, the simulator everywhere else."""

from __future__ import annotations

from config.settings import Settings
from hotline.carriers.base import Carrier, CarrierError, Submitted


def build_carrier(settings: Settings) -> Carrier:
    """The carrier the settings select: Twilio when credentials are set.

    The first auth token authenticates REST requests; all of them are
    accepted on webhooks, so a rotation can overlap.
    """
    if settings.uses_twilio:
        from hotline.carriers.twilio import TwilioCarrier

        assert settings.twilio_account_sid and settings.twilio_number
        return TwilioCarrier(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_tokens[0],
            from_number=settings.twilio_number,
            api_base=settings.twilio_api_base,
        )
    from hotline.carriers.simulator import SimulatorCarrier

    return SimulatorCarrier(base_url=settings.simulator_url, from_number=settings.hotline_number)


__all__ = ["Carrier", "CarrierError", "Submitted", "build_carrier"]
