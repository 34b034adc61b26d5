"""Console pages over years of history: p50 and p99 of each page, signed in as a city-wide user (sees all)."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests
from sqlalchemy import text

from bench.report import Figure, p
from bench.seed import BENCH_PASSWORD, BENCH_USER
from bench.stack import Places, service_env, web
from hotline.app import create_app
from hotline.console.queries import Cursor
from hotline.extensions import db
from tests.support.console import csrf_token

TARGET = 0.3  # seconds, at p99


def _deep_cursor(places: Places, rows_before: int) -> str:
    """Where the list is ``rows_before`` rows from the newest: a deep page's Next link."""
    app = create_app(service_env(places))
    with app.app_context():
        found = db.session.execute(
            text("SELECT opened_at, id FROM incidents ORDER BY opened_at DESC, id DESC OFFSET :n LIMIT 1"),
            {"n": rows_before},
        ).one()
    return str(Cursor(found[0], found[1]))


def signed_in(base: str) -> requests.Session:
    """A session signed in through the login form, as a browser is."""
    client = requests.Session()
    page = client.get(base + "/login", timeout=30)
    form = {"username": BENCH_USER, "password": BENCH_PASSWORD}
    token = csrf_token(page.text)
    if token:
        form["csrf_token"] = token
    answer = client.post(base + "/login", data=form, timeout=30, allow_redirects=False)
    if answer.status_code != 302:
        raise RuntimeError(f"could not sign in as {BENCH_USER}: {answer.status_code}")
    return client


def figures(places: Places, incidents: int, *, repeats: int, say: Callable[[str], None]) -> list[Figure]:
    """Each page's p50 and p99 over ``repeats`` requests (after one to warm), with the board's size."""
    deep = _deep_cursor(places, max(0, incidents - 100))
    pages = [
        ("/incidents (first page)", "/incidents"),
        ("/incidents (a page near the oldest)", f"/incidents?after={deep}&page={max(1, incidents // 50 - 1)}"),
        ("/api/incidents (first page)", "/api/incidents"),
        ("/stats", "/stats"),
        ("/api/stats", "/api/stats"),
        ("/board", "/board"),
        ("/board.json", "/board.json"),
        ("/api/board", "/api/board"),
    ]
    found: list[Figure] = []
    with web(service_env(places, HOTLINE_DB_TIMEOUT="60"), places.logs / "web-console.log") as base:
        client = signed_in(base)
        for name, path in pages:
            say(f"{name}…")
            client.get(base + path, timeout=120)
            times = []
            size = 0
            for _ in range(repeats):
                started = time.perf_counter()
                answer = client.get(base + path, timeout=120)
                times.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    raise RuntimeError(f"{path} answered {answer.status_code}")
                size = len(answer.content)
            p99 = p(times, 0.99)
            found.append(Figure(f"{name}, p50", p(times, 0.5) * 1000, "ms", "target, p99", TARGET * 1000))
            found.append(Figure(f"{name}, p99 ({size / 1024:.0f} KB)", p99 * 1000, "ms", "target, p99",
                                TARGET * 1000, "< 300 ms", p99 < TARGET))
            if path == "/board.json":
                board = answer.json()
                shown, more = len(board["incidents"]), board["more"]
                found.append(Figure(f"Board rows shown (of {shown + more:,} open)", shown, "", "", None,
                                    "bounded", shown <= 100))
    return found
