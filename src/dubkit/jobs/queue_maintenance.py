"""The workers' timer for Dramatiq's queue maintenance: a dead worker's jobs back in the queue in seconds.

Dramatiq leaves the redelivery of a dead consumer's messages to a maintenance step it runs on about one
broker command in a thousand, so with a few workers a dead worker's job waited minutes. Each worker runs
`QueueMaintenance`: every ``interval`` seconds it runs the maintenance on the job queue and on its delay
queue (`dubkit.jobs.broker.DubkitRedisBroker.maintain_all`). A job held by a worker that died is then back
in the queue at most ``heartbeat_timeout + interval`` after the worker's last command, at its head, and the
next free worker takes it. The same commands refresh this worker's heartbeat, so a worker whose consumers
are all busy still shows it is alive.
"""

from __future__ import annotations

import logging

from dubkit.jobs.broker import DubkitRedisBroker
from dubkit.jobs.watcher import Watcher

__all__ = ["QueueMaintenance"]

logger = logging.getLogger(__name__)


class QueueMaintenance(Watcher):
    """Runs queue maintenance on ``queue_name`` and its delay queue every ``interval`` seconds.

    A failed pass (Redis unreachable) is logged and tried again at the next tick.

    Args:
        broker: The worker's broker.
        queue_name: The job queue.
        interval: Seconds between two passes.
    """

    def __init__(self, broker: DubkitRedisBroker, queue_name: str, interval: float) -> None:
        super().__init__("dubkit-queue-maintenance", interval, self._pass)
        self.broker = broker
        self.queue_name = queue_name

    def _pass(self) -> bool:
        moved = self.broker.maintain_all(self.queue_name)
        if moved:
            logger.info("%d job(s) of dead workers back at the head of the queue", moved)
        return True
