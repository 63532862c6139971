"""Fenced and TypeScript agent code through a real portal's `code` and `execute` tools.

A portal without upstream servers: the sandbox, the executor and `stubs.strip_types` alone."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp_types import TextContent

from engine import Config, Gateway, Portal, Surface

pytestmark = pytest.mark.anyio

SURFACES = [(Surface.CODEMODE, "code"), (Surface.SEARCH_AND_EXECUTE, "execute")]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def portal() -> AsyncIterator[Portal]:
    config = Config.from_dict(
        {"portals": [{"id": "solo"}], "settings": {"request_log_path": ":memory:"}}
    )
    async with Gateway(config) as gateway:
        yield gateway.portal("solo")


async def run(portal: Portal, code: str, surface: Surface, tool: str) -> tuple[bool, Any]:
    result = await portal.call_tool(surface, tool, {"code": code}, user="tester")
    text = "\n".join(b.text for b in result.content if isinstance(b, TextContent))
    return bool(result.is_error), json.loads(text)


FENCED = [
    ("```typescript\nconst x: number = 1; return x\n```", 1),
    ("```ts\nasync function main(): Promise<string> {\n  return 'main'\n}\n```", "main"),
    ("```js\nreturn 'fenced'\n```", "fenced"),
    ("```javascript\nconst x = 6;\nx\n```", 6),
    ("```\nreturn [1, 2]\n```", [1, 2]),
    ("Here is the code:\n```ts\nconst n: number = 2\nreturn n * 3\n```\nIt returns 6.", 6),
    ("```ts\nconst md: string = `\\`\\`\\`js\\nx\\n\\`\\`\\``\nreturn md\n```", "```js\nx\n```"),
]


@pytest.mark.parametrize(("surface", "tool"), SURFACES)
@pytest.mark.parametrize(("code", "value"), FENCED)
async def test_fenced_code_runs_on_code_and_execute(
    portal: Portal, surface: Surface, tool: str, code: str, value: Any
) -> None:
    is_error, body = await run(portal, code, surface, tool)
    assert not is_error, body
    assert body["result"] == value


@pytest.mark.parametrize(("surface", "tool"), SURFACES)
async def test_positions_in_fenced_code_count_the_agents_lines(
    portal: Portal, surface: Surface, tool: str
) -> None:
    # A syntax error found while stripping types, and one QuickJS finds in plain JavaScript:
    # both count the prose and fence lines above the code.
    is_error, body = await run(
        portal, "Code:\n```ts\nconst a = 1\nconst b: = 2\n```", surface, tool
    )
    assert is_error and body["error"]["kind"] == "syntax"
    assert (body["error"]["line"], body["error"]["column"]) == (4, 10)
    is_error, body = await run(portal, "Code:\n```js\nconst a = 1\nnull.x\n```", surface, tool)
    assert is_error and body["error"]["name"] == "TypeError"
    assert body["error"]["line"] == 4


async def test_javascript_that_builds_a_fence_is_left_alone(portal: Portal) -> None:
    code = "const md = `\n\\`\\`\\`js\nx\n\\`\\`\\`\n`\nreturn md"
    is_error, body = await run(portal, code, Surface.CODEMODE, "code")
    assert not is_error, body
    assert body["result"] == "\n```js\nx\n```\n"
