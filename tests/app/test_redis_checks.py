from hotline.redis_checks import durability_problems, warn_about_durability


def test_safe_settings_have_no_problems():
    assert durability_problems({"maxmemory-policy": "noeviction", "appendonly": "yes"}) == []


def test_eviction_and_missing_aof_are_reported():
    problems = durability_problems({"maxmemory-policy": "allkeys-lru", "appendonly": "no"})
    assert len(problems) == 2
    assert "allkeys-lru" in problems[0]
    assert "append-only" in problems[1]


def test_reads_a_real_server(redis_conn):
    problems = warn_about_durability(redis_conn)
    config = redis_conn.config_get("appendonly")
    assert ("appendonly is off" in " ".join(problems)) == (config["appendonly"] != "yes")
