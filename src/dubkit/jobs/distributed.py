"""The distributed runner: jobs sent through Dramatiq on a Redis broker to stateless workers on many machines.

* Server side: `DistributedRunner.enqueue` sends a ``dub_job`` message for a stored job (with its backend
  choices); `DistributedRunner.cancel` records the request in the store and sets ``dubkit:cancel:<job_id>``
  in Redis; an `dubkit.jobs.redis_events.EventApplier` applies the workers' events to the `JobStore` (only
  the server writes SQLite).
* Worker side: `Actors` (`dubkit.jobs.actors`) declares the ``dub_job`` actor on a broker from `make_broker`;
  `dubkit.jobs.dramatiq_worker.run_worker` (``dubkit worker --broker``) runs it in Dramatiq worker threads.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
import redis

from dubkit.errors import JobError
from dubkit.jobs.actors import Actors
from dubkit.jobs.broker import ACTOR_NAME, QUEUE_NAME, make_broker
from dubkit.jobs.redis_keys import CANCEL_TTL_S, attempts_key, cancel_key, finished_key
from dubkit.jobs.store import JobStore
from dubkit.jobs.ticket import JobTicket, backend_choices
from dubkit.models.job import JobRecord

__all__ = ["ACTOR_NAME", "QUEUE_NAME", "Actors", "DistributedRunner", "make_broker"]

logger = logging.getLogger(__name__)


class DistributedRunner:
    """The server side of the distributed runner: sends jobs and cancel requests to the workers.

    Args:
        store: The server's job store (used by `cancel` only, on the calling thread).
        broker: A broker from `make_broker` (no actor needs to be declared on it).
        storage_url: Where workers find job inputs and put outputs (the same storage as the server's).
        queue_name: The Dramatiq queue the workers consume.
    """

    def __init__(
        self, store: JobStore, broker: Any, storage_url: str, *, queue_name: str = QUEUE_NAME
    ) -> None:
        self.store = store
        self.broker = broker
        self.storage_url = storage_url
        self.queue_name = queue_name
        self.client: redis.Redis = broker.client
        broker.declare_queue(queue_name)

    def enqueue(self, record: JobRecord) -> str:
        """Send a stored job to the workers (its backend choices, ``job_metadata["backends"]``, go along).

        A job whose re-dub was requested (`JobStore.request_redub`) goes as its re-dub step.

        Returns:
            The Dramatiq message id.

        Raises:
            JobError: The job has no input.
        """
        if not record.input_path:
            raise JobError(f"job {record.id} has no input", job_id=record.id)
        message: Any = dramatiq.Message(
            queue_name=self.queue_name,
            actor_name=ACTOR_NAME,
            args=(
                record.id,
                record.user_id,
                record.input_path,
                record.target_language,
                record.source_language,
                self.storage_url,
                record.attempts,
            ),
            kwargs={
                "original_filename": record.original_filename,
                "backends": backend_choices(record.job_metadata),
                **({"redub": step.to_dict()} if (step := JobTicket.from_record(record).redub) else {}),
            },
            options={},
        )
        self.client.delete(attempts_key(record.id), finished_key(record.id))
        self.broker.enqueue(message)
        logger.info("job %s sent to queue %s", record.id, self.queue_name)
        return str(message.message_id)

    def cancel(self, job_id: str, owner: str) -> JobRecord:
        """Cancel a job: in the store (a waiting job at once), and for the worker running it.

        Raises:
            JobNotFoundError: No such job for this owner.
            JobError: The job already completed or failed.
        """
        self.store.get(job_id, owner)  # another owner's job is not found, and gets no cancel key
        # The key goes first: the worker's final event, applied on another thread, deletes it; set after
        # the store's request, it could outlive a job that ended in between.
        self.client.set(cancel_key(job_id), b"1", ex=CANCEL_TTL_S)
        try:
            return self.store.request_cancel(job_id, owner)
        except JobError:
            self.client.delete(cancel_key(job_id))
            raise
