"""The database extension: one engine per app, one session per app context."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, g
from sqlalchemy import Connection, CursorResult, Engine, Executable, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from config.settings import Settings


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file readable by the service's user alone, or make an existing one so.

    The file holds villagers' names and numbers and staff password hashes.
    SQLite gives its -wal and -shm files the database file's permissions, so
    they are private too.
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    if not os.path.isdir(os.path.dirname(os.path.abspath(database))):
        return  # SQLite says so on connecting, as it always has
    # Never open an existing file here: closing any descriptor of a file drops
    # every POSIX lock this process holds on it, SQLite's own included.
    try:
        os.close(os.open(database, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    os.chmod(database, 0o600)


def make_engine(url: str, *, timeout: int = 5, **kwargs: Any) -> Engine:
    """Create an engine with the timeouts an alerting service needs.

    A hung database must not hang a webhook past Twilio's 15 seconds, so
    PostgreSQL gets connect and statement timeouts. SQLite runs in WAL mode so
    the web process and the worker can write side by side.
    """
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(
            url, connect_args={"timeout": max(timeout, 15), "check_same_thread": False}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "savepoint")
        def _savepoint_inside_a_transaction(connection: Connection, _name: object) -> None:
            # pysqlite opens a transaction only before a write, so a SAVEPOINT
            # issued first would start one that its RELEASE commits: an incident
            # would be committed without its outbox, and a duplicate webhook
            # could see it half-written. Open the real transaction first,
            # taking the write lock (waiting up to the busy timeout).
            dbapi_connection: Any = connection.connection.dbapi_connection
            if not dbapi_connection.in_transaction:
                dbapi_connection.execute("BEGIN IMMEDIATE")

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": timeout,
            "options": f"-c statement_timeout={timeout * 1000} -c lock_timeout={timeout * 1000}",
        },
        **kwargs,
    )


@dataclass
class DatabaseState:
    """What one app holds: its engine and session factory."""

    engine: Engine
    sessionmaker: sessionmaker[Session]

    def dispose(self) -> None:
        """Drop pooled connections, e.g. in a process that was just forked."""
        self.engine.dispose(close=False)


class Database:
    """Binds an engine to each Flask app, in the manner of a Flask extension.

    Services never import this: they take a :class:`Session` argument. Views
    and jobs get theirs from :attr:`session`.
    """

    def init_app(self, app: Flask) -> None:
        settings: Settings = app.extensions["hotline.settings"]
        url = settings.database_url or app.config["DATABASE_URL"]
        engine = make_engine(url, timeout=settings.db_timeout)
        app.extensions["hotline.db"] = DatabaseState(engine, sessionmaker(engine, expire_on_commit=False))
        app.teardown_appcontext(self._close_session)

    @staticmethod
    def state(app: Flask | None = None) -> DatabaseState:
        """The engine and session factory of ``app`` (the current app by default)."""
        return (app or current_app).extensions["hotline.db"]

    @property
    def engine(self) -> Engine:
        return self.state().engine

    @property
    def session(self) -> Session:
        """The session of the current app context, opened on first use."""
        if "db_session" not in g:
            g.db_session = self.state().sessionmaker()
        return g.db_session

    def _close_session(self, _exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    def dispose(self, app: Flask | None = None) -> None:
        self.state(app).dispose()


def rows_changed(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE and say how many rows it changed.

    Conditional updates are how hotline fences concurrent work (claiming a
    row, firing an escalation level once), so the count is the decision.
    """
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount
