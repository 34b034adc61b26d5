"""Helpers for simulator tests: a tiny fake hotline service that checks Twilio signatures."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, request
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

Handler = Callable[[dict[str, str]], "str | tuple[str, int]"]


def twiml(inner: str) -> str:
    """Wrap verbs in a TwiML ``<Response>``."""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'


@dataclass(frozen=True)
class Received:
    """One request the fake service got."""

    index: int
    method: str
    path: str
    url: str
    params: dict[str, str]
    signature: str
    valid: bool


class FakeService:
    """Plays the hotline service: answers each path with a handler's TwiML and records every request.

    A request whose ``X-Twilio-Signature`` does not validate is answered 403
    (as the real webhook blueprint does) and listed in :attr:`invalid`.
    Paths without a handler answer an empty ``<Response/>``.
    """

    def __init__(self, auth_token: str) -> None:
        self.validator = RequestValidator(auth_token)
        self.routes: dict[str, Handler] = {}
        self.received: list[Received] = []
        self.invalid: list[Received] = []
        self._lock = threading.Lock()
        self.app = Flask("fake-hotline")
        self.app.add_url_rule("/<path:path>", "any", self._handle, methods=["GET", "POST"])
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-service", daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, path: str) -> Response:
        signature = request.headers.get("X-Twilio-Signature", "")
        if request.method == "POST":
            params = request.form.to_dict()
            valid = self.validator.validate(request.url, request.form, signature)
        else:
            params = request.args.to_dict()
            valid = self.validator.validate(request.url, {}, signature)
        with self._lock:
            item = Received(len(self.received), request.method, "/" + path, request.url, params, signature, valid)
            self.received.append(item)
            if not valid:
                self.invalid.append(item)
        if not valid:
            return Response("bad signature", status=403)
        handler = self.routes.get("/" + path)
        result = handler(params) if handler else twiml("")
        body, status = result if isinstance(result, tuple) else (result, 200)
        return Response(body, status=status, mimetype="text/xml")

    def requests_to(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def only(self, path: str) -> Received:
        found = self.requests_to(path)
        assert len(found) == 1, f"expected one request to {path}, got {len(found)}"
        return found[0]

    def wait_for(self, path: str, count: int = 1, timeout: float = 5.0) -> list[Received]:
        """Wait until ``path`` has had at least ``count`` requests; return them."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.requests_to(path)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path}: {len(found)} request(s) after {timeout}s, wanted {count}")
            time.sleep(0.01)
