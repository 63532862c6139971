"""Resources through `codemode serve --stdio` with the SDK's stdio client: listed, read, and a
listen stream that names a resource gets its updates."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp_types import TextResourceContents

from tests.upstreams.harness import REPO

pytestmark = pytest.mark.anyio

CONFIG = f"""
[[servers]]
id = "res"
command = "{sys.executable}"
args = ["-m", "tests.upstreams.resources_server", "--tag", "stdio"]
cwd = "{REPO}"

[[portals]]
id = "p"
servers = [{{ server_id = "res" }}]

[settings]
request_log_path = ":memory:"
"""


async def test_resources_over_stdio(tmp_path: Path) -> None:
    config = tmp_path / "portal.toml"
    config.write_text(CONFIG, encoding="utf-8")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "engine.cli", "serve", "--config", str(config), "--stdio"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    async with Client(params) as client:
        listed = {r.uri for r in (await client.list_resources()).resources}
        assert {"test://static-text", "test://static-binary", "test://watched-resource"} <= listed
        read = await client.read_resource("test://template/5/data")
        [content] = read.contents
        assert isinstance(content, TextResourceContents) and '"id": "5"' in content.text
        async with client.listen(resource_subscriptions=["test://watched-resource"]) as events:
            await client.call_tool("res_touch", {})
            with anyio.fail_after(15):
                event = await events.__anext__()
        assert getattr(event, "uri", None) == "test://watched-resource"
