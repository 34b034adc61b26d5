"""Pacing sends, across every worker process and host, through Redis.

Two guards sit between a notification and the carrier:

- :mod:`hotline.pacing.rate`: how many SMS, or calls, the sending number or
  account may hand to the carrier in any one second, with emergencies taking
  capacity before bulk sends;
- :mod:`hotline.pacing.recipients`: how often one number may be called or
  texted (China's carriers refuse a second call within a minute, a sixth in
  an hour, a twenty-first in a day).

Both are Lua scripts run atomically on Redis with Redis's own clock, so every
worker on every host counts the same sends in the same windows. They take an
explicit Redis connection and know nothing of the app.
"""

from hotline.pacing.rate import Priority, SendRate, Slot
from hotline.pacing.recipients import RecipientGuard, RecipientLimits

__all__ = ["Priority", "RecipientGuard", "RecipientLimits", "SendRate", "Slot"]
