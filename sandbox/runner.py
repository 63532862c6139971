"""Placeholder: the real runner lands with the sandbox implementation."""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.limits import Limits
from sandbox.result import HostCall, RunResult


class Sandbox:
    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()

    async def run(
        self, code: str, *, call: HostCall, names: Iterable[str], limits: Limits | None = None
    ) -> RunResult:
        raise NotImplementedError
