"""X-Forwarded-* headers are believed only from proxies HOTLINE_PROXY_COUNT says are there.

Trusting one hop with no proxy in front let anyone name their own address,
so the login throttle never saw two guesses from the same place.
"""

from __future__ import annotations

from flask import Flask, request

from hotline.app import create_app
from tests.support.console import PASSWORD


def _guess(client, forwarded_for: str, password: str = "wrong-password"):
    return client.post(
        "/login", data={"username": "a_staff", "password": password}, headers={"X-Forwarded-For": forwarded_for}
    )


def _app_with(environ: dict[str, str], **extra: str) -> Flask:
    app = create_app({**environ, **extra})
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)

    @app.get("/_address")
    def address() -> dict[str, str]:
        return {"address": request.remote_addr or "", "scheme": request.scheme}

    return app


def test_without_a_proxy_forwarded_addresses_do_not_dodge_the_throttle(console, world):
    statuses = [_guess(console, f"203.0.113.{n}").status_code for n in range(30)]
    assert statuses[:5] == [200] * 5
    assert set(statuses[5:]) == {429}
    assert _guess(console, "198.51.100.7", PASSWORD).status_code == 429  # still locked out


def test_without_a_proxy_the_socket_address_and_scheme_are_used(environ, world):
    client = _app_with(environ).test_client()
    seen = client.get("/_address", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert seen.get_json() == {"address": "127.0.0.1", "scheme": "http"}


def test_behind_one_proxy_the_forwarded_address_is_the_clients(environ, world):
    client = _app_with(environ, HOTLINE_PROXY_COUNT="1").test_client()
    seen = client.get("/_address", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert seen.get_json() == {"address": "203.0.113.9", "scheme": "https"}
    # Only the hop the proxy added is believed, not what the client wrote before it.
    spoofed = client.get("/_address", headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.9"})
    assert spoofed.get_json()["address"] == "203.0.113.9"
    # Each client behind the proxy is throttled on its own address.
    assert [_guess(client, "203.0.113.1").status_code for _ in range(6)][-1] == 429
    assert _guess(client, "203.0.113.2").status_code == 200
