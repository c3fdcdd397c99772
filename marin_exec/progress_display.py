"""Live progress of a run: ``Progress`` is fed events (a step started, finished, is waiting for another worker's
lease) and shows done/total, the running steps with their elapsed time and the waits with the lease holder and
its heartbeat age.

On a terminal it is a live display (rich, imported only then); elsewhere a status line every ``interval`` seconds
(default 60). Events are cheap (a lock and a dict update; no I/O, no formatting) and thread-safe; the display is
drawn only by ``tick()`` (called by a background thread between ``start()`` and ``stop()``, or by a test). The clock
is injectable. Code that is not handed it (the lock, waiting for another holder) finds it through ``progress``
(``reporting_to`` / ``current_progress``), which does not import this module: only a run that shows progress loads
it. It does not read statuses or leases itself and decides nothing: the runner and the lock feed it.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from marin_exec.settings import DEFAULT_PROGRESS_INTERVAL

MAX_LISTED = 5
_LIVE_REFRESH_SECONDS = 0.5


@dataclasses.dataclass(frozen=True)
class Wait:
    """A step waiting for another worker: who holds its lease, and that lease's heartbeat age when last seen."""

    holder: str
    heartbeat_age: float | None
    seen_at: float  # on the Progress clock

    def age(self, now: float) -> float | None:
        return None if self.heartbeat_age is None else self.heartbeat_age + (now - self.seen_at)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What the display shows at one moment."""

    done: int
    total: int
    outcomes: dict[str, int]
    running: list[tuple[str, float]]  # (name, elapsed seconds), longest first
    waits: list[tuple[str, str, float | None]]  # (name, holder, heartbeat age), in the order they began


class Progress:
    def __init__(
        self,
        total: int = 0,
        *,
        stream: IO[str] | None = None,
        live: bool | None = None,
        interval: float = DEFAULT_PROGRESS_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        prefix: str | None = None,
    ) -> None:
        """``prefix``: steps may be named by their output paths (what the lock knows); they are shown relative to
        it (``models/x-3f2a1c``)."""
        self._prefix = prefix.rstrip("/") + "/" if prefix else None
        self.stream = stream if stream is not None else sys.stderr
        self.live = _is_terminal(self.stream) if live is None else live
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._total = total
        self._done = 0
        self._outcomes: dict[str, int] = {}
        self._running: dict[str, float] = {}
        self._waits: dict[str, Wait] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._display: Any = None  # rich.live.Live while a live display runs

    # -- events (any thread) ----------------------------------------------------------------------------------

    def add_total(self, count: int) -> None:
        """More steps became known (the runner learns its input lazily)."""
        with self._lock:
            self._total += count

    def set_total(self, total: int) -> None:
        with self._lock:
            self._total = total

    def step_started(self, name: str) -> None:
        now = self.clock()
        with self._lock:
            self._running[name] = now
            self._waits.pop(name, None)

    def waiting(self, name: str, holder: str, heartbeat_age: float | None) -> None:
        """``name`` waits for ``holder``'s lease, last refreshed ``heartbeat_age`` seconds ago (None: unknown).
        Call it again when a fresher heartbeat is seen; the age shown grows with the clock in between."""
        wait = Wait(holder, heartbeat_age, self.clock())
        with self._lock:
            self._waits[name] = wait

    def wait_ended(self, name: str) -> None:
        with self._lock:
            self._waits.pop(name, None)

    def step_finished(self, name: str, outcome: str) -> None:
        """``name`` is settled (``outcome``: ran, cached, failed, ...); it counts towards done."""
        with self._lock:
            self._running.pop(name, None)
            self._waits.pop(name, None)
            self._done += 1
            self._outcomes[outcome] = self._outcomes.get(outcome, 0) + 1

    # -- display ----------------------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        now = self.clock()
        with self._lock:
            running = sorted(((self._shown(n), now - t) for n, t in self._running.items()), key=lambda r: -r[1])
            waits = [(self._shown(n), w.holder, w.age(now)) for n, w in self._waits.items()]
            return Snapshot(self._done, max(self._total, self._done), dict(self._outcomes), running, waits)

    def _shown(self, name: str) -> str:
        return name[len(self._prefix) :] if self._prefix and name.startswith(self._prefix) else name

    def status_line(self) -> str:
        """One line: ``progress: 3/10 done (2 ran, 1 cached); running: a (1m05s); waiting: b for h-1 (heartbeat
        4s ago)``; at most MAX_LISTED steps of each kind, then how many more."""
        s = self.snapshot()
        parts = [f"progress: {_done(s, 'done') or 'no step known yet'}"]
        if s.running:
            parts.append("running: " + _listed([f"{name} ({_duration(t)})" for name, t in s.running]))
        if s.waits:
            parts.append("waiting: " + _listed([f"{n} for {h} ({_heartbeat(a)})" for n, h, a in s.waits]))
        return "; ".join(parts)

    def tick(self) -> None:
        """Draw once: refresh the live display, or print the status line."""
        if self.live:
            if self._display is not None:
                self._display.update(self._renderable(), refresh=True)
            return
        print(self.status_line(), file=self.stream, flush=True)

    def start(self) -> Progress:
        """Draw every ``interval`` seconds (live: twice a second) on a daemon thread until ``stop()``."""
        if self._thread is not None:
            return self
        if self.live:
            from rich.console import Console
            from rich.live import Live

            self._display = Live(
                self._renderable(), console=Console(file=self.stream), auto_refresh=False, transient=True
            )
            self._display.start()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="marin-progress", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop drawing (the live display is cleared; the summary comes from the caller)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._display is not None:
            self._display.stop()
            self._display = None

    def __enter__(self) -> Progress:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        period = _LIVE_REFRESH_SECONDS if self.live else self.interval
        while not self._stop.wait(period):
            self.tick()

    def _renderable(self) -> Any:
        from rich.table import Table

        s = self.snapshot()
        table = Table(box=None, show_header=False, pad_edge=False, title_justify="left")
        table.title = _done(s, "steps done") or None  # no "0/0": nothing until the runner knows a step
        table.add_column(style="bold")
        table.add_column()
        table.add_column(style="dim")
        for name, elapsed in s.running[: MAX_LISTED * 2]:
            table.add_row("running", name, _duration(elapsed))
        for name, holder, age in s.waits[: MAX_LISTED * 2]:
            table.add_row("waiting", name, f"for {holder} ({_heartbeat(age)})")
        hidden = max(0, len(s.running) - MAX_LISTED * 2) + max(0, len(s.waits) - MAX_LISTED * 2)
        if hidden:
            table.add_row("", f"and {hidden} more", "")
        return table


def _done(s: Snapshot, what: str) -> str:
    """``3/10 done (2 ran, 1 cached)``; empty while no step is known."""
    if not s.total:
        return ""
    counts = ", ".join(f"{n} {outcome}" for outcome, n in s.outcomes.items())
    return f"{s.done}/{s.total} {what}" + (f" ({counts})" if counts else "")


def _is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM", "") != "dumb"


def _listed(items: list[str]) -> str:
    more = len(items) - MAX_LISTED
    return ", ".join(items[:MAX_LISTED]) + (f" and {more} more" if more > 0 else "")


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _heartbeat(age: float | None) -> str:
    return "heartbeat age unknown" if age is None else f"heartbeat {_duration(age)} ago"
