"""The RQ worker hotline runs: jobs side by side in threads, plus the sweeper kept alive.

Why threads, and not RQ's forking worker or a pool of processes: a send is a
few milliseconds of work around a carrier request that takes hundreds. RQ's
forking worker runs one job at a time in a fresh child, so a group's texts
left one after another, each paying for the fork, a new database connection
and re-importing the Twilio library (about half a second a send). Processes
would overlap sends only one per process, at tens of megabytes each. Threads
in one process keep ``HOTLINE_SEND_CONCURRENCY`` requests in flight with one
database pool and one carrier client, loaded once: an alert's texts reach the
carrier in about one round trip, and one process can keep the sending rate
busy at several hundred milliseconds of carrier latency.

Every job is still one RQ job with its own record, retries and result, run
by RQ's own code; only where it runs changes. Emergencies first: the worker
takes from ``alerts`` before ``broadcasts``, and runs at most
:data:`BROADCAST_LANES` broadcast batches at once, so threads are always free
for an alert.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import Any

from rq import Queue
from rq.defaults import DEFAULT_WORKER_TTL
from rq.executions import Execution
from rq.job import Job
from rq.timeouts import TimerDeathPenalty
from rq.worker import BaseWorker, WorkerStatus

from hotline.queues import BROADCASTS
from workers.runtime import stopping
from workers.sweeper import ensure_sweeping

log = logging.getLogger(__name__)

# Broadcast batches one worker process runs at once; the other threads stay free for alerts.
BROADCAST_LANES = 2
# While jobs run, the worker looks at the queues (and its stop flag) at least this often.
BUSY_POLL = 1
# How often the records of running jobs are kept alive, so RQ does not take them for abandoned.
JOB_HEARTBEAT_INTERVAL = 10.0


class HotlineWorker(BaseWorker):
    """An RQ worker that runs up to ``concurrency`` jobs at once in threads, and keeps the sweeper running.

    RQ calls the maintenance pass at start-up and every ``maintenance_interval``
    seconds; if the sweep chain was lost (a killed worker, a flushed Redis),
    the next pass starts it again.

    A warm stop (SIGTERM, Ctrl-C) takes no new job and lets every job in hand
    finish and be recorded; a broadcast batch hands back the rows it has not
    started. A second signal stops at once: rows a job had claimed are sent
    again by the sweeper.

    Args:
        concurrency: Jobs run at once (``HOTLINE_SEND_CONCURRENCY``).
    """

    # Jobs run in threads: a timeout is raised in the job's thread, not by a signal.
    death_penalty_class = TimerDeathPenalty
    # RQ waits up to a minute between tries to reach a Redis that went away; alerts cannot.
    max_connection_wait_time = 5.0
    stop_requested = False

    def __init__(self, *args: Any, concurrency: int = 10, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.concurrency = concurrency
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="job")
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._running: dict[str, tuple[Job, Execution, bool]] = {}
        self._dispatching = False
        self._heartbeats_at = time.monotonic()

    # --- running jobs in threads ---------------------------------------------------------------

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Start ``job`` in a thread and return at once; the slot was taken when it was dequeued."""
        bulk = queue.name == BROADCASTS
        try:
            execution = self.prepare_execution(job)
            with self._lock:
                self._running[execution.id] = (job, execution, bulk)
            self._pool.submit(self._perform, job, queue, execution)
        except BaseException:
            self._slots.release()
            raise
        finally:
            self._dispatching = False

    def _perform(self, job: Job, queue: Queue, execution: Execution) -> None:
        try:
            self.perform_job(job, queue, execution)
        except Exception:
            log.exception("worker %s: job %s failed outside its own handling", self.name, job.id)
        finally:
            with self._lock:
                self._running.pop(execution.id, None)
                idle = not self._running
            if idle:
                try:
                    self.set_state(WorkerStatus.IDLE)
                except Exception:  # a state shown to monitors; Redis failing here changes nothing
                    log.debug("worker %s: could not record its state", self.name)
            self._slots.release()

    def _broadcasts_running(self) -> int:
        with self._lock:
            return sum(1 for _, _, bulk in self._running.values() if bulk)

    def _busy(self) -> bool:
        with self._lock:
            return bool(self._running) or self._dispatching

    def _wait_for_slot(self) -> None:
        """Block until a thread is free, keeping the worker's and its jobs' records alive meanwhile."""
        while not self._slots.acquire(timeout=BUSY_POLL):
            self._keep_jobs_alive()
            if self.should_run_maintenance_tasks:
                self.run_maintenance_tasks()

    def _keep_jobs_alive(self) -> None:
        if time.monotonic() - self._heartbeats_at < JOB_HEARTBEAT_INTERVAL:
            return
        self._heartbeats_at = time.monotonic()
        with self._lock:
            running = [(job, execution) for job, execution, _ in self._running.values()]
        if not running:
            self.heartbeat()
        for job, execution in running:
            try:
                self.maintain_heartbeats(job, execution)
            except Exception as exc:  # the job finished meanwhile, or Redis failed: the next pass tries again
                log.debug("worker %s: heartbeat of job %s: %s", self.name, job.id, exc)

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """Take the next job once a thread is free: alerts first, broadcasts only while a lane is free.

        In burst mode (no ``timeout``) the queues count as empty only once no
        job is running either: a running job may still enqueue more.
        """
        while True:
            result = self._dequeue_when_free(timeout, max_idle_time)
            if result is not None or timeout is not None or not self._busy():
                return result
            time.sleep(BUSY_POLL / 10)

    def _dequeue_when_free(self, timeout: int | None, max_idle_time: int | None) -> tuple[Job, Queue] | None:
        self._wait_for_slot()
        try:
            lanes_full = self._broadcasts_running() >= BROADCAST_LANES
            self._ordered_queues = [q for q in self.queues if not (lanes_full and q.name == BROADCASTS)]
            if timeout is not None and self._busy():
                # Look again soon: a broadcast lane may free up, or a stop may be waiting for the jobs.
                timeout = min(timeout, BUSY_POLL)
            self._keep_jobs_alive()
            result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        except BaseException:
            self._slots.release()
            raise
        if result is None:
            self._slots.release()
        else:
            self._dispatching = True
        return result

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """A job without a timeout (a broadcast batch) is kept alive by the worker's own heartbeats."""
        if job.timeout == -1:
            return DEFAULT_WORKER_TTL
        return int(job.timeout or DEFAULT_WORKER_TTL) + 60

    # --- stopping ------------------------------------------------------------------------------

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """Remember that the stop was asked for, so ``hotline worker`` does not start another."""
        self.stop_requested = True
        stopping.set()
        super().request_stop(signum, frame)

    def _shutdown(self) -> None:
        """Stop taking jobs; with jobs in hand, leave the loop once it next looks (within a second)."""
        if self._busy():
            self._stop_requested = True
            self.set_shutdown_requested_date()
            if self.scheduler:
                self.stop_scheduler()
            return
        super()._shutdown()

    def request_force_stop(self, signum: int, frame: FrameType | None) -> None:
        """A second signal: stop now, leaving claimed rows to the sweeper."""
        self.log.warning("Worker %s: cold shut down", self.name)
        try:
            if self.scheduler:
                self.stop_scheduler()
            self.register_death()
        finally:
            os._exit(1)

    def teardown(self) -> None:
        """Let every job in hand finish before the worker says it is gone."""
        self._pool.shutdown(wait=True)
        super().teardown()

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        from hotline.extensions import get_settings
        from workers.runtime import worker_app

        ensure_sweeping(self.queues[0], get_settings(worker_app()).sweep_interval)
