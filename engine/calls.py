"""`ToolCalls`: call one curated tool (or read one resource) upstream and write its
request-log row.

Both paths to an upstream go through here, so this is where DLP (`engine.dlp`) checks what
leaves: a direct `tools/call` (the `/mcp` and
`minimize_tools` surfaces) and a `codemode.<name>(...)` from agent code (the executor's
bridge). Keeping the one call-and-log step in its own small object is what lets the executor
work without calling back into `Portal`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Final, Protocol

import anyio.to_thread
from mcp_types import CallToolResult, ReadResourceResult

from engine import approval, results, telemetry
from engine.approval import ApprovalPending, ApprovalRefused, Approver
from engine.catalog import Catalog
from engine.config_dlp import DlpAction
from engine.curation import CuratedTool
from engine.dlp import DlpPolicy, Finding, Rules, Verdict
from engine.person_sessions import (
    Connector,
    ConnectPending,
    Halts,
    UpstreamConnectRequired,
    connect_url,
)
from engine.requestlog import DlpEntry, RequestLog, RequestRecord
from engine.status import ErrorDetails, UpstreamError

INLINE_SCAN_BYTES: Final = 64 * 1024
"""Arguments or results up to this size are checked by DLP on the event loop; larger ones in
a worker thread, so a big upload does not hold up other requests."""


class CallsUpstream(Protocol):
    """What the executor's bridge needs: call one curated tool for a caller (`ToolCalls`, or
    anything else that answers the same way, e.g. a benchmark's stand-in)."""

    async def call(
        self, caller: Caller, tool: CuratedTool, arguments: dict[str, Any]
    ) -> CallToolResult: ...

    async def read_resource(
        self, caller: Caller, server_id: str, upstream_uri: str, shown_uri: str
    ) -> ReadResourceResult: ...


@dataclass(frozen=True)
class Caller:
    """Who a call is made for: the portal it came through and the person, if known."""

    portal: str
    user: str | None = None
    approver: Approver | None = None
    """Asks this caller's person to approve `require_approval` tools (`engine.approval`);
    None: nobody can be asked, so such calls are refused."""
    on_behalf: frozenset[str] = frozenset()
    """Servers whose calls must carry this caller's own upstream token (`on_behalf` OAuth
    servers of the portal); empty for the local operator, who uses the admin credential."""
    person_id: int | None = None
    """The signed-in person making the call, whose token those servers get; None: not a
    person (an API key, an anonymous caller), who may not call them."""
    who: str = "this caller"
    origin: str | None = None
    """The portal's origin as the client reached it: the connect page's URL is built on it."""
    connector: Connector | None = None
    """Asks the person to connect a server through their client (URL elicitation); None:
    the call fails with the connect page's URL instead."""


