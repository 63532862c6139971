"""`codemode.resources.*` inside a code run: list and read the portal's resources as the
caller may see them (the run's snapshot is already restricted to their servers).

`list()` and `templates()` answer from the snapshot; `read(uri)` routes the URI like
`resources/read` does (`ResourceCuration.route`) and reads through the logged call path.
Contents come back as plain objects: `{uri, mimeType?, text}` or `{uri, mimeType?, blob}`,
`blob` being the base64 string the upstream sent (the sandbox has no byte arrays).
"""

from __future__ import annotations

import json
from typing import Any

from engine.calls import Caller, CallsUpstream
from engine.resource_curation import RouteError, qualify_contents, split_qualified
from engine.status import UpstreamError
from engine.view import PortalView, resource_json
from sandbox import ToolError
from stubs.resources import LIST, READ, TEMPLATES

MAX_FOUND_LISTED = 10
"""Resources `codemode.search` names at most after the tools it found."""


async def resources_call(
    name: str, args: Any, view: PortalView, calls: CallsUpstream, caller: Caller
) -> Any:
    if name == LIST:
        return [resource_json(r) for r in view.resources]
    if name == TEMPLATES:
        return [resource_json(t) for t in view.templates]
    assert name == READ  # the sandbox only calls names it was given
    return await _read(_uri_of(args), view, calls, caller)


async def _read(uri: str, view: PortalView, calls: CallsUpstream, caller: Caller) -> Any:
    try:
        route = view.resource_curation.route(uri)
    except RouteError as exc:
        raise ToolError(str(exc)) from None
    try:
        result = await calls.read_resource(caller, route.server_id, route.upstream_uri, uri)
    except UpstreamError as exc:
        raise ToolError(exc.message, retryable=exc.retryable, code="upstream") from None
    if split_qualified(uri) is not None:
        result = qualify_contents(result, route.server_id)
    return [
        c.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"meta"})
        for c in result.contents
    ]


def _uri_of(args: Any) -> str:
    uri = args.get("uri") if isinstance(args, dict) else args
    if not isinstance(uri, str) or not uri:
        raise ToolError(
            'codemode.resources.read takes a URI, e.g. read("file:///notes.txt")',
            name="TypeError",
        )
    return uri


def resources_found(view: PortalView, query: str, limit: int) -> str:
    """What `codemode.search` adds after the tools: the resources that match, as comments."""
    found = view.search_resources(query, min(limit, MAX_FOUND_LISTED)) if query.strip() else []
    if not found:
        return ""
    lines = [json.dumps(resource_json(item), ensure_ascii=False) for item in found]
    return (
        "\n// Resources that match; read one with await codemode.resources.read(uri)"
        ' (describe("resources") declares it):\n' + "".join(f"// {line}\n" for line in lines)
    )


__all__ = ["MAX_FOUND_LISTED", "resources_call", "resources_found"]
