"""The RQ worker hotline runs: RQ's own, plus the sweeper kept alive."""

from __future__ import annotations

from rq import Worker

from workers.sweeper import ensure_sweeping


class HotlineWorker(Worker):
    """A forking RQ worker that also makes sure the outbox sweeper is running.

    RQ calls the maintenance pass at start-up and every ``maintenance_interval``
    seconds; if the sweep chain was lost (a killed worker, a flushed Redis),
    the next pass starts it again.
    """

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        ensure_sweeping(self.queues[0])
