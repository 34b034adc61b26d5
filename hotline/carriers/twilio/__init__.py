"""Twilio: its REST API, its webhooks' signatures and fields, TwiML, and its codes.

Everything that knows Twilio's names lives in this package. The development
simulator plays Twilio's part and speaks the same dialect, so its carrier
reuses the codes and the webhook parsing here.
"""

from hotline.carriers.twilio.rest import ApiBaseHttpClient, TwilioCarrier

__all__ = ["ApiBaseHttpClient", "TwilioCarrier"]
