from hotline.app import create_app


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"database": "ok", "redis": "ok", "status": "ok"}


def test_healthz_reports_unreachable_redis(environ, migrated_engine, tmp_path):
    environ["REDIS_URL"] = "redis://127.0.0.1:1/0"
    app = create_app(environ)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"] == "ok"
    assert body["redis"].startswith("error:")
    assert body["status"] == "unavailable"


def test_healthz_reports_unreachable_database(environ, redis_conn, tmp_path):
    environ["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    app = create_app(environ)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"].startswith("error:")
