"""The app factory: settings, extensions and blueprints, bound to one Flask app."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

from config.settings import Settings, load_settings
from hotline.carriers.twilio.voices import check_voice
from hotline.extensions import SETTINGS_KEY


def _secret_key(settings: Settings, instance_path: str) -> str:
    """The configured secret key, or one generated once and kept in the instance folder."""
    if settings.secret_key:
        return settings.secret_key
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        with open(path, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48))
        os.chmod(path, 0o600)
    with open(path, encoding="ascii") as handle:
        return handle.read().strip()


def create_app(
    environ: Mapping[str, str] | None = None,
    *,
    settings: Settings | None = None,
    instance_path: str | None = None,
) -> Flask:
    """Build the Flask app.

    Args:
        environ: Environment to read settings from; ``os.environ`` by default.
        settings: Ready-made settings, which take precedence over ``environ``.
        instance_path: Where SQLite, the embedded Redis and the generated
            secret key live; Flask's instance folder by default.

    Raises:
        config.settings.SettingsError: A setting is invalid.
    """
    if settings is None:
        settings = load_settings(environ)
    # Every prompt is spoken by this voice (Twilio's TwiML, which the simulator reads too).
    check_voice(settings)
    # What the carrier reads besides the settings (Aliyun's registered templates) is checked now, not at an alert.
    from hotline.carriers import check_carrier

    check_carrier(settings)
    if instance_path is None:
        instance_path = (environ if environ is not None else os.environ).get("HOTLINE_INSTANCE_PATH")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.extensions[SETTINGS_KEY] = settings
    app.config.update(
        SECRET_KEY=_secret_key(settings, app.instance_path),
        DATABASE_URL=settings.database_url
        or "sqlite:///" + os.path.join(app.instance_path, "hotline.sqlite3"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        JSON_AS_ASCII=False,
    )
    if isinstance(app.json, DefaultJSONProvider):
        app.json.ensure_ascii = False
    # One proxy hop (the TLS terminator) may tell us the original scheme and host.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

    from hotline.extensions import db, queues

    db.init_app(app)
    queues.init_app(app)

    from hotline import health

    app.register_blueprint(health.bp)

    from hotline import webhooks

    app.register_blueprint(webhooks.bp)
    from hotline.api import triggers as trigger_api
    from hotline.webhooks import aliyun as aliyun_receipts

    app.register_blueprint(aliyun_receipts.bp)
    app.register_blueprint(trigger_api.bp)

    # The station console: sign-in, CSRF, language, its blueprints and API.
    from hotline import console

    console.init_app(app)
    # Carrier webhooks carry no CSRF token; their signatures are checked instead.
    console.csrf.exempt(webhooks.bp)
    console.csrf.exempt(aliyun_receipts.bp)  # behind a secret path and signed OutIds
    console.csrf.exempt(trigger_api.bp)  # bearer tokens, no cookies

    # The browser phone (/phone/) exists only while the simulator is the carrier.
    if settings.carrier == "simulator":
        from hotline import phone

        phone.init_app(app)
    return app
