"""Carrier webhooks under ``/twilio``: signed, parsed, answered in milliseconds.

Handlers call the services, commit, and only then enqueue work; calls to the
carrier itself happen in workers, never here.
"""

from flask import Blueprint

bp = Blueprint("twilio", __name__, url_prefix="/twilio")

from hotline.webhooks import sms, status, voice  # noqa: E402,F401  (routes register on bp)
