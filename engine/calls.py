"""`ToolCalls`: call one curated tool upstream and write its request-log row.

Both paths to an upstream go through here: a direct `tools/call` (the `/mcp` and
`minimize_tools` surfaces) and a `codemode.<name>(...)` from agent code (the executor's
bridge). Keeping the one call-and-log step in its own small object is what lets the executor
work without calling back into `Portal`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from mcp_types import CallToolResult

from engine import results, telemetry
from engine.catalog import Catalog
from engine.curation import CuratedTool
from engine.requestlog import RequestLog, RequestRecord
from engine.status import UpstreamError


class CallsUpstream(Protocol):
    """What the executor's bridge needs: call one curated tool for a caller (`ToolCalls`, or
    anything else that answers the same way, e.g. a benchmark's stand-in)."""

    async def call(
        self, caller: Caller, tool: CuratedTool, arguments: dict[str, Any]
    ) -> CallToolResult: ...


@dataclass(frozen=True)
class Caller:
    """Who a call is made for: the portal it came through and the person, if known."""

    portal: str
    user: str | None = None


class ToolCalls:
    """The logged path to upstream tools, shared by every portal of a gateway."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._request_log: RequestLog | None = None

    @property
    def request_log(self) -> RequestLog:
        if self._request_log is None:
            raise RuntimeError("the gateway is not running: use `async with Gateway(...)`")
        return self._request_log

    def bind(self, request_log: RequestLog | None) -> None:
        """Attach the request log (when the gateway starts) or detach it (when it stops)."""
        self._request_log = request_log

    async def call(
        self, caller: Caller, tool: CuratedTool, arguments: dict[str, Any]
    ) -> CallToolResult:
        """One upstream call, logged whether it succeeds, fails or is cancelled, in a span of
        its own when telemetry is on.

        Raises:
            UpstreamError: the server could not answer (not Ready, unreachable, timed out).
        """
        with telemetry.span(f"upstream tools/call {tool.server_id}/{tool.upstream_name}"):
            return await self._call(caller, tool, arguments)

    async def _call(
        self, caller: Caller, tool: CuratedTool, arguments: dict[str, Any]
    ) -> CallToolResult:
        started = time.perf_counter()
        status, error, result = "error", None, None
        try:
            result = await self.catalog.call_tool(tool.server_id, tool.upstream_name, arguments)
            status = "error" if result.is_error else "ok"
            error = results.text_of(result)[:200] if result.is_error else None
            return result
        except UpstreamError as exc:
            error = exc.message
            raise
        except BaseException:
            error = "cancelled"
            raise
        finally:
            record = RequestRecord(
                portal=caller.portal,
                kind="tool_call",
                status=status,  # type: ignore[arg-type]
                capability=tool.name,
                server=tool.server_id,
                duration_ms=(time.perf_counter() - started) * 1000,
                user=caller.user,
                request_bytes=json_size(arguments),
                response_bytes=result_size(result) if result is not None else 0,
                error=error,
            )
            telemetry.annotate(record)
            self.request_log.record(record)


def result_size(result: CallToolResult) -> int:
    """Bytes of a result as the client receives it (the request log's `response_bytes`)."""
    return len(result.model_dump_json(by_alias=True, exclude_none=True))


def json_size(value: Any) -> int:
    return len(json.dumps(value, default=str))
