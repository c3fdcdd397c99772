"""The runner's input, consumed on its own thread with a bounded read-ahead, handed over in batches.

An input known whole (a list: the compiled plan ``executor_main`` passes, or ``--run_only``'s matches) is handed over
at once from the caller's thread: pulling from a list cannot block or end a generator early, and a cached re-run of
a small plan then starts no thread for its input (a thread's start and hand-off cost ~0.3 ms of a ~1 ms re-run).

The feeder thread pulls a step only while fewer than ``limit`` pulled steps are unsettled (an unbounded generator may
stop once a step it yielded runs), so a slow generator never holds up steps already known. Pulled steps wait in a
list; the runner is woken by one ``("add", ...)`` event per batch rather than per step (one wake-up per step cost a
10,000-step cached re-run ~0.1 s of thread hand-offs), then takes the whole list. It knows nothing about steps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

_END: Any = object()


class InputFeed:
    def __init__(self, roots: Iterator[Any] | list[Any], limit: int, put: Callable[[tuple[str, Any, Any]], None]):
        self._known = roots if isinstance(roots, list) else None  # handed over whole by ``start``
        self._roots, self._put = iter(roots), put
        self._permits = threading.Semaphore(limit)
        self._lock = threading.Lock()
        self._pulled: list[Any] = []
        self._signalled = False  # an "add" event is on its way for what is pulled now

    def start(self, run: Callable[..., Any]) -> None:
        """Consume the input on a daemon thread (a list: at once, here); ``run`` calls the loop (in the caller's
        context)."""
        if self._known is not None:
            self._pulled, self._signalled = self._known, True
            self._put(("add", None, None))
            self._put(("input_end", None, None))
            return
        threading.Thread(target=run, args=(self._feed,), name="marin-step-input", daemon=True).start()

    def take(self) -> list[Any]:
        """The steps pulled since the last take (after an ``add`` event)."""
        with self._lock:
            pulled, self._pulled, self._signalled = self._pulled, [], False
        return pulled

    def release(self, count: int) -> None:
        """``count`` pulled steps settled: as many more may be pulled."""
        for _ in range(count):
            self._permits.release()

    def _feed(self) -> None:
        try:
            while True:
                self._permits.acquire()  # released when the step settles: bounded read-ahead
                spec = next(self._roots, _END)
                if spec is _END:
                    break
                with self._lock:
                    self._pulled.append(spec)
                    wake, self._signalled = not self._signalled, True
                if wake:
                    self._put(("add", None, None))
        except BaseException as e:
            self._put(("input_error", e, None))
        else:
            self._put(("input_end", None, None))
