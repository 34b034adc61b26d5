"""Start-up checks on the Redis that carries alerts."""

from __future__ import annotations

import logging

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


def durability_problems(config: dict[str, str]) -> list[str]:
    """What in a Redis ``CONFIG GET`` answer could lose queued alerts (pure)."""
    problems = []
    policy = config.get("maxmemory-policy", "")
    if policy and policy != "noeviction":
        problems.append(
            f"maxmemory-policy is {policy!r}: under memory pressure Redis may evict queued alerts; set noeviction"
        )
    if config.get("appendonly", "no") != "yes":
        problems.append("appendonly is off: a Redis restart loses queued alerts; enable the append-only file")
    return problems


def warn_about_durability(connection: Redis) -> list[str]:
    """Log a loud warning for each durability problem; returns them.

    A Redis that refuses ``CONFIG GET`` (some managed services do) is
    reported once and not treated as a failure.
    """
    try:
        config = {**connection.config_get("maxmemory-policy"), **connection.config_get("appendonly")}
    except RedisError as exc:
        log.warning("could not read Redis settings to check durability: %s", exc)
        return []
    problems = durability_problems({str(k): str(v) for k, v in config.items()})
    for problem in problems:
        log.warning("REDIS DURABILITY WARNING: %s", problem)
    return problems
