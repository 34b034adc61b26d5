"""The audit log: its migration, what it stores, and who may read it."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

from hotline.migrate import alembic_config
from hotline.models import AuditLog, Role
from tests.support.console import login, member


def test_migrations_are_one_straight_line_ending_in_the_audit_log(migrated_engine):
    script = ScriptDirectory.from_config(alembic_config(migrated_engine))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert all(len(revision._all_down_revisions) <= 1 for revision in revisions)
    columns = {column["name"] for column in inspect(migrated_engine).get_columns("audit_log")}
    assert {"at", "user_id", "actor", "station_id", "entity", "entity_id", "action", "before", "after"} <= columns


def test_audit_entries_are_read_only_by_their_station(console_app, session, world):
    a_client, b_client, city_client = (console_app.test_client() for _ in range(3))
    login(a_client, "a_staff")
    login(b_client, "b_staff")
    login(city_client, "city")
    target = member(world.group_a, Role.HOUSEHOLD, 1)
    a_client.post(
        f"/directory/members/{target.id}/edit",
        data={
            "group_id": world.group_a.id, "name": "改名后", "phone": target.phone, "role": "household", "active": "y",
        },
    )
    entry = session.scalar(select(AuditLog))
    assert entry.before["name"] == target.name and entry.after["name"] == "改名后"  # JSON keeps Chinese
    assert "改名后" in a_client.get("/directory/audit").get_data(as_text=True)
    assert "改名后" in city_client.get("/directory/audit").get_data(as_text=True)
    assert "改名后" not in b_client.get("/directory/audit").get_data(as_text=True)
