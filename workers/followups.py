"""RQ jobs that follow an alert up: calling members again, and calling back a caller whose call dropped.

Both take the incident's id, decide in a service what is still needed (the
incident may have been covered or closed meanwhile), commit, and only then
enqueue the calls they wrote.
"""

from __future__ import annotations

from hotline.extensions import queues
from hotline.models import Incident
from hotline.services.caller import call_back
from hotline.services.outbox import dispatch_work
from hotline.services.recall import recall_members as recall_round
from workers.runtime import job_context


def recall_members(incident_id: int, round_: int) -> str:
    """Call again the members of an incident's group who have not answered (round ``round_``).

    Raises:
        redis.exceptions.RedisError: The calls could not be enqueued; RQ
            retries the job, and the rows' dedupe keys keep a retry from
            writing them twice (the sweeper sends what was written).
    """
    with job_context() as ctx:
        incident = ctx.session.get(Incident, incident_id)
        if incident is None:
            return "skipped: no such incident"
        work = recall_round(ctx.session, ctx.settings, incident, round_, capabilities=ctx.carrier.capabilities)
        ctx.session.commit()
        dispatch_work(queues.queue(), work)
        return f"round {round_}: {len(work.call_ids)} called again"


def call_back_caller(incident_id: int) -> str:
    """Call back, once, a caller whose call dropped while nobody had accepted.

    Raises:
        redis.exceptions.RedisError: The call could not be enqueued; the
            sweeper sends the committed row.
    """
    with job_context() as ctx:
        incident = ctx.session.get(Incident, incident_id)
        if incident is None:
            return "skipped: no such incident"
        work = call_back(ctx.session, incident)
        ctx.session.commit()
        dispatch_work(queues.queue(), work)
        return "called back" if work.call_ids else "not needed"
