"""A client that is not ours: the MCP Inspector CLI (npm `@modelcontextprotocol/inspector`,
run offline from node_modules) lists and calls tools on the portal over streamable HTTP."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from tests.server.conftest import ServedPortal
from tests.upstreams.harness import REPO

INSPECTOR = REPO / "node_modules" / ".bin" / "mcp-inspector"
RUN_TIMEOUT_S = 120


def inspector(url: str, *args: str) -> Any:
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH")
    assert INSPECTOR.exists(), f"{INSPECTOR} is missing: run `npm install`"
    argv = [str(INSPECTOR), "--cli", url, "--transport", "http", *args]
    run = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return json.loads(run.stdout)


def test_inspector_lists_tools(served: ServedPortal) -> None:
    listed = inspector(served.url, "--method", "tools/list")
    names = {t["name"] for t in listed["tools"]}
    assert {"time_get_current_time", "demo_echo"} <= names


def test_inspector_calls_a_tool_and_runs_code(served: ServedPortal) -> None:
    echoed = inspector(
        served.url, "--method", "tools/call", "--tool-name", "demo_echo", "--tool-arg", "value=hi"
    )
    assert echoed["isError"] is False
    assert json.loads(echoed["content"][0]["text"]) == {"value": "hi"}

    code = "const t = await codemode.time_get_current_time({timezone: 'UTC'}); return t.timezone"
    ran = inspector(
        served.url + "?codemode=search_and_execute",
        *("--method", "tools/call", "--tool-name", "code", "--tool-arg", f"code={code}"),
    )
    assert ran["isError"] is False
    assert ran["structuredContent"]["result"] == "UTC"
