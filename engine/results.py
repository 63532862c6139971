"""Results crossing the engine: upstream results into the sandbox, and sandbox runs back out.

Inside the sandbox (docs/design.md, "Values across the bridge"): an `isError` result rejects
with the tool's text; otherwise `structuredContent` if present, else the text parsed as JSON
when it parses, the raw string otherwise; non-text content (images, resources) as their MCP
content objects.

Back to the agent: `{"result": ..., "logs": [...]}` as JSON text plus `structuredContent`,
errors as `isError: true` with the typed error and the logs so far, and output over the cap
cut with a notice at the top saying what the cap is and how much was cut.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from mcp_types import CallToolResult, ContentBlock, TextContent

from sandbox import RunResult, SandboxError

# A UTF-16 surrogate code point on its own: JavaScript strings may hold them, UTF-8 cannot.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def well_formed(value: Any) -> Any:
    """`value` (JSON-like) with every lone surrogate in its strings and keys replaced by U+FFFD.

    Agent code can build strings such as `'\\ud800'`; the sandbox hands them over as Python
    strings holding a lone surrogate, which UTF-8 (the wire, upstream calls, the request log)
    cannot encode. Left as they are, they break whatever serialises them next.
    """
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if value is None or isinstance(value, bool | int | float):
        return value
    text = json.dumps(value, ensure_ascii=False)
    if _LONE_SURROGATE.search(text) is None:
        return value
    return json.loads(_LONE_SURROGATE.sub("\ufffd", text))


def text_of(result: CallToolResult) -> str:
    """All text content of a result, joined: the message of a tool error."""
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    return "\n".join(texts) if texts else "the tool reported an error without a message"


def sandbox_value(result: CallToolResult) -> Any:
    """What `await codemode.<tool>(...)` resolves to for a successful upstream result."""
    if result.structured_content is not None:
        return result.structured_content
    values = [_content_value(block) for block in result.content]
    if len(values) == 1:
        return values[0]
    return values or None


def _content_value(block: ContentBlock) -> Any:
    if isinstance(block, TextContent):
        try:
            return json.loads(block.text)
        except ValueError:
            return block.text
    return block.model_dump(mode="json", by_alias=True, exclude_none=True)


def run_output(run: RunResult, cap: int) -> CallToolResult:
    """The `code`/`execute` tool result for one sandbox run."""
    logs = [entry.to_json() for entry in run.logs]
    if run.error is not None:
        payload: dict[str, Any] = {"error": run.error.to_json(), "logs": logs}
        return _capped(payload, cap, is_error=True)
    return _capped({"result": run.value, "logs": logs}, cap, is_error=False)


def error_output(error: SandboxError, logs: list[dict[str, str]] | None = None) -> CallToolResult:
    payload = {"error": error.to_json(), "logs": logs or []}
    return _capped(payload, cap=None, is_error=True)


def _capped(payload: dict[str, Any], cap: int | None, *, is_error: bool) -> CallToolResult:
    text = json.dumps(payload, ensure_ascii=False)
    if _LONE_SURROGATE.search(text) is not None:
        text = _LONE_SURROGATE.sub("\ufffd", text)
        payload = json.loads(text)
    if cap is None or len(text) <= cap:
        return CallToolResult(
            content=[TextContent(type="text", text=text)],
            structured_content=payload,
            is_error=is_error,
        )
    shown = text[:cap]
    notice = (
        f"{CUT_NOTICE_START}showing the first {cap:,} of {len(text):,} characters "
        f"({len(text) - cap:,} cut); the output cap is {cap:,} characters. "
        "Return less: filter, summarise or paginate inside the code.]\n"
    )
    # The structured copy would carry the whole output past the cap: leave it out.
    return CallToolResult(
        content=[TextContent(type="text", text=notice + shown)], is_error=is_error
    )


CUT_NOTICE_START = "[output cut: "
"""How the first line of a result over the output cap starts (the notice; the cut text follows)."""


@dataclass(frozen=True, slots=True)
class CutOutput:
    """A result cut at the output cap, taken apart again for people (`codemode run`)."""

    notice: str
    is_error: bool
    value: str
    """The part of the value that fits: a string's text, else the start of its JSON."""


def read_cut(text: str) -> CutOutput | None:
    """The notice and what is left of the value in `text`, a result cut at the output cap;
    None when `text` is not one."""
    if not text.startswith(CUT_NOTICE_START) or "]\n" not in text:
        return None
    notice, rest = text.split("]\n", 1)
    for key in ("result", "error"):
        head = f'{{"{key}": '
        if rest.startswith(head):
            return CutOutput(notice + "]", key == "error", _partial_value(rest[len(head) :]))
    return CutOutput(notice + "]", False, rest)


def _partial_value(json_text: str) -> str:
    """A JSON value at the start of `json_text`, cut anywhere (even inside a string's escape):
    a string as its text, anything else as its JSON as far as it goes."""
    try:
        whole, end = json.JSONDecoder().raw_decode(json_text)
    except ValueError:
        pass
    else:  # the value fits; the cut is in the logs after it
        return whole if isinstance(whole, str) else json_text[:end]
    if not json_text.startswith('"'):
        return json_text
    # At most a few characters (a `\uXXXX` escape) must go before the cut string closes.
    for end in range(len(json_text), max(0, len(json_text) - 7), -1):
        try:
            value = json.loads(json_text[:end] + '"')
        except ValueError:
            continue
        if isinstance(value, str):
            return value
    return json_text


def tool_error(message: str) -> CallToolResult:
    """An `isError` result the agent can read, for problems found before any upstream call."""
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)
