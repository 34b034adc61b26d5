import pytest
from sqlalchemy import select

from hotline.models import AuditLog, Station, User


def test_stations_set_creates_and_updates(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["stations", "set", "城关派出所", "--duty-phone", "010-8888 0000", "--escalation-delays", "30,90"]
    )
    assert result.exit_code == 0, result.output
    station = session.scalar(select(Station))
    assert (station.duty_phone, station.escalation_delays) == ("+861088880000", "30,90")
    bad = runner.invoke(args=["stations", "set", "城关派出所", "--escalation-delays", "soon"])
    assert bad.exit_code != 0 and "整秒数" in bad.output


def test_stations_set_refuses_a_delay_longer_than_an_hour(app, session):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["stations", "set", "城关派出所", "--escalation-delays", "30,90"]).exit_code == 0
    refused = runner.invoke(args=["stations", "set", "城关派出所", "--escalation-delays", "99999999999999"])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "3600 秒（1 小时）" in refused.output
    session.expire_all()
    assert session.scalar(select(Station.escalation_delays)) == "30,90"


def test_users_add_reads_the_password_from_stdin_and_is_audited(app, session):
    runner = app.test_cli_runner()
    runner.invoke(args=["stations", "set", "城关派出所"])
    result = runner.invoke(
        args=["users", "add", "wang", "--station", "城关派出所", "--password-stdin"], input="correct horse\n"
    )
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.username == "wang"))
    assert user.password_hash != "correct horse" and user.station_id is not None
    entry = session.scalar(select(AuditLog).where(AuditLog.entity == "user"))
    assert entry.action == "create" and entry.actor == "cli"
    short = runner.invoke(args=["users", "add", "li", "--city-wide", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "密码至少要 8 个字符。" in short.output


def test_users_add_to_an_unknown_station_lists_the_known_ones_in_chinese(app, session):
    runner = app.test_cli_runner()
    nothing = runner.invoke(args=["users", "add", "wang", "--station", "城关所", "--password-stdin"], input="x" * 9)
    assert nothing.exit_code == 1 and "还没有名为“城关所”的派出所" in nothing.output
    assert "hotline stations set 城关所" in nothing.output
    for name in ("南山派出所", "城关派出所", "北岭派出所"):
        assert runner.invoke(args=["stations", "set", name]).exit_code == 0
    refused = runner.invoke(args=["users", "add", "wang", "--station", "城关所", "--password-stdin"], input="x" * 9)
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "没有名为“城关所”的派出所；已有的派出所（最接近的在前）：城关派出所、" in refused.output
    assert "no station" not in refused.output
    assert session.scalar(select(User).where(User.username == "wang")) is None
    neither = runner.invoke(args=["users", "add", "wang", "--password-stdin"], input="x" * 9)
    assert neither.exit_code == 2 and "--city-wide" in neither.output and "give exactly one" not in neither.output
    runner.invoke(args=["users", "add", "wang", "--city-wide", "--password-stdin"], input="x" * 9)
    again = runner.invoke(args=["users", "add", "wang", "--city-wide", "--password-stdin"], input="x" * 9)
    assert again.exit_code == 1 and "用户“wang”已经存在" in again.output


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (["--duty-phone", "12"], "值班电话“12”不是有效的电话号码；请写成例如 010-8888 0000"),
        (["--duty-phone", ""], "值班电话是空的"),
        (["--hotline-number", "abc"], "热线号码“abc”不是有效的电话号码"),
        (["--max-group-size", "999"], "每组人数上限要在 2 到 250 之间"),
        (["--drill-standard", "2m"], "演练标准要写成 10 到 3600 之间的整秒数"),
        (["--escalation-delays", "0"], "升级等待时间每一级都要大于 0 秒"),
    ],
)
def test_stations_set_errors_say_why_in_chinese(app, options, reason):
    refused = app.test_cli_runner().invoke(args=["stations", "set", "城关派出所", *options])
    assert refused.exit_code == 1 and reason in refused.output, refused.output
    for english in ("must be", "is not a", "duty phone:", "hotline number:", "got "):
        assert english not in refused.output
    empty = app.test_cli_runner().invoke(args=["stations", "set", " "])
    assert empty.exit_code == 1 and "派出所名称是空的" in empty.output


def test_directory_import_from_the_command_line_is_audited_once(app, session, tmp_path):
    csv_file = tmp_path / "groups.csv"
    csv_file.write_text(
        "村,小组,姓名,电话,角色,地址\n"
        "东村,一组,王一,138 0013 8000,组长,东村1号\n"
        "东村,一组,李二,13800138001,求助户,东村2号\n",
        encoding="utf-8",
    )
    runner = app.test_cli_runner()
    for _ in range(2):
        args = ["directory", "import", str(csv_file), "--station", "城关派出所", "--create-station"]
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    entries = session.scalars(select(AuditLog).where(AuditLog.entity == "directory")).all()
    assert [(e.action, e.actor) for e in entries] == [("import", "cli")]
