"""``python -m bench``: seed (once), run every benchmark, print the table.

Needs PostgreSQL and Redis on 127.0.0.1 (``BENCH_DATABASE_URL``, default
``postgresql://postgres@127.0.0.1:5432/bench``, a database of its own that it
fills; ``BENCH_REDIS_URL``, default ``redis://127.0.0.1:6379/10``, which it
empties). ``--quick`` runs every part with tiny sizes (a smoke test).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from bench import console, delivery, webhooks
from bench.report import Figure, table
from bench.seed import add_user, seed, seeded
from bench.stack import Places
from hotline.migrate import upgrade

SECTIONS = ("delivery", "webhooks", "console")


def machine() -> str:
    """nproc, the CPU model and the memory, for the table's caption."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory = next(
            int(line.split()[1]) // 1024 // 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        memory = 0
    return f"{os.cpu_count()} CPUs ({model}), {memory} GiB memory, {platform.system()} {platform.release()}"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that everything runs")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only this part (repeatable)")
    parser.add_argument("--incidents", type=int, default=1_000_000, help="incidents seeded for the console")
    parser.add_argument("--open-incidents", type=int, default=5_000, help="of which still open (the board)")
    parser.add_argument("--broadcast", type=int, default=40_000, help="texts queued in the broadcast")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench"))
    parser.add_argument("--delivery-database-url", default=os.environ.get("BENCH_DELIVERY_DATABASE_URL", ""),
                        help="a database for the sends (default: the first one's name with _delivery; emptied)")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10"))
    args = parser.parse_args(argv)
    if args.quick:
        args.incidents, args.open_incidents, args.broadcast = 2_000, 150, 300
    return args


def _engine(url: str) -> Engine:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _directory_only(url: str) -> None:
    """Create (if need be) and empty the delivery database, then write the seeded directory and nothing else."""
    server, name = url.rsplit("/", 1)
    admin = _engine(server + "/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}):
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = _engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    seed(engine, 0, 0, say=lambda message: None)
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    say = lambda message: print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)  # noqa: E731
    sections = args.only or list(SECTIONS)
    engine = _engine(args.database_url)
    if engine.dialect.name != "postgresql":
        print("the benchmark needs PostgreSQL (BENCH_DATABASE_URL)", file=sys.stderr)
        return 2
    upgrade(engine)
    found = seeded(engine)
    if found == 0:
        say(f"seeding {args.incidents:,} incidents (once; later runs reuse them)…")
        seed(engine, args.incidents, args.open_incidents, chunk=min(100_000, args.incidents), say=say)
    elif found < args.incidents * 0.9:
        say(f"the database holds {found:,} incidents, not {args.incidents:,}: using what it holds")
    add_user(engine)
    with engine.connect() as connection:
        incidents = connection.scalar(text("SELECT count(*) FROM incidents")) or 0
    engine.dispose()

    delivery_url = args.delivery_database_url or args.database_url.rsplit("/", 1)[0] + "/" + (
        args.database_url.rsplit("/", 1)[1] + "_delivery"
    )
    if "delivery" in sections:
        _directory_only(delivery_url)

    quick = args.quick
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as logs:
        places = Places(args.database_url, args.redis_url, Path(logs), delivery_url)
        if "delivery" in sections:
            figures += delivery.figures(
                places, rounds=3 if quick else 20, burst_calls=3 if quick else 30,
                burst_seconds=3.0 if quick else 30.0, rate_rows=20 if quick else 200, rate=10,
                broadcast_rows=args.broadcast, say=say,
            )
        if "webhooks" in sections:
            figures += webhooks.figures(
                places, voice_rate=50, voice_seconds=0.4 if quick else 20, status_rate=200,
                status_seconds=0.2 if quick else 10, say=say,
            )
        if "console" in sections:
            figures += console.figures(places, incidents, repeats=2 if quick else 20, say=say)
    print(f"\nhotline benchmark, {time.strftime('%Y-%m-%d')}: {incidents:,} incidents in PostgreSQL; "
          f"fake carrier at {delivery.LATENCY * 1000:.0f} ms; {machine()}\n")
    print(table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
