"""Statistics per village and per group, with charts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from hotline.console import stats as calc
from hotline.console.access import protect
from hotline.console.charts import bar_chart
from hotline.console.queries import STATS_DRILL_CHOICES, IncidentFilter
from hotline.console.stats_queries import figures, group_reach
from hotline.console.views import make_blueprint
from hotline.console.views.common import filter_choices, incident_filter, session, viewer, zone

bp = protect(make_blueprint("stats", __name__))


@dataclass(frozen=True)
class StatsRow:
    """A village or group line of the statistics table."""

    key: int | None
    name: str
    summary: calc.Summary
    unreachable: int


def bucket_label(bucket: calc.Bucket) -> str:
    if bucket.lower is None:
        return _("No response")

    def short(seconds: int) -> str:
        return _("%(n)ds", n=seconds) if seconds < 60 else _("%(n)dm", n=seconds // 60)

    if bucket.upper is None:
        return f"≥{short(bucket.lower)}"
    return f"{short(bucket.lower)}–{short(bucket.upper)}"


def compute(flt: IncidentFilter) -> dict[str, Any]:
    """Everything the page (and the API) shows for ``flt``."""
    found = figures(session(), viewer(), flt, zone())
    reach = group_reach(session(), viewer(), group_id=flt.group_id, village_id=flt.village_id)
    by_group = found.by_group
    by_village = found.by_village
    empty = calc.summarise([])

    groups = [
        StatsRow(
            group.group_id, f"{group.village}/{group.name}", by_group.get(group.group_id, empty), group.unreachable
        )
        for group in reach
    ]
    villages: dict[int, tuple[str, int]] = {}
    for group in reach:
        name, count = villages.get(group.village_id, (group.village, 0))
        villages[group.village_id] = (name, count + group.unreachable)
    village_rows = [
        StatsRow(village_id, name, by_village.get(village_id, empty), unreachable)
        for village_id, (name, unreachable) in sorted(villages.items(), key=lambda item: item[1][0])
    ]
    if None in by_group:
        # Callers in no group (unregistered numbers) still count in the totals.
        groups.append(StatsRow(None, _("(no group)"), by_group[None], 0))
        village_rows.append(StatsRow(None, _("(no group)"), by_village[None], 0))
    return {
        "total": found.total,
        "villages": village_rows,
        "groups": groups,
        "histogram": found.histogram,
        "weeks": found.weeks,
    }


def stats_filter() -> IncidentFilter:
    """The statistics' filter: real alerts (the default) or drills, never both (``drill=all`` reads as real)."""
    return incident_filter("real", STATS_DRILL_CHOICES)


@bp.get("/stats")
def index() -> ResponseReturnValue:
    flt = stats_filter()
    data = compute(flt)
    response_chart = bar_chart([(bucket_label(bucket), bucket.count) for bucket in data["histogram"]])
    weekly_chart = bar_chart([(week.strftime("%m-%d"), count) for week, count in data["weeks"]])
    return render_template(
        "console/stats.html",
        flt=flt,
        data=data,
        response_chart=response_chart,
        weekly_chart=weekly_chart,
        **filter_choices(),
    )

