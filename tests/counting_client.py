"""A real Fray client that counts the jobs submitted through it (no pytest, no marin_exec: the peer venv's scripts
import it too)."""

from __future__ import annotations

from typing import Any


class CountingClient:
    """Wraps a Fray client; ``submitted`` holds the name of every job submitted through it."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.submitted: list[str] = []

    def submit(self, request: Any, adopt_existing: bool = True) -> Any:
        self.submitted.append(request.name)
        return self.inner.submit(request, adopt_existing=adopt_existing)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
