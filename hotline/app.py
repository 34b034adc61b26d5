"""The app factory: settings, extensions and blueprints, bound to one Flask app."""

from __future__ import annotations

import io
import os
import secrets
import tempfile
from collections.abc import Mapping
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from config.settings import Settings, load_settings
from hotline.console import uploads
from hotline.console.arguments import MAX_ID
from hotline.extensions import SETTINGS_KEY


def _secret_key(settings: Settings, instance_path: str) -> str:
    """The configured secret key, or one generated once and kept in the instance folder.

    The key is written whole to a private temporary file and then linked into
    place, which fails if the name exists: two web workers starting at once
    both end up reading the one key that won, never a half-written file or
    two different keys.

    Raises:
        OSError: The instance folder cannot be written or read.
    """
    if settings.secret_key:
        return settings.secret_key
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        handle, temporary = tempfile.mkstemp(dir=instance_path, prefix=".secret_key.")  # created 0600
        try:
            with os.fdopen(handle, "w", encoding="ascii") as stream:
                stream.write(secrets.token_urlsafe(48))
                stream.flush()
                os.fsync(stream.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass  # another process created it first: use theirs
        finally:
            os.unlink(temporary)
    with open(path, encoding="ascii") as key_file:
        return key_file.read().strip()


def _private_instance_folder(path: str) -> None:
    """Create the instance folder readable by the service's user alone.

    It holds the SQLite database (names, numbers, password hashes), the
    embedded Redis's files (uploads waiting for confirmation) and the secret
    key. An existing folder is made private too.
    """
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)


class _IdConverter(IntegerConverter):
    """``<int:…>`` in URLs: ids written in ASCII digits within the database's range.

    Anything else (``²``, a number too large for an id) matches no route and
    is answered 404, instead of failing in the database with a 500.
    """

    regex = r"[0-9]+"

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


# Request bodies are refused (413) past these sizes before they are read: a
# carrier's webhook is a few form fields, an upload is one directory file,
# and every other console form or API call is small.
WEBHOOK_MAX_BYTES = 32 * 1024
DEFAULT_MAX_BYTES = 64 * 1024
# Carriers' webhooks, today's and any added later beside them.
_WEBHOOK_PREFIXES = ("/twilio/", "/aliyun/")
_UPLOAD_ENDPOINTS = {"directory.upload"}


def _body_limit() -> int:
    if request.path.startswith(_WEBHOOK_PREFIXES):
        return WEBHOOK_MAX_BYTES
    if request.endpoint in _UPLOAD_ENDPOINTS:
        return uploads.MAX_REQUEST_BYTES
    return DEFAULT_MAX_BYTES


def _limit_request_size() -> None:
    """Refuse an oversized body from its declared length, and cap what is read of one without.

    Registered before every other hook (CSRF reads the form), so nothing has
    read the body yet; a chunked body with no length stops being read at the
    limit, also with 413.

    Raises:
        werkzeug.exceptions.RequestEntityTooLarge: The declared length is over the limit.
    """
    limit = _body_limit()
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    if request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        _buffer_chunked_body(limit)


def _buffer_chunked_body(limit: int) -> None:
    """Read a chunked body of at most ``limit`` bytes ahead of the view; past it, 413.

    Werkzeug alone would stop reading a streamed body at the limit and hand
    the view what it had, so a forged webhook would be judged on a truncated
    body instead of being refused for its size.

    Raises:
        werkzeug.exceptions.RequestEntityTooLarge: The body goes on past ``limit``.
    """
    stream = request.environ["wsgi.input"]
    body = bytearray()
    while len(body) <= limit:
        piece = stream.read(limit + 1 - len(body))
        if not piece:
            break
        body += piece
    if len(body) > limit:
        raise RequestEntityTooLarge()
    request.environ["wsgi.input"] = io.BytesIO(bytes(body))
    request.environ["CONTENT_LENGTH"] = str(len(body))


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
    # What the carrier reads besides the settings (Twilio's voice, Aliyun's templates) is checked now, not at an alert.
    from hotline.carriers import check_carrier

    check_carrier(settings)
    if instance_path is None:
        instance_path = (environ if environ is not None else os.environ).get("HOTLINE_INSTANCE_PATH")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    _private_instance_folder(app.instance_path)
    app.url_map.converters["int"] = _IdConverter
    app.before_request(_limit_request_size)
    app.extensions[SETTINGS_KEY] = settings
    app.config.update(
        SECRET_KEY=_secret_key(settings, app.instance_path),
        DATABASE_URL=settings.database_url
        or "sqlite:///" + os.path.join(app.instance_path, "hotline.sqlite3"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        JSON_AS_ASCII=False,
        MAX_CONTENT_LENGTH=DEFAULT_MAX_BYTES,
    )
    if isinstance(app.json, DefaultJSONProvider):
        app.json.ensure_ascii = False
    # Forwarded headers are believed only from the proxies said to be in front:
    # with none, anyone could name their own address and dodge the login throttle.
    if settings.proxy_count:
        hops = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    from hotline.extensions import db, queues

    db.init_app(app)
    queues.init_app(app)

    from hotline import health

    app.register_blueprint(health.bp)

    from hotline import metrics_endpoint

    metrics_endpoint.init_app(app)

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
