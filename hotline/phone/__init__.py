"""The browser phone: be any villager in the directory and watch the hotline ring their group.

Present only while the carrier simulator is the carrier (no Twilio
credentials): the page at ``/phone/`` drives the simulator's virtual phones
through a small JSON API under ``/phone/api/``, which forwards to the
simulator server-side so the browser stays on one origin.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint(
    "phone",
    __name__,
    url_prefix="/phone",
    template_folder="templates",
    static_folder="static",
)


def init_app(app: Flask) -> None:
    """Register the browser phone on ``app``; call it only when the simulator is the carrier."""
    from hotline.phone import views  # noqa: F401  (the routes register themselves on bp)

    app.register_blueprint(bp)
