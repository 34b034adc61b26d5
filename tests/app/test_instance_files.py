"""The instance folder (SQLite, the embedded Redis, the secret key) is private to the service's user.

The database holds villagers' names and numbers and staff password hashes;
Redis holds uploads waiting for confirmation. Both were world-readable, and
two web workers starting at once could each write a different secret key.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from config.settings import load_settings
from hotline.app import _secret_key, create_app
from hotline.db import make_engine


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems give a service (022): new files readable by all unless made otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_the_instance_folder_its_key_and_the_sqlite_files_are_private(tmp_path: Path, usual_umask, redis_url):
    instance = tmp_path / "instance"
    app = create_app({"HOTLINE_INSTANCE_PATH": str(instance), "REDIS_URL": redis_url})
    from hotline.extensions import db

    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
    assert _mode(instance) == 0o700
    assert _mode(instance / "secret_key") == 0o600
    database = instance / "hotline.sqlite3"
    assert _mode(database) == 0o600
    assert _mode(Path(str(database) + "-wal")) == 0o600
    db.state(app).engine.dispose()


def test_an_existing_open_folder_and_database_are_made_private(tmp_path: Path, usual_umask):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    database = instance / "hotline.sqlite3"
    database.touch(mode=0o644)
    os.chmod(instance, 0o755)
    os.chmod(database, 0o644)
    create_app({"HOTLINE_INSTANCE_PATH": str(instance), "HOTLINE_SECRET_KEY": "k"})
    assert _mode(instance) == 0o700
    make_engine("sqlite:///" + str(database)).dispose()
    assert _mode(database) == 0o600


def test_the_embedded_redis_files_are_private(tmp_path: Path, usual_umask):
    from hotline.queues import start_embedded_redis

    folder = tmp_path / "redis"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    server = start_embedded_redis(str(folder))
    try:
        server.set("hotline:test", "x")
        server.save()
        files = [path for path in folder.rglob("*") if path.is_file()]
        assert files
        assert _mode(folder) == 0o700
        for path in files:
            assert _mode(path) == 0o600, path
    finally:
        server.shutdown()


def _make_key(instance: str, barrier, results) -> None:
    barrier.wait()
    results.put(_secret_key(load_settings({}), instance))


def test_workers_starting_at_once_end_with_one_key(tmp_path: Path):
    context = multiprocessing.get_context("fork")
    for attempt in range(3):
        instance = tmp_path / f"instance{attempt}"
        instance.mkdir(mode=0o700)
        barrier = context.Barrier(6)
        results = context.Queue()
        workers = [context.Process(target=_make_key, args=(str(instance), barrier, results)) for _ in range(6)]
        for worker in workers:
            worker.start()
        keys = [results.get(timeout=30) for _ in workers]
        for worker in workers:
            worker.join(10)
        assert len(set(keys)) == 1 and len(keys[0]) >= 64
        assert (instance / "secret_key").read_text().strip() == keys[0]
        assert sorted(path.name for path in instance.iterdir()) == ["secret_key"]  # no temporary files left
        assert _mode(instance / "secret_key") == 0o600