class ToolCalls:
    """The logged path to upstream tools, shared by every portal of a gateway."""

    def __init__(self, catalog: Catalog, dlp: DlpPolicy) -> None:
        self.catalog = catalog
        self.dlp = dlp
        """Replaced as a whole when the config is reloaded (`Gateway`)."""
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
        """One upstream call, logged whether it succeeds, fails, is cancelled or is stopped by
        DLP (`engine.dlp`: the arguments are checked here, before they leave the host, and
        the result on its way back when the server or portal says so), in a span of its own
        when telemetry is on.

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
        rules = self.dlp.rules(caller.portal, tool.server_id)
        size = json_size(arguments)
        findings: list[Finding] = []
        logged = True
        try:
            halted = _halted(caller)
            if halted is not None:
                error = halted
                return results.tool_error(halted)
            verdict = await _check(rules, arguments, rules.arguments, "", size)
            findings += verdict.findings
            if verdict.blocked is not None:
                error = verdict.blocked
                return results.tool_error(verdict.blocked)
            if tool.require_approval:
                refused = await self._approve(caller, tool, verdict.value, rules)
                if refused is not None:
                    error = refused
                    return results.tool_error(refused)
            result = await self._upstream_call(caller, tool, verdict.value)
            if rules.results:
                result, blocked = await self._check_result(rules, result, findings)
                if blocked is not None:
                    error = blocked
                    return results.tool_error(blocked)
            status = "error" if result.is_error else "ok"
            error = results.text_of(result)[:200] if result.is_error else None
            return result
        except UpstreamError as exc:
            error = exc.message
            raise
        except (ApprovalPending, ConnectPending):
            logged = False  # not made yet: the retry carrying the answer logs it
            raise
        except BaseException:
            error = "cancelled"
            raise
        finally:
            if logged:
                self._log_call(caller, tool, started, status, error, size, result, findings)

    async def _upstream_call(
        self, caller: Caller, tool: CuratedTool, arguments: dict[str, Any]
    ) -> CallToolResult:
        """The call with the admin credential, or for an `on_behalf` server with the
        person's own token (never anyone else's: without one it fails, naming the page)."""
        server_id = tool.server_id
        if server_id not in caller.on_behalf:
            return await self.catalog.call_tool(server_id, tool.upstream_name, arguments)
        if caller.person_id is None:
            cause = (
                f"this server acts with each person's own account, and {caller.who} is not "
                "a signed-in person: connect to the portal as a person to call it"
            )
            raise UpstreamError(
                server_id, ErrorDetails(cause=cause, is_upstream=False, retryable=False)
            )
        url = connect_url(caller.origin, caller.portal, server_id)
        for attempt in range(2):
            try:
                return await self.catalog.call_tool(
                    server_id,
                    tool.upstream_name,
                    arguments,
                    person_id=caller.person_id,
                    connect_url=url,
                )
            except UpstreamConnectRequired as exc:
                # Once: the person was asked, connected, and the call is made again.
                if attempt or caller.connector is None or not await caller.connector(exc):
                    raise
        raise AssertionError("unreachable")

    def _log_call(
        self,
        caller: Caller,
        tool: CuratedTool,
        started: float,
        status: str,
        error: str | None,
        size: int,
        result: CallToolResult | None,
        findings: list[Finding],
    ) -> None:
        record = RequestRecord(
            portal=caller.portal,
            kind="tool_call",
            status=status,  # type: ignore[arg-type]
            capability=tool.name,
            server=tool.server_id,
            duration_ms=(time.perf_counter() - started) * 1000,
            user=caller.user,
            request_bytes=size,
            response_bytes=result_size(result) if result is not None else 0,
            error=error,
            dlp=tuple(DlpEntry(f.profile, f.path, f.action) for f in findings),
        )
        telemetry.annotate(record)
        self.request_log.record(record)

    async def _approve(
        self, caller: Caller, tool: CuratedTool, arguments: dict[str, Any], rules: Rules
    ) -> str | None:
        """Ask the caller's person about this call (`engine.approval`); None if approved,
        else why not. Each answer goes to the request log (kind `approval`) with the person.
        The question shows the arguments redacted by every DLP profile that applies, whatever
        its action, so a secret DLP would catch is never put in front of anyone.

        Raises:
            ApprovalPending: the answer can only come with the client's next round.
        """
        started = time.perf_counter()
        shown: dict[str, DlpAction] = {p: "redact" for p in rules.arguments}
        redacted = await _check(rules, arguments, shown, "", json_size(arguments))
        # Beyond DLP's scan cap nothing was redacted: show nothing rather than unchecked text.
        shown_text = (
            approval.summary(redacted.value)
            if redacted.blocked is None
            else f"(not shown: too large or too deep for DLP to check, {json_size(arguments):,} "
            "characters)"
        )
        request = approval.ApprovalRequest(
            tool=tool.name,
            server=tool.server_id,
            summary=shown_text,
            digest=approval.digest(arguments),
        )
        approver = caller.approver or approval.NoApprover("no client is connected to ask")
        refused: str | None = None
        try:
            await approver(request)
        except ApprovalRefused as exc:
            refused = exc.message
        except ApprovalPending:
            raise  # asked, not answered yet: the round carrying the answer logs it
        except BaseException:
            self._log_approval(caller, tool, started, "cancelled while waiting for the answer")
            raise
        self._log_approval(caller, tool, started, refused)
        return refused

    def _log_approval(
        self, caller: Caller, tool: CuratedTool, started: float, refused: str | None
    ) -> None:
        self.request_log.record(
            RequestRecord(
                portal=caller.portal,
                kind="approval",
                status="error" if refused else "ok",
                capability=tool.name,
                server=tool.server_id,
                duration_ms=(time.perf_counter() - started) * 1000,
                user=caller.user,
                error=refused,
            )
        )

    async def _check_result(
        self, rules: Rules, result: CallToolResult, findings: list[Finding]
    ) -> tuple[CallToolResult, str | None]:
        """The result as it may go back to the caller (redacted), or why it may not."""
        raw = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        shown = {k: raw[k] for k in ("content", "structuredContent") if k in raw}
        verdict = await _check(rules, shown, rules.results, "result", result_size(result))
        findings += verdict.findings
        if verdict.blocked is not None:
            return result, verdict.blocked
        if verdict.value == shown:
            return result, None
        return CallToolResult.model_validate({**raw, **verdict.value}), None

    async def read_resource(
        self, caller: Caller, server_id: str, upstream_uri: str, shown_uri: str
    ) -> ReadResourceResult:
        """Read one upstream resource, logged (kind `resource_read`, capability `shown_uri`:
        the URI as the caller wrote it) whether it succeeds, fails or is cancelled.

        Raises:
            UpstreamError: the server could not answer, or refused the URI.
        """
        started = time.perf_counter()
        error: str | None = "cancelled"
        result: ReadResourceResult | None = None
        try:
            result = await self.catalog.read_resource(server_id, upstream_uri)
            error = None
            return result
        except UpstreamError as exc:
            error = exc.message
            raise
        finally:
            record = RequestRecord(
                portal=caller.portal,
                kind="resource_read",
                status="error" if error else "ok",
                capability=shown_uri,
                server=server_id,
                duration_ms=(time.perf_counter() - started) * 1000,
                user=caller.user,
                request_bytes=len(shown_uri.encode()),
                response_bytes=result_size(result) if result is not None else 0,
                error=error,
            )
            telemetry.annotate(record)
            self.request_log.record(record)


def _halted(caller: Caller) -> str | None:
    """Why this caller's run stopped asking (approval or connection), if it did."""
    for asker in (caller.approver, caller.connector):
        halted = asker.halted() if isinstance(asker, Halts) else None
        if halted is not None:
            return halted
    return None


async def _check(
    rules: Rules, value: Any, actions: dict[str, DlpAction], root: str, size: int
) -> Verdict:
    """`rules.check`, off the event loop for a large value (a megabyte takes tens of ms)."""
    what = "the result" if root else "the arguments"
    if not actions:
        return Verdict(value)
    if size <= INLINE_SCAN_BYTES:
        return rules.check(value, actions, root, what)
    return await anyio.to_thread.run_sync(rules.check, value, actions, root, what)


def result_size(result: CallToolResult | ReadResourceResult) -> int:
    """Bytes of a result as the client receives it (the request log's `response_bytes`)."""
    return len(result.model_dump_json(by_alias=True, exclude_none=True))


def json_size(value: Any) -> int:
    return len(json.dumps(value, default=str))
