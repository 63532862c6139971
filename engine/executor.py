"""Runs agent code: the sandbox with `codemode.*` bound to a portal's curated tools.

The host bridge resolves `codemode.<name>` to a curated tool, checks the arguments against
its input schema, calls the upstream through the catalog (credentials stay here), and turns
the upstream's answer into a value or a rejection. `codemode.search` and `codemode.describe`
are answered from the portal's snapshot without leaving the host. `codemode.resources.*` lists
the snapshot's resources and reads one through the same logged path
(`engine.resource_bridge`). `codemode.portal.*` (which servers this client uses) is answered
by the `portal_ops` the run is given (`engine.selection`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import anyio
from mcp_types import CallToolResult

from engine import results
from engine.approval import ApprovalPending
from engine.calls import Caller, CallsUpstream
from engine.resource_bridge import resources_call, resources_found
from engine.selection import PortalOps, portal_found
from engine.status import UpstreamError
from engine.validation import ArgumentError, ArgumentValidator
from engine.view import DEFAULT_SEARCH_LIMIT, PortalView
from sandbox import ErrorKind, Limits, LogEntry, Sandbox, SandboxError, ToolError
from stubs import (
    HELPER_NAMES,
    PORTAL_DECLARATION,
    PORTAL_METHODS,
    RESOURCE_METHODS,
    RESOURCES_DECLARATION,
    StripError,
    strip_types,
)


class CodeExecutor:
    def __init__(
        self,
        sandbox: Sandbox,
        limits: Limits,
        output_cap: int,
        validator: ArgumentValidator,
    ) -> None:
        self.sandbox = sandbox
        self.limits = limits
        self.output_cap = output_cap
        self.validator = validator

    async def run(
        self,
        code: str,
        view: PortalView,
        calls: CallsUpstream,
        caller: Caller,
        on_log: Callable[[LogEntry], None] | None = None,
        unavailable: str = "",
        portal_ops: PortalOps | None = None,
    ) -> tuple[CallToolResult, SandboxError | None]:
        """Run `code`; the tool result for the agent, and the error (for the request log).

        `codemode.<name>(...)` calls go upstream through `calls`, logged for `caller`.

        `unavailable` names the servers that are down right now: it is added to the error for a
        `codemode.<name>` that is not there, since that tool may be one of theirs."""
        # The one normalisation step: a markdown fence comes off, then TypeScript types.
        # Positions in errors count lines of `code` as sent, fence and prose lines included
        # (unfence keeps line numbers); runtime positions after types were stripped count lines
        # of the stripped code.
        try:
            javascript = await anyio.to_thread.run_sync(strip_types, code)
        except StripError as exc:
            error = SandboxError(
                ErrorKind.SYNTAX,
                f"{exc.message} at line {exc.line}, column {exc.column}",
                name="SyntaxError",
                line=exc.line,
                column=exc.column,
            )
            return results.error_output(error), error
        bridge = _Bridge(view, calls, caller, self.validator, portal_ops)
        names = [*view.by_js_name, *HELPER_NAMES, *RESOURCE_METHODS, *PORTAL_METHODS]
        on_log = _well_formed_logs(on_log)
        run = await self.sandbox.run(
            javascript,
            call=bridge,
            names=names,
            limits=self.limits,
            on_log=on_log,
            unknown_hint=unavailable,
        )
        failure = _well_formed_error(run.error) if run.error is not None else None
        return results.run_output(run, self.output_cap), failure


def _well_formed_logs(
    on_log: Callable[[LogEntry], None] | None,
) -> Callable[[LogEntry], None] | None:
    """Console lines go out as MCP notifications: no lone surrogates (results.well_formed)."""
    if on_log is None:
        return None
    forward = on_log

    def well_formed_log(entry: LogEntry) -> None:
        forward(LogEntry(entry.level, results.well_formed(entry.text)))

    return well_formed_log


def _well_formed_error(error: SandboxError) -> SandboxError:
    """The error as the request log stores it: text UTF-8 can encode (results.well_formed)."""
    return dataclasses.replace(
        error, message=results.well_formed(error.message), stack=results.well_formed(error.stack)
    )


class _Bridge:
    """The host callable one run's `codemode.*` calls arrive at."""

    def __init__(
        self,
        view: PortalView,
        calls: CallsUpstream,
        caller: Caller,
        validator: ArgumentValidator,
        portal_ops: PortalOps | None,
    ) -> None:
        self.view = view
        self.calls = calls
        self.caller = caller
        self.validator = validator
        self.portal_ops = portal_ops

    async def __call__(self, js_name: str, args: Any) -> Any:
        if js_name == "search":
            return self._search(args)
        if js_name == "describe":
            return self._describe(args)
        if js_name in RESOURCE_METHODS:
            return await resources_call(js_name, args, self.view, self.calls, self.caller)
        if js_name in PORTAL_METHODS:
            return await self._portal(js_name, args)
        tool = self.view.by_js_name[js_name]  # the sandbox only calls names it was given
        # A lone surrogate in the arguments would break the upstream connection's encoder.
        args = results.well_formed(args)
        try:
            self.validator.check(f"codemode.{js_name}", tool.input_schema, args)
        except ArgumentError as exc:
            raise ToolError(str(exc), name="TypeError") from None
        try:
            result = await self.calls.call(self.caller, tool, args)
        except ApprovalPending as exc:
            # 2026 era: no back channel during a run. The approver remembers the question
            # and refuses every further call; the run ends and the client is asked.
            raise ToolError(
                f"{exc.request.tool} needs a person's approval: this run stops here, the "
                "person is asked, and the code runs again once they answer",
                code="approval",
            ) from None
        except UpstreamError as exc:
            raise ToolError(exc.message, retryable=exc.retryable, code="upstream") from None
        if result.is_error:
            raise ToolError(results.text_of(result))
        return results.sandbox_value(result)

    async def _portal(self, js_name: str, args: Any) -> Any:
        if self.portal_ops is None:
            raise ToolError(
                f"codemode.{js_name} is not available here: choosing servers is for a client "
                "signed in to a portal over HTTP"
            )
        return await self.portal_ops(js_name, args)

    def _search(self, args: Any) -> str:
        query, limit = _search_args(args)
        matches = self.view.search(query, limit)
        resources = resources_found(self.view, query, limit)
        if self.portal_ops is not None:
            resources += portal_found(query)
        if not matches:
            return "// " + self.view.no_match_hint(query) + resources
        return self.view.declarations([m.tool for m in matches]) + resources

    def _describe(self, args: Any) -> str:
        name = args.get("name") if isinstance(args, dict) else args
        if not isinstance(name, str):
            raise ToolError(
                'codemode.describe takes a tool name, e.g. describe("git_log")', name="TypeError"
            )
        name = name.removeprefix("codemode.")
        if name == "resources" or name in RESOURCE_METHODS:
            return RESOURCES_DECLARATION
        if name == "portal" or name in PORTAL_METHODS:
            return PORTAL_DECLARATION
        tool = self.view.find(name)
        if tool is None:
            near = ", ".join(m.js_name for m in self.view.search(name, 3))
            hint = f" Close matches: {near}." if near else ""
            raise ToolError(f"no tool named {name!r}.{hint}", name="TypeError")
        return self.view.declarations([tool])


def _search_args(args: Any) -> tuple[str, int]:
    if isinstance(args, str):
        return args, DEFAULT_SEARCH_LIMIT
    if isinstance(args, dict) and isinstance(args.get("query"), str):
        limit = args.get("limit", DEFAULT_SEARCH_LIMIT)
        return args["query"], limit if isinstance(limit, int) else DEFAULT_SEARCH_LIMIT
    raise ToolError(
        'codemode.search takes a query string, e.g. search("list commits")', name="TypeError"
    )
