"""A daemon thread that refreshes a lease every interval and records when it is lost.

It never raises into the step: a lost lease sets a flag that ``check()`` turns into ``LeaseLostError`` (the
step's wrappers check it before committing) and calls an optional ``on_lost`` hook, e.g. to terminate a job.
Transient storage errors are retried on the next beat; only a lost compare-and-swap counts as losing the lease.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from marin_exec.errors import LeaseLostError
from marin_exec.status import Lease

logger = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, lease: Lease, interval: float, on_lost: Callable[[LeaseLostError], None] | None = None) -> None:
        self.lease = lease
        self.interval = interval
        self.on_lost = on_lost
        self._stop = threading.Event()
        self._lost: LeaseLostError | None = None
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat:{lease.output_path}", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    @property
    def lost(self) -> bool:
        return self._lost is not None

    def check(self) -> None:
        """Raise LeaseLostError if the heartbeat found the lease taken by another worker."""
        if self._lost is not None:
            raise self._lost

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.lease.refresh()
            except LeaseLostError as e:
                self._lost = e  # record before anything else, so a check racing this thread sees the loss
                logger.error(f"{self.lease.output_path}: heartbeat found the lease taken over: {e}")
                if self.on_lost is not None:
                    try:
                        self.on_lost(e)
                    except Exception as hook_error:  # the hook must not kill the heartbeat's report
                        logger.warning(f"{self.lease.output_path}: on_lost hook failed: {hook_error!r}")
                return
            except Exception as e:  # transient storage error: try again next beat
                logger.warning(f"{self.lease.output_path}: heartbeat could not refresh the lease ({e!r}); retrying")
