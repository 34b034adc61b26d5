"""Quiet hours: no spoken broadcast rings a village at night.

A station's quiet hours (``Station.quiet_hours``, else ``HOTLINE_QUIET_HOURS``,
``21:00-08:00`` by default) are local wall-clock times; a range whose start
is after its end runs over midnight. Calls a broadcast would place in them
wait for their end. Emergencies and drills never wait.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from config.settings import Settings
from hotline.models import Station

_RANGE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)-([01]?\d|2[0-3]):([0-5]\d)$")


def parse_range(text: str) -> tuple[time, time]:
    """``"21:00-08:00"`` as its start and end.

    Raises:
        ValueError: Not two times written HH:MM-HH:MM (the message is in Chinese).
    """
    # As typed on a Chinese keyboard too: full-width colons and dashes, spaces around the dash.
    cleaned = "".join(text.split()).replace("：", ":")
    for dash in ("–", "—", "－", "～", "~", "至", "到"):
        cleaned = cleaned.replace(dash, "-")
    found = _RANGE.match(cleaned)
    if found is None:
        raise ValueError(f"免打扰时段 {text!r} 应写成 21:00-08:00")
    start_h, start_m, end_h, end_m = (int(part) for part in found.groups())
    return time(start_h, start_m), time(end_h, end_m)


def stored_range(text: str | None) -> str | None:
    """What a station keeps for quiet hours typed as ``text``: ``HH:MM-HH:MM``, or None (blank: the default).

    Raises:
        ValueError: Not blank and not two times written HH:MM-HH:MM (the message is in Chinese).
    """
    if text is None or not text.strip():
        return None
    start, end = parse_range(text)
    return f"{start:%H:%M}-{end:%H:%M}"


def station_range(settings: Settings, station: Station) -> tuple[time, time]:
    """The station's quiet hours, or the service's."""
    return parse_range(station.quiet_hours or settings.quiet_hours)


def quiet_until(settings: Settings, station: Station, now: datetime) -> datetime | None:
    """When the quiet hours ``now`` falls in end (in ``now``'s zone), or None when it is not quiet."""
    start, end = station_range(settings, station)
    if start == end:
        return None  # no quiet hours
    zone = ZoneInfo(settings.timezone)
    local = now.astimezone(zone)
    moment = local.time()
    crosses_midnight = start > end
    quiet = (moment >= start or moment < end) if crosses_midnight else (start <= moment < end)
    if not quiet:
        return None
    ends = datetime.combine(local.date(), end, tzinfo=zone)
    if ends <= local:
        ends += timedelta(days=1)
    return ends.astimezone(now.tzinfo)
