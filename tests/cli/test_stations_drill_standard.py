"""``hotline stations set --drill-standard SECONDS``: set, shown by ``stations show`` and ``list``, logged, cleared."""

from __future__ import annotations

from sqlalchemy import select

from hotline.models import AuditLog, Station

NAME = "城关派出所"


def test_stations_set_takes_a_drill_standard_in_seconds(app, session):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["stations", "set", NAME]).exit_code == 0
    shown = runner.invoke(args=["stations", "show", NAME])
    assert "演练标准：  180 秒内达到所需响应人数（默认值，HOTLINE_DRILL_STANDARD_SECONDS）" in shown.output

    result = runner.invoke(args=["stations", "set", NAME, "--drill-standard", "120"])
    assert result.exit_code == 0, result.output
    assert "drill standard 120 s" in result.output
    session.expire_all()
    assert session.scalar(select(Station.drill_standard_seconds)) == 120
    shown = runner.invoke(args=["stations", "show", NAME])
    assert "演练标准：  120 秒内达到所需响应人数（本所设置）" in shown.output
    assert "drill standard 120 s" in runner.invoke(args=["stations", "list"]).output

    for bad in ("2m", "5", "3601"):
        refused = runner.invoke(args=["stations", "set", NAME, "--drill-standard", bad])
        assert refused.exit_code != 0
        assert f"演练标准要写成 10 到 3600 之间的整秒数，例如 120；“{bad}”不行。" in refused.output
    session.expire_all()
    assert session.scalar(select(Station.drill_standard_seconds)) == 120

    runner.invoke(args=["stations", "set", NAME, "--drill-standard", "120"])  # no change: nothing logged
    cleared = runner.invoke(args=["stations", "set", NAME, "--drill-standard", ""])
    assert cleared.exit_code == 0 and "drill standard default" in cleared.output
    session.expire_all()
    assert session.scalar(select(Station.drill_standard_seconds)) is None
    entries = list(session.scalars(select(AuditLog).where(AuditLog.entity == "station").order_by(AuditLog.id)))
    assert [(e.actor, e.action, e.after) for e in entries] == [
        ("cli", "drill_standard", {"drill_standard_seconds": 120}),
        ("cli", "drill_standard", {"drill_standard_seconds": None}),
    ]


def test_the_option_is_documented():
    from click.testing import CliRunner

    from hotline.cli import main

    shown = CliRunner().invoke(main, ["stations", "set", "--help"])
    assert "--drill-standard SECONDS" in shown.output and "HOTLINE_DRILL_STANDARD_SECONDS" in shown.output
