"""The whole service on 127.0.0.1 with Aliyun as its carrier, and the simulator playing Aliyun.

Like :func:`tests.support.stack.running_stack`: the web app over real HTTP, a
``hotline worker`` subprocess, and the simulator; but the service's Aliyun
carrier sends its SDK requests to the simulator, which pushes Aliyun's
receipts back to ``/aliyun/<token>/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hotline.carriers.aliyun.templates import Templates, filled_example
from simulator import AliyunSetup, Simulator, serve_simulator
from tests.support.stack import HOTLINE_NUMBER, SIM_TOKEN, Stack, free_port, serving

RECEIPT_TOKEN = "simulated-receipts-" + "k" * 16
SIGN_NAME = "联防求助"
CALLER_NUMBER = "057188880000"


@contextmanager
def running_aliyun_stack(environ: dict[str, str], tmp_path: Path, *, time_scale: float = 0.2) -> Iterator[Stack]:
    """Run the service with ``HOTLINE_CARRIER=aliyun`` against the simulator in Aliyun mode."""
    web_port = free_port()
    base_url = f"http://127.0.0.1:{web_port}"
    templates_path = tmp_path / "aliyun-templates.toml"
    templates_path.write_text(filled_example("zh"), encoding="utf-8")
    setup = AliyunSetup(
        receipts_url=f"{base_url}/aliyun/{RECEIPT_TOKEN}", sign_name=SIGN_NAME,
        wording=Templates.load(templates_path, "zh").wording_by_code(),
    )
    sim = Simulator(
        service_url=base_url, auth_token=SIM_TOKEN, hotline_number=HOTLINE_NUMBER, time_scale=time_scale, aliyun=setup,
    )
    sim_server, _sim_thread, sim_url = serve_simulator(sim, host="127.0.0.1", port=0)

    env = dict(os.environ)
    env.update(environ)
    env.update(
        HOTLINE_PUBLIC_URL=base_url,
        HOTLINE_SIMULATOR_URL=sim_url,
        HOTLINE_CARRIER="aliyun",
        HOTLINE_ALIYUN_ACCESS_KEY_ID="simulator",
        HOTLINE_ALIYUN_ACCESS_KEY_SECRET="simulated-secret",
        HOTLINE_ALIYUN_SIGN_NAME=SIGN_NAME,
        HOTLINE_ALIYUN_CALLER_NUMBER=CALLER_NUMBER,
        HOTLINE_ALIYUN_TEMPLATES=str(templates_path),
        HOTLINE_ALIYUN_RECEIPT_TOKEN=RECEIPT_TOKEN,
        HOTLINE_ALIYUN_SMS_ENDPOINT=sim_url,
        HOTLINE_ALIYUN_VOICE_ENDPOINT=sim_url,
    )
    for name in ("HOTLINE_TWILIO_ACCOUNT_SID", "HOTLINE_TWILIO_AUTH_TOKEN"):
        env.pop(name, None)
    with serving(env, sim, sim_server, web_port, tmp_path, "e2e-aliyun") as stack:
        yield stack
