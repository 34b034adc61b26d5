"""The simulator playing Aliyun, and what ``hotline up`` sets for an Aliyun carrier without an account."""

from __future__ import annotations

import pytest
import requests

from config.settings import load_settings
from hotline.carriers import check_carrier
from hotline.cli.up import stand_in_for_aliyun
from simulator import AliyunSetup, Simulator, serve_simulator


def test_up_stands_in_for_an_aliyun_account_only_when_there_is_none(tmp_path):
    assert stand_in_for_aliyun({}, 5050, tmp_path) == {}
    with_account = {"HOTLINE_CARRIER": "aliyun", "HOTLINE_ALIYUN_ACCESS_KEY_ID": "LTAI"}
    assert stand_in_for_aliyun(with_account, 5050, tmp_path) == {}
    environ = {"HOTLINE_CARRIER": "aliyun", "HOTLINE_ALIYUN_SIGN_NAME": "城关联防"}
    stand_ins = stand_in_for_aliyun(environ, 5099, tmp_path)
    assert stand_ins["HOTLINE_ALIYUN_SMS_ENDPOINT"] == stand_ins["HOTLINE_ALIYUN_VOICE_ENDPOINT"] == "http://127.0.0.1:5099"
    assert "HOTLINE_ALIYUN_SIGN_NAME" not in stand_ins, "a setting given is kept"
    settings = load_settings(environ | stand_ins)
    check_carrier(settings)  # the templates file written for the run passes the start-up check
    assert settings.carrier == "aliyun" and settings.aliyun_sign_name == "城关联防"


@pytest.fixture
def aliyun_sim():
    sim = Simulator(
        service_url="http://127.0.0.1:9", auth_token="t", hotline_number="+8657188880000",
        aliyun=AliyunSetup(receipts_url="http://127.0.0.1:9/aliyun/token", sign_name="联防求助"),
    )
    server, _thread, url = serve_simulator(sim)
    yield sim, url
    sim.shutdown()
    server.shutdown()


def test_the_aliyun_simulator_takes_no_calls_and_refuses_what_aliyun_refuses(aliyun_sim):
    _sim, url = aliyun_sim
    assert requests.get(f"{url}/sim/healthz", timeout=5).json()["carrier"] == "aliyun"
    refused = requests.post(f"{url}/sim/calls", json={"from": "+8613800138000"}, timeout=5)
    assert refused.status_code == 400 and "/api/alerts" in refused.json()["message"]
    missing = requests.post(f"{url}/", params={"PhoneNumbers": "13800138000"}, headers={"x-acs-action": "SendSms"},
                            timeout=5)
    assert missing.status_code == 400 and missing.json()["Code"] == "MissingParameter"
    call = {"CalledNumber": "13800138000", "CalledShowNumber": "057188880000", "StartCode": "TTS_1", "OutId": "1.x"}
    first = requests.post(f"{url}/", params=call, headers={"x-acs-action": "IvrCall"}, timeout=5).json()
    assert first["Code"] == "OK" and first["CallId"]
    # Aliyun's limit: one call a minute to a number.
    again = requests.post(f"{url}/", params=call, headers={"x-acs-action": "IvrCall"}, timeout=5).json()
    assert again["Code"] == "isv.BUSINESS_LIMIT_CONTROL"
