"""The simulator's HTTP API: the carrier REST endpoints and the control endpoints.

Carrier REST (what the service's simulator carrier calls):
``POST /sim/api/messages``, ``POST /sim/api/calls``; in Aliyun mode, Aliyun's
API at ``POST /`` (the action in the ``x-acs-action`` header, as its SDKs send it).

Control (tests, the CLI, the browser phone): ``POST /sim/calls``,
``POST /sim/sms``, ``PUT|GET /sim/phones/<phone>``, ``GET /sim/phones``,
``PUT /sim/default-script``, ``GET /sim/calls``, ``GET /sim/calls/<sid>``,
``POST /sim/calls/<sid>/answer|press|hangup|reject``, ``GET /sim/messages/<sid>``,
``GET /sim/conferences/<name>``, ``GET /sim/events?since=<n>``,
``POST /sim/reset``, ``GET /sim/healthz``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server

from simulator.aliyun import AliyunRefusal
from simulator.engine import Simulator
from simulator.refusals import CarrierRefusal


class _BadRequest(Exception):
    pass


def create_simulator_app(simulator: Simulator) -> Flask:
    """Build the Flask app that exposes ``simulator`` over HTTP (JSON in, JSON out).

    Errors come back as JSON ``{"code", "message"}``: carrier refusals with the
    refusal's status (400 / 429 / 5xx), bad input 400, unknown sids 404, and
    actions a call's state does not allow 409.
    """
    app = Flask("simulator")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese prompts stay readable

    @app.errorhandler(CarrierRefusal)
    def _refused(exc: CarrierRefusal) -> Any:
        return jsonify(exc.to_json()), exc.http_status

    @app.errorhandler(AliyunRefusal)
    def _aliyun_refused(exc: AliyunRefusal) -> Any:
        return jsonify({"Code": exc.code, "Message": exc.message, "RequestId": "simulator"}), exc.http_status

    @app.errorhandler(_BadRequest)
    def _bad(exc: _BadRequest) -> Any:
        return jsonify({"code": None, "message": str(exc)}), 400

    @app.errorhandler(KeyError)
    def _missing(exc: KeyError) -> Any:
        return jsonify({"code": None, "message": str(exc.args[0] if exc.args else exc)}), 404

    @app.errorhandler(ValueError)
    def _conflict(exc: ValueError) -> Any:
        return jsonify({"code": None, "message": str(exc)}), 409

    # --- carrier REST ---------------------------------------------------

    @app.post("/sim/api/messages")
    def api_messages() -> Any:
        body = _json()
        result = simulator.submit_sms(
            to=_str(body, "to"),
            from_=_str(body, "from"),
            body=_str(body, "body", required=False),
            status_callback=_str(body, "status_callback", required=False) or None,
        )
        return jsonify(result), 201

    @app.post("/sim/api/calls")
    def api_calls() -> Any:
        body = _json()
        timeout = body.get("timeout", 60)
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
            raise _BadRequest("timeout must be a positive number of seconds")
        result = simulator.place_call(
            to=_str(body, "to"),
            from_=_str(body, "from"),
            url=_str(body, "url", required=False),
            status_callback=_str(body, "status_callback", required=False) or None,
            timeout=timeout,
        )
        return jsonify(result), 201

    @app.post("/")
    def aliyun_api() -> Any:
        # Aliyun's SDKs put the parameters in the query string or a form body; either is read.
        params = {**request.args.to_dict(), **request.form.to_dict()}
        return jsonify(simulator.aliyun_request(request.headers.get("x-acs-action", ""), params))

    # --- control --------------------------------------------------------

    @app.post("/sim/calls")
    def control_dial() -> Any:
        body = _json()
        hangup_after = body.get("hangup_after")
        if hangup_after is not None and (isinstance(hangup_after, bool) or not isinstance(hangup_after, (int, float))):
            raise _BadRequest("hangup_after must be a number of seconds")
        sid = _guard(
            lambda: simulator.dial(
                _str(body, "from"),
                hangup_after=hangup_after,
                press=_str(body, "press", required=False) or None,
                to=_str(body, "to", required=False) or None,
            )
        )
        return jsonify({"sid": sid}), 201

    @app.post("/sim/sms")
    def control_sms() -> Any:
        body = _json()
        sid = _guard(
            lambda: simulator.send_sms(
                _str(body, "from"), _str(body, "body"), to=_str(body, "to", required=False) or None
            )
        )
        return jsonify({"sid": sid}), 201

    @app.get("/sim/phones")
    def list_phones() -> Any:
        return jsonify({"phones": simulator.phones()})

    @app.put("/sim/phones/<phone>")
    def put_phone(phone: str) -> Any:
        body = _json()
        _guard(lambda: simulator.script(phone, **body))
        return jsonify(simulator.phone(phone))

    @app.get("/sim/phones/<phone>")
    def get_phone(phone: str) -> Any:
        return jsonify(simulator.phone(phone))

    @app.put("/sim/default-script")
    def put_default_script() -> Any:
        body = _json()
        return jsonify(_guard(lambda: simulator.default_script(**body)))

    @app.get("/sim/calls")
    def list_calls() -> Any:
        return jsonify({"calls": simulator.calls()})

    @app.get("/sim/calls/<sid>")
    def get_call(sid: str) -> Any:
        return jsonify(simulator.call(sid))

    @app.post("/sim/calls/<sid>/answer")
    def answer(sid: str) -> Any:
        simulator.answer(sid)
        return jsonify(simulator.call(sid))

    @app.post("/sim/calls/<sid>/reject")
    def reject(sid: str) -> Any:
        simulator.reject(sid)
        return jsonify(simulator.call(sid))

    @app.post("/sim/calls/<sid>/press")
    def press(sid: str) -> Any:
        digits = _str(_json(), "digits")
        simulator.call(sid)  # unknown sid is a 404 before digits are judged
        simulator.press(sid, digits)
        return jsonify(simulator.call(sid))

    @app.post("/sim/calls/<sid>/hangup")
    def hangup(sid: str) -> Any:
        simulator.hangup(sid)
        return jsonify(simulator.call(sid))

    @app.get("/sim/messages/<sid>")
    def get_message(sid: str) -> Any:
        return jsonify(simulator.message(sid))

    @app.get("/sim/conferences/<name>")
    def get_conference(name: str) -> Any:
        room = simulator.conference(name)
        if room is None:
            raise KeyError(f"no conference {name}")
        return jsonify(room)

    @app.get("/sim/events")
    def events() -> Any:
        try:
            since = int(request.args.get("since", "0"))
        except ValueError as exc:
            raise _BadRequest("since must be an integer") from exc
        found = simulator.events(since, kind=request.args.get("kind") or None)
        last = found[-1]["seq"] if found else max(since, 0)
        return jsonify({"events": found, "next": last})

    @app.post("/sim/reset")
    def reset() -> Any:
        simulator.reset()
        return jsonify({"ok": True})

    @app.get("/sim/healthz")
    def healthz() -> Any:
        return jsonify(
            {
                "ok": True,
                "service_url": simulator.service_url,
                "hotline_number": simulator.hotline_number,
                "account_sid": simulator.account_sid,
                "time_scale": simulator.time_scale,
                "carrier": "aliyun" if simulator.plays_aliyun else "twilio",
            }
        )

    return app


def serve_simulator(
    sim: Simulator, host: str = "127.0.0.1", port: int = 0
) -> tuple[BaseWSGIServer, threading.Thread, str]:
    """Serve ``sim``'s HTTP API from a daemon thread (threaded werkzeug server).

    ``port=0`` picks a free port. Stop it with ``server.shutdown()``, then
    ``sim.shutdown()``.

    Returns:
        The server, its thread and its base URL such as ``http://127.0.0.1:54321``.

    Raises:
        OSError: The address is in use or cannot be bound.
    """
    server = make_server(host, port, create_simulator_app(sim), threaded=True)
    # A short poll keeps server.shutdown() quick for tests and Ctrl-C.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="sim-http", daemon=True)
    thread.start()
    return server, thread, f"http://{host}:{server.server_port}"


def run_simulator(
    sim: Simulator,
    host: str = "127.0.0.1",
    port: int = 8900,
    *,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve ``sim`` in the foreground until Ctrl-C (for ``hotline simulator serve``).

    ``announce`` is called with the base URL once the socket is bound. On exit
    the server is closed and the simulator's flows are stopped.

    Raises:
        OSError: The address is in use or cannot be bound.
    """
    server = make_server(host, port, create_simulator_app(sim), threaded=True)
    announce(f"http://{host}:{server.server_port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sim.shutdown()


def _json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise _BadRequest("the request body must be a JSON object")
    return body


def _str(body: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = body.get(key)
    if value is None:
        if required:
            raise _BadRequest(f"{key} is required")
        return ""
    if not isinstance(value, str):
        raise _BadRequest(f"{key} must be a string")
    return value


def _guard(action: Callable[[], Any]) -> Any:
    # Input the simulator rejects (bad numbers, unknown script fields) is the client's fault: 400.
    try:
        return action()
    except (ValueError, TypeError) as exc:
        raise _BadRequest(str(exc)) from exc
