"""Two Dramatiq middlewares of the worker: the job's log context, and the deletion of a job's Redis keys.

`JobContextMiddleware` enters `dubkit.jobs.job_context.job_context` before Dramatiq hands a message to the
actor and leaves it after Dramatiq has logged and retried it, so every line the worker thread writes about
the message (Dramatiq's included) names the job. Put it first in the broker's middleware list
(`install_worker_middleware` does).

`JobKeysCleanup` deletes a job's keys (attempts, finished mark, cancel request) once the message that ended
the job is acknowledged: from then on no copy of the message is left to be delivered, so nothing needs them.
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager
from typing import Any

import redis
from dramatiq.broker import Broker
from dramatiq.middleware import Middleware

from dubkit.jobs.job_context import job_context
from dubkit.jobs.redis_keys import attempts_key, cancel_key, finished_key

__all__ = ["JobContextMiddleware", "JobKeysCleanup", "install_worker_middleware"]

logger = logging.getLogger(__name__)


def _delivery(message: Any) -> str | None:
    value = message.options.get("redis_message_id")
    return None if value is None else str(value)


class JobContextMiddleware(Middleware):
    """Marks the worker thread as running the message's job (its first argument) while it is processed."""

    def __init__(self) -> None:
        self._local = threading.local()

    def before_process_message(self, broker: Broker, message: Any) -> None:
        """Enter the job's context."""
        job_id = str(message.args[0]) if message.args else str(message.message_id)
        scope = job_context(job_id, delivery=_delivery(message))
        scope.__enter__()
        self._local.scope = scope

    def after_process_message(
        self, broker: Broker, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        """Leave it."""
        self._leave()

    def after_skip_message(self, broker: Broker, message: Any) -> None:
        """Leave it."""
        self._leave()

    def _leave(self) -> None:
        scope: AbstractContextManager[object] | None = getattr(self._local, "scope", None)
        self._local.scope = None
        if scope is not None:
            scope.__exit__(None, None, None)


class JobKeysCleanup(Middleware):
    """Deletes a job's Redis keys once the message that ended it is acknowledged.

    Args:
        client: The Redis connection (pool).
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._ended: dict[str, str] = {}
        self._lock = threading.Lock()

    def job_ended(self, delivery: str | None, job_id: str) -> None:
        """The message ``delivery`` ended ``job_id`` for good: delete its keys once it is acknowledged.

        Without a delivery id (the actor was called directly) the keys are deleted now.
        """
        if delivery is None:
            self._delete(job_id)
            return
        with self._lock:
            self._ended[delivery] = job_id

    def after_ack(self, broker: Broker, message: Any) -> None:
        """Delete the keys of the job this message ended, if it ended one."""
        self._forget(message, delete=True)

    def after_nack(self, broker: Broker, message: Any) -> None:
        """A dead-lettered message ends its job too."""
        self._forget(message, delete=True)

    def _forget(self, message: Any, *, delete: bool) -> None:
        delivery = _delivery(message)
        with self._lock:
            job_id = self._ended.pop(delivery, None) if delivery is not None else None
        if job_id is not None and delete:
            self._delete(job_id)

    def _delete(self, job_id: str) -> None:
        try:
            self.client.delete(attempts_key(job_id), finished_key(job_id), cancel_key(job_id))
        except redis.RedisError:
            logger.warning("job %s: could not delete its Redis keys (they expire)", job_id, exc_info=True)


def install_worker_middleware(broker: Broker, cleanup: JobKeysCleanup) -> None:
    """Install the worker's middlewares on ``broker``.

    `JobContextMiddleware` goes first (so its after-hook runs last, after Dramatiq's retry logging) and
    ``cleanup`` last.
    """
    first = type(broker.middleware[0]) if broker.middleware else None
    if first is not None:
        broker.add_middleware(JobContextMiddleware(), before=first)
    else:
        broker.add_middleware(JobContextMiddleware())
    broker.add_middleware(cleanup)
