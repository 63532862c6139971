from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import Limits, RunResult, Sandbox, ToolError


@pytest.fixture(scope="session")
def box() -> Iterator[Sandbox]:
    sandbox = Sandbox(Limits(timeout_s=10, cpu_s=2))
    yield sandbox
    sandbox.close()


class Host:
    """A host bridge that records what the sandbox asked of it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def __call__(self, name: str, args: Any) -> Any:
        self.calls.append((name, args))
        if name == "fail":
            raise ToolError(str(args.get("message", "tool failed")), retryable=True, code="E42")
        if name == "crash":
            raise RuntimeError("secret internal detail /etc/passwd")
        return {"echo": args}


@pytest.fixture
def host() -> Host:
    return Host()


async def run(box: Sandbox, code: str, host: Host | None = None, **kw: Any) -> RunResult:
    names = kw.pop("names", {"echo", "fail", "crash", "get_weather", "search_issues"})
    return await box.run(code, call=host or Host(), names=names, **kw)
