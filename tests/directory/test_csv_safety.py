"""Every CSV hotline writes keeps text as text: no cell runs as a formula in Excel or WPS."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from hotline.csvsafe import csv_bytes, safe_cell
from hotline.directory.exporter import export_directory
from hotline.models import Member
from tests.factories import make_group
from tests.support.console import at, login, make_incident

HOSTILE = ['=HYPERLINK("http://evil.example","点击")', "=1+1", "@SUM(1)", "+1+1", "-2+3", "\t=1+1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_text_that_would_run_as_a_formula_is_escaped(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["+8613800138000", "+44 20 7946 0958", "+86 571-8888-0000"])
def test_numbers_in_international_form_stay_readable(text):
    assert safe_cell(text) == text


@pytest.mark.parametrize("value", ["张三", "东村 3 号", "", 42, 1.5, None, "a=b", "138 0013 8000"])
def test_ordinary_cells_pass_unchanged(value):
    assert safe_cell(value) == value


def test_csv_bytes_escape_every_row():
    table = [["姓名", "电话"], ["=1+1", "+8613800138000"]]
    rows = list(csv.reader(io.StringIO(csv_bytes(table).decode("utf-8-sig"))))
    assert rows == [["姓名", "电话"], ["'=1+1", "+8613800138000"]]


def test_the_directory_export_escapes_formulas_and_keeps_numbers(session, tmp_path: Path):
    group = make_group(session, station_name="城关派出所", households=len(HOSTILE))
    households = [member for member in group.members if member.role == "household"]
    for member, text in zip(households, HOSTILE, strict=True):
        member.name = text
        member.address = text
    foreign = households[0]
    foreign.phone = "+442079460958"
    session.commit()
    out = tmp_path / "directory.csv"
    export_directory(session, "城关派出所", out)
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    by_name = {row[2]: row for row in rows[1:]}
    for text in HOSTILE:
        row = by_name["'" + text]
        assert row[5] == "'" + text  # the address too
    assert by_name["'" + HOSTILE[0]][3] == "+44 20 7946 0958"  # abroad: international, readable
    leader = session.query(Member).filter_by(group_id=group.id, role="leader").one()
    assert by_name[leader.name][3].replace(" ", "") == leader.phone[3:]  # at home: as dialled


def test_the_incident_export_uses_the_same_rule(console, session, world):
    incident = make_incident(session, world.group_a, opened_at=at("2026-03-02 01:00:00"), closed=True)
    incident.close_note = "@SUM(1)"
    incident.caller_name = "+1+1"
    incident.caller_phone = "+442079460958"
    session.commit()
    login(console, "a_staff")
    rows = list(csv.reader(io.StringIO(console.get("/incidents.csv").data.decode("utf-8-sig"))))
    assert rows[1][4] == "'+1+1"
    assert rows[1][5] == "+44 20 7946 0958"
    assert rows[1][-1] == "'@SUM(1)"
