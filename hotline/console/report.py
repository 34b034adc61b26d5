"""An incident as a PDF for the case file: the facts, who was alerted and how, who answered, the key steps.

The report is written in Chinese, the language of the case file, whatever
language the console is shown in. It embeds Noto Sans SC (SIL Open Font
License, installed with the package), subset to the characters used, so the
Chinese shows in any PDF viewer and prints as it looks on screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pylopdf_fonts_zh_cn
from flask_babel import force_locale
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.fonts import FontFace
from sqlalchemy.orm import Session

from hotline.console import queries
from hotline.console.i18n import clock, localtime
from hotline.console.present import (
    ANSWER_LABELS,
    CHANNEL_LABELS,
    DELIVERY_LABELS,
    INCIDENT_STATUS_LABELS,
    LEVEL_LABELS,
    OUTCOME_LABELS,
    PURPOSE_LABELS,
    SOURCE_LABELS,
    label,
    level_label,
    phone_text,
)
from hotline.models import Channel, Incident, Notification, User, utcnow
from hotline.presenters.timeline import TimelineRow, key_steps, timeline_rows

REPORT_LANGUAGE = "zh"
FONT = "NotoSansSC"
INK = (28, 36, 48)
MUTED = (91, 102, 117)
LINE = (213, 218, 225)
HEADING_FILL = (243, 245, 248)


@dataclass(frozen=True)
class Table:
    """A section's table: column headings, relative widths and rows of text."""

    headings: Sequence[str]
    widths: Sequence[int]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class Section:
    """A titled part of the report: label–value facts, or a table, or a line saying there is nothing."""

    title: str
    facts: Sequence[tuple[str, str]] = ()
    table: Table | None = None
    empty: str = ""


@dataclass(frozen=True)
class Report:
    title: str
    subtitle: str
    footer: str
    sections: Sequence[Section]


def report_pdf(session: Session, incident: Incident) -> bytes:
    """The incident's report as PDF bytes, in Chinese.

    Must run inside a request or app context of the console (times are shown
    in the configured zone, numbers in the configured region's format).
    """
    with force_locale(REPORT_LANGUAGE):
        report = incident_report(session, incident)
    return render(report)


def incident_report(session: Session, incident: Incident) -> Report:
    """What the report says, in the current locale, section by section."""
    village, group = queries.incident_names(session, incident)
    first_accept = queries.first_accept_at(session, incident.id)
    rows = timeline_rows(incident.events, incident.opened_at, language=REPORT_LANGUAGE)
    alerts = [n for n in incident.notifications if n.escalation_level == 0]
    escalations = [n for n in incident.notifications if n.escalation_level > 0]
    nothing = _("None.")
    calls = [n for n in alerts if n.channel == Channel.CALL]
    texts = [n for n in alerts if n.channel == Channel.SMS]
    sections = [
        Section(_("The call"), facts=_call_facts(incident, village, group, first_accept)),
        Section(_("Handling"), facts=_handling_facts(session, incident)),
        Section(_("Key steps"), table=_steps_table(key_steps(rows)), empty=_("No events recorded.")),
        Section(_("Alerted by call"), table=_deliveries(calls), empty=nothing),
        Section(_("Alerted by SMS"), table=_deliveries(texts), empty=nothing),
        Section(_("Answers"), table=_answers(incident), empty=_("No answers yet.")),
        Section(_("Escalations"), table=_deliveries(escalations, with_level=True), empty=_("Not escalated.")),
    ]
    station = incident.station.name if incident.station is not None else _("Needs a station")
    title = _("Incident report") + f" #{incident.id}"
    drill = f" · {_('Drill')}" if incident.is_drill else ""
    subtitle = f"{station} · {label(INCIDENT_STATUS_LABELS, str(incident.status))}{drill}"
    footer = f"{title} · " + _("Made %(at)s", at=localtime(utcnow(), "%Y-%m-%d %H:%M"))
    return Report(title=title, subtitle=subtitle, footer=footer, sections=sections)


def _since(incident: Incident, at: datetime) -> str:
    return "+" + clock((at - incident.opened_at).total_seconds())


def _call_facts(
    incident: Incident, village: str | None, group: str | None, first_accept: datetime | None
) -> list[tuple[str, str]]:
    caller = incident.caller_name or _("Unregistered number")
    address = incident.caller.address if incident.caller is not None else ""
    facts = [
        (_("Station"), incident.station.name if incident.station is not None else _("Needs a station")),
        (_("Caller"), f"{caller} {phone_text(incident.caller_phone)}"),
        (_("Village / group"), f"{village or '—'} / {group or '—'}"),
        (_("Address"), address or "—"),
        (_("Opened"), f"{localtime(incident.opened_at)} ({label(SOURCE_LABELS, incident.source)})"),
        (
            _("First response"),
            f"{localtime(first_accept)} ({_since(incident, first_accept)})" if first_accept else _("Nobody accepted"),
        ),
        (
            _("Escalation reached"),
            level_label(incident.escalation_level)
            + (f" · {localtime(incident.escalated_at)}" if incident.escalated_at else ""),
        ),
    ]
    needed = incident.group.min_acceptances if incident.group is not None else 1
    if needed > 1:
        facts.append((_("Responders"), f"{incident.accepted_count}/{needed}"))
    return facts


