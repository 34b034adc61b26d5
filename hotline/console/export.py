"""Incident lists as CSV or Excel, for stations to report upward."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext

from hotline.console.present import INCIDENT_STATUS_LABELS, OUTCOME_LABELS, SOURCE_LABELS, label
from hotline.console.queries import IncidentRow
from hotline.csvsafe import csv_bytes
from hotline.directory.exporter import display_phone


def headings() -> list[str]:
    return [
        gettext("Incident"),
        gettext("Opened"),
        gettext("Village"),
        gettext("Group"),
        gettext("Caller"),
        gettext("Caller phone"),
        gettext("Source"),
        gettext("Drill"),
        gettext("Status"),
        gettext("Escalation level"),
        gettext("Seconds to first response"),
        gettext("Acknowledged"),
        gettext("Outcome"),
        gettext("Closed"),
        gettext("Note"),
    ]


def export_rows(rows: Iterable[IncidentRow], zone: ZoneInfo, region: str) -> list[list[str | int | float]]:
    """The heading row, then one row per incident, times in ``zone``.

    Numbers of ``region`` are written as dialled at home (``138 0013 8000``),
    which Excel keeps as text instead of turning into ``8.61E+12``.
    """

    def local(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else ""

    table: list[list[str | int | float]] = [[*headings()]]
    for row in rows:
        incident = row.incident
        seconds = row.first_response_seconds
        table.append(
            [
                incident.id,
                local(incident.opened_at),
                row.village or "",
                row.group or "",
                incident.caller_name or "",
                display_phone(incident.caller_phone, region),
                label(SOURCE_LABELS, incident.source),
                gettext("Yes") if incident.is_drill else gettext("No"),
                label(INCIDENT_STATUS_LABELS, str(incident.status)),
                incident.escalation_level,
                round(seconds, 1) if seconds is not None else "",
                local(incident.acknowledged_at),
                label(OUTCOME_LABELS, incident.outcome) if incident.outcome else "",
                local(incident.closed_at),
                incident.close_note or "",
            ]
        )
    return table


def to_csv(table: Sequence[Sequence[object]]) -> bytes:
    """UTF-8 with a byte-order mark; text that would run as a formula is escaped (see :mod:`hotline.csvsafe`)."""
    return csv_bytes(table)


def to_xlsx(table: Sequence[Sequence[object]], sheet_name: str = "incidents") -> bytes:
    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_name)
    for row in table:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value)
            if isinstance(value, str):
                # openpyxl would store "=..." as a formula; every text cell is text.
                cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
