"""``GET /metrics``: only with ``HOTLINE_METRICS_TOKEN`` and its bearer token, with every series the issue names.

The series are fed by the real paths: a send through the worker's job (to a
fake carrier), an escalation check, a member's acceptance, a request.
"""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from rq import Queue

from hotline.app import create_app
from hotline.extensions import get_settings, use_carrier
from hotline.models import Answer, Channel, Role
from hotline.services.responses import record_response
from tests.workers.test_jobs import FakeCarrier, _sms_incident
from workers import runtime
from workers.jobs import check_escalation, send_sms

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def environ(environ: dict[str, str]) -> dict[str, str]:
    return dict(environ, HOTLINE_METRICS_TOKEN=TOKEN)


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_without_a_token_configured_there_is_no_metrics_endpoint(environ, app):
    bare = create_app({k: v for k, v in environ.items() if k != "HOTLINE_METRICS_TOKEN"})
    assert bare.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer"])
def test_metrics_need_the_bearer_token(client, header):
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert b"hotline_" not in response.data


def test_metrics_expose_every_named_series_fed_by_the_real_paths(app, client, session, redis_conn):
    settings = get_settings(app)
    use_carrier(app, FakeCarrier())
    runtime.use_app(app)
    sent_before = _sample("hotline_sends_total", channel="sms", outcome="sent", reason="")
    escalations_before = _sample("hotline_escalations_total", level="1")
    first_before = _sample("hotline_call_to_first_carrier_acceptance_seconds_count")
    acks_before = _sample("hotline_call_to_first_acknowledgement_seconds_count")

    opened = _sms_incident(session, settings, opened_ago=61)
    assert send_sms(opened.sms_ids[0]).startswith("SM")
    assert check_escalation(opened.incident.id, 1) == "level 1: fired"
    member = next(m for m in opened.incident.group.members if m.role != Role.HOUSEHOLD)
    record_response(session, settings, opened.incident, phone=member.phone, channel=Channel.SMS,
                    answer=Answer.ACCEPT, source_sid="SM" + "a" * 32)
    session.commit()
    client.get("/healthz")
    Queue("broadcasts", connection=redis_conn).enqueue("workers.jobs.send_broadcast", [])

    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    body = response.get_data(as_text=True)
    for series in (
        'hotline_request_seconds_bucket{le="0.005",route="/healthz"}',
        'hotline_sends_total{channel="sms",outcome="sent",reason=""}',
        'hotline_queue_depth{queue="alerts"}',
        'hotline_queue_depth{queue="broadcasts"} 1.0',
        'hotline_queue_oldest_seconds{queue="broadcasts"}',
        'hotline_rate_limit_wait_seconds_count{channel="sms",priority="urgent"}',
        "hotline_call_to_first_carrier_acceptance_seconds_count",
        "hotline_call_to_first_acknowledgement_seconds_count",
        'hotline_escalations_total{level="1"}',
    ):
        assert series in body, f"{series} missing from /metrics"
    assert _sample("hotline_sends_total", channel="sms", outcome="sent", reason="") == sent_before + 1
    assert _sample("hotline_escalations_total", level="1") == escalations_before + 1
    assert _sample("hotline_call_to_first_carrier_acceptance_seconds_count") == first_before + 1
    assert _sample("hotline_call_to_first_acknowledgement_seconds_count") == acks_before + 1