def _handling_facts(session: Session, incident: Incident) -> list[tuple[str, str]]:
    """Which member of staff took the incident in hand and who closed it, with the outcome and note."""
    closed_by = session.get(User, incident.closed_by_id) if incident.closed_by_id else None
    taken = (
        f"{incident.taken_by.username} · {localtime(incident.taken_at)}" if incident.taken_by is not None else "—"
    )
    return [
        (_("Status"), label(INCIDENT_STATUS_LABELS, str(incident.status))),
        (_("Taken by"), taken),
        (_("Outcome"), label(OUTCOME_LABELS, incident.outcome) if incident.outcome else "—"),
        (
            _("Closed by"),
            f"{closed_by.username if closed_by else '—'} · {localtime(incident.closed_at)}"
            if incident.closed_at
            else "—",
        ),
        (_("Note"), incident.close_note or "—"),
    ]


def _steps_table(steps: Sequence[TimelineRow]) -> Table | None:
    if not steps:
        return None
    return Table(
        headings=(_("Since the call"), _("When"), _("Event")),
        widths=(14, 14, 72),
        rows=[
            (row.clock, localtime(row.at, "%H:%M:%S"), f"{row.title} — {row.detail}" if row.detail else row.title)
            for row in steps
        ],
    )


def _outcome(notification: Notification) -> str:
    outcome = label(DELIVERY_LABELS, notification.status)
    if notification.error_code:
        outcome += f" ({_('error')} {notification.error_code})"
    return outcome


def _deliveries(notifications: Sequence[Notification], *, with_level: bool = False) -> Table | None:
    """Who was sent what, and what became of it (delivered, failed, answered, not answered…)."""
    if not notifications:
        return None
    rows = []
    for n in notifications:
        when = localtime(n.status_at or n.sent_at or n.created_at, "%H:%M:%S")
        row = [n.recipient_name or "—", phone_text(n.phone), label(PURPOSE_LABELS, str(n.purpose)), _outcome(n), when]
        if with_level:
            row[2:2] = [label(LEVEL_LABELS, n.escalation_level), label(CHANNEL_LABELS, str(n.channel))]
            row.pop(4)  # the purpose of an escalation is always the escalation
        rows.append(row)
    if with_level:
        return Table(
            headings=(_("Name"), _("Phone"), _("Escalation reached"), _("Channel"), _("Delivery"), _("Last update")),
            widths=(16, 20, 16, 10, 24, 14),
            rows=rows,
        )
    return Table(
        headings=(_("Name"), _("Phone"), _("Purpose"), _("Delivery"), _("Last update")),
        widths=(18, 22, 22, 24, 14),
        rows=rows,
    )


def _answers(incident: Incident) -> Table | None:
    """Who accepted or declined, how, and when."""
    if not incident.responses:
        return None
    rows = [
        (
            r.responder_name or "—",
            phone_text(r.phone),
            label(ANSWER_LABELS, str(r.answer)),
            label(CHANNEL_LABELS, str(r.channel)),
            f"{localtime(r.received_at, '%H:%M:%S')} ({_since(incident, r.received_at)})",
        )
        for r in incident.responses
    ]
    headings = (_("Name"), _("Phone"), _("Answer"), _("Channel"), _("When"))
    return Table(headings=headings, widths=(18, 22, 14, 14, 32), rows=rows)


class _ReportPdf(FPDF):
    """A4 pages with the report's footer on each."""

    def __init__(self, footer_text: str) -> None:
        super().__init__(format="A4")
        self.footer_text = footer_text
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=18)
        self.add_font(FONT, fname=str(pylopdf_fonts_zh_cn.sans_path()))
        self.set_font(FONT, size=10)
        self.set_text_color(*INK)
        self.alias_nb_pages()

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(FONT, size=8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"{self.footer_text} · {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(*INK)


def render(report: Report) -> bytes:
    """Lay the report out on A4 pages; text wraps within its column, tables repeat their headings."""
    pdf = _ReportPdf(report.footer)
    pdf.set_title(report.title)
    pdf.add_page()
    pdf.set_font(FONT, size=18)
    pdf.multi_cell(0, 10, report.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=11)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(0, 6, report.subtitle, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*INK)
    for section in report.sections:
        _section(pdf, section)
    return bytes(pdf.output())


def _section(pdf: FPDF, section: Section) -> None:
    pdf.ln(4)
    pdf.set_font(FONT, size=13)
    pdf.set_draw_color(*LINE)
    pdf.multi_cell(0, 8, section.title, border="B", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.5)
    pdf.set_font(FONT, size=10)
    for name, value in section.facts:
        pdf.set_text_color(*MUTED)
        pdf.cell(32, 6, name)
        pdf.set_text_color(*INK)
        pdf.multi_cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
    if section.table is not None:
        _table(pdf, section.table)
    elif not section.facts:
        pdf.set_text_color(*MUTED)
        pdf.multi_cell(0, 6, section.empty, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(*INK)


def _table(pdf: FPDF, table: Table) -> None:
    heading_style = FontFace(color=MUTED, fill_color=HEADING_FILL)
    with pdf.table(
        col_widths=tuple(table.widths),
        text_align="LEFT",
        line_height=5.5,
        headings_style=heading_style,
        borders_layout="HORIZONTAL_LINES",
        padding=1,
    ) as grid:
        head = grid.row()
        for heading in table.headings:
            head.cell(heading)
        for values in table.rows:
            row = grid.row()
            for value in values:
                row.cell(value)
