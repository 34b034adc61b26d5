"""The RQ worker hotline runs: RQ's own, plus the sweeper kept alive."""

from __future__ import annotations

import signal
from types import FrameType

from rq import Worker

from workers.sweeper import ensure_sweeping


class HotlineWorker(Worker):
    """A forking RQ worker that also makes sure the outbox sweeper is running.

    RQ calls the maintenance pass at start-up and every ``maintenance_interval``
    seconds; if the sweep chain was lost (a killed worker, a flushed Redis),
    the next pass starts it again.
    """

    # RQ waits up to a minute between tries to reach a Redis that went away; alerts cannot.
    max_connection_wait_time = 5.0
    stop_requested = False

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """Remember that the stop was asked for, so ``hotline worker`` does not start another."""
        self.stop_requested = True
        super().request_stop(signum, frame)

    def setup_work_horse_signals(self) -> None:
        """Let the job in hand finish when a deploy sends SIGTERM to every process.

        RQ's horse dies on SIGTERM, and systemd and Heroku send it to the horse
        as well as to the worker: the send in flight was cut off and retried,
        so an SMS the carrier had taken could go out twice. The worker itself
        still stops warmly, waiting for the horse; a second SIGTERM to the
        worker kills the horse (cold shutdown).
        """
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        from hotline.extensions import get_settings
        from workers.runtime import worker_app

        ensure_sweeping(self.queues[0], get_settings(worker_app()).sweep_interval)
