"""A bare Flask app answering the same routes with fixed bodies: the floor under the webhook figures.

Served by the same gunicorn settings as the service (the Procfile's web line),
so the difference is the service's own work.
"""

from __future__ import annotations

from flask import Flask, Response

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>ok</Say></Response>'


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok")

    @app.post("/twilio/voice")
    def voice() -> Response:
        return Response(TWIML, mimetype="application/xml")

    @app.post("/twilio/sms-status")
    def sms_status() -> Response:
        return Response("", status=204)

    return app
