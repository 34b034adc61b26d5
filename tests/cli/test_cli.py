"""The command line: clear answers to bad input (a national number, a bad setting), its version, a station's summary."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotline.cli import main as hotline_cli
from simulator import Simulator, serve_simulator
from tests.simulator_support import FakeService
from tests.support.console import STATION_A


def cli_import(app, path: Path, station: str = STATION_A, *extra: str):
    return app.test_cli_runner().invoke(args=["directory", "import", str(path), "--station", station, *extra])


@pytest.fixture
def simulator_service(environ: dict[str, str]) -> Iterator[FakeService]:
    """A running carrier simulator, in front of a stand-in for the hotline that records what it is sent."""
    service = FakeService("hotline-simulator")
    sim = Simulator(service_url=service.base_url, auth_token="hotline-simulator", hotline_number="+8657188880000")
    server, _thread, base_url = serve_simulator(sim)
    environ["HOTLINE_SIMULATOR_URL"] = base_url
    yield service
    server.shutdown()
    server.server_close()


def test_simulate_sms_accepts_a_national_number(simulator_service: FakeService, app) -> None:
    result = app.test_cli_runner().invoke(args=["simulate", "sms", "--from", "13900001002", "收到"])
    assert result.exit_code == 0, result.output
    assert "+8613900001002 发送短信 '收到'" in result.output
    assert any(received.params.get("From") == "+8613900001002" for received in simulator_service.received)
    bad = app.test_cli_runner().invoke(args=["simulate", "sms", "--from", "12345", "收到"])
    assert bad.exit_code == 2 and "不是有效的电话号码" in bad.output and "Traceback" not in bad.output


def test_help_works_with_a_bad_setting_and_commands_name_it(tmp_path) -> None:
    env = {"HOTLINE_ESCALATION_DELAYS": "abc", "HOTLINE_INSTANCE_PATH": str(tmp_path / "instance")}
    runner = CliRunner()
    helped = runner.invoke(hotline_cli, ["--help"], env=env)
    assert helped.exit_code == 0, helped.output
    assert "directory" in helped.output and "stations" in helped.output and "Traceback" not in helped.output
    assert "--app" not in helped.output and "-A," not in helped.output
    ran = runner.invoke(hotline_cli, ["stations", "list"], env=env)
    assert ran.exit_code == 1 and isinstance(ran.exception, SystemExit)
    assert "设置有误" in ran.output and "HOTLINE_ESCALATION_DELAYS" in ran.output


def test_version_is_hotlines_own() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(hotline_cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"hotline {version('hotline')}"
    assert "Flask" not in result.output


def test_stations_show(app, session, tmp_path) -> None:
    runner = app.test_cli_runner()
    assert (
        runner.invoke(
            args=["stations", "set", "示例派出所", "--duty-phone", "0871-6512 3456", "--escalation-delays", "30,90"]
        ).exit_code
        == 0
    )
    path = tmp_path / "d.csv"
    path.write_text(
        "村,小组,姓名,电话,角色\n一村,一组,甲,13900001001,求助户\n一村,二组,乙,13900001002,求助户\n", encoding="utf-8"
    )
    assert cli_import(app, path, "示例派出所").exit_code == 0
    assert (
        runner.invoke(
            args=["users", "add", "wang", "--station", "示例派出所", "--password-stdin"], input="a-long-password\n"
        ).exit_code
        == 0
    )
    result = runner.invoke(args=["stations", "show", "示例派出所"])
    assert result.exit_code == 0, result.output
    assert "值班电话：  +8687165123456" in result.output
    assert "升级等待秒数：30、90（本所设置）" in result.output
    assert "每组上限：  10（默认值，HOTLINE_MAX_GROUP_SIZE）" in result.output
    assert "1 个村，2 个小组，2 名成员" in result.output
    assert "用户：      wang" in result.output
    missing = runner.invoke(args=["stations", "show", "示列派出所"])
    assert missing.exit_code == 1 and "示例派出所" in missing.output


def test_a_bad_setting_is_said_in_chinese_one_line_per_variable(tmp_path) -> None:
    env = {
        "HOTLINE_SWEEP_INTERVAL": "often",
        "HOTLINE_QUIET_HOURS": "9-5",
        "HOTLINE_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    ran = CliRunner().invoke(hotline_cli, ["stations", "list"], env=env)
    assert ran.exit_code == 1
    expected = "设置有误，命令没有运行：\n  HOTLINE_SWEEP_INTERVAL：要写成整数，在 1 到 300 秒之间；“often”不行\n"
    assert expected in ran.output
    assert "  HOTLINE_QUIET_HOURS：格式不对，例如 21:00-08:00；“9-5”不行" in ran.output
    assert "invalid settings" not in ran.output and "Input should" not in ran.output
