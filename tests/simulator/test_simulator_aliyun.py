"""The simulator playing Aliyun, and what ``hotline up`` sets for an Aliyun carrier without an account."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


@pytest.fixture
def receipts():
    """A stand-in for the service's receipt URLs: records every push and answers as the service does."""
    pushed: list[tuple[str, list[dict]]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            pushed.append((self.path.rsplit("/", 1)[-1], json.loads(body)))
            answer = json.dumps({"code": 0, "msg": "接收成功"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/aliyun/token", pushed
    server.shutdown()
    server.server_close()


def test_the_aliyun_simulator_reads_out_a_voice_notice_and_pushes_its_report(receipts):
    receipts_url, pushed = receipts
    sim = Simulator(
        service_url="http://127.0.0.1:9", auth_token="t", hotline_number="+8657188880000", time_scale=0.05,
        aliyun=AliyunSetup(
            receipts_url=receipts_url, sign_name="联防求助", wording={"TTS_7": "这里是${station}的通知。${content}"}
        ),
    )
    server, _thread, url = serve_simulator(sim)
    try:
        sim.script("+8613800138001", answer_after=1.0, press="1")  # a phone that would press 1 if asked
        notice = {
            "CalledNumber": "13800138001", "CalledShowNumber": "057188880000", "TtsCode": "TTS_7",
            "TtsParam": json.dumps({"station": "城关派出所", "content": "谨防诈骗"}, ensure_ascii=False),
            "PlayTimes": "2", "OutId": "7.abc",
        }
        headers = {"x-acs-action": "SingleCallByTts"}
        first = requests.post(f"{url}/", params=notice, headers=headers, timeout=5).json()
        assert first["Code"] == "OK" and first["CallId"]
        # One call a minute to a number, whichever action placed the last.
        again = requests.post(f"{url}/", params=notice, headers=headers, timeout=5).json()
        assert again["Code"] == "isv.BUSINESS_LIMIT_CONTROL"
        ivr = {"CalledNumber": "13800138001", "CalledShowNumber": "057188880000", "StartCode": "TTS_1", "OutId": "8.x"}
        refused = requests.post(f"{url}/", params=ivr, headers={"x-acs-action": "IvrCall"}, timeout=5).json()
        assert refused["Code"] == "isv.BUSINESS_LIMIT_CONTROL"
        missing = requests.post(f"{url}/", params={"CalledNumber": "13800138002"}, headers=headers, timeout=5)
        assert missing.status_code == 400 and missing.json()["Code"] == "MissingParameter"

        def ended():
            return [item for kind, batch in pushed if kind == "voice-report" for item in batch
                    if item["status_code"] == "200000"]

        report = sim.wait_for(ended, timeout=20)[0]
        assert report["call_id"] == first["CallId"] and report["out_id"] == "7.abc"
        assert report["callee"] == "13800138001" and report["dtmf"] == ""
        call = sim.phone("+8613800138001")["calls"][0]
        assert call["heard"] == ["这里是城关派出所的通知。谨防诈骗"] * 2 and not call["digits"]
        assert not [item for _kind, batch in pushed for item in batch if item["status_code"] == "300000"]
    finally:
        sim.shutdown()
        server.shutdown()
