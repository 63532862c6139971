"""The official MCP conformance suite's OAuth *client* scenarios (`conformance client --suite
auth`, and `--suite backcompat`: the 2025-03-26 ones) against `codemode connect --headless`,
through `conformance_client.py`. Failures not in `conformance-baseline.yml` fail the test, and
so does a baseline entry that has started passing (the suite calls it stale)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.test_conformance import CONFORMANCE, node22  # noqa: F401  (fixture)
from tests.upstreams.harness import REPO

BASELINE = Path(__file__).with_name("conformance-baseline.yml")
CLIENT_TIMEOUT_MS = 180_000
"""Per scenario. The suite starts every scenario's client at once; on a busy 2-core machine
fourteen Python start-ups take far longer than the suite's 30 s default."""
RUN_TIMEOUT_S = 600


@pytest.mark.parametrize("suite", ["auth", "backcompat"])
def test_conformance_auth_suite(node22: Path, suite: str, tmp_path: Path) -> None:  # noqa: F811
    command = f"{sys.executable} -m tests.upstream_oauth.conformance_client"
    argv = [str(node22), str(CONFORMANCE), "client", "--suite", suite, "--command", command]
    argv += ["--timeout", str(CLIENT_TIMEOUT_MS), "--expected-failures", str(BASELINE)]
    argv += ["--output-dir", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    results = {
        path.parent.name.rsplit("-20", 1)[0]: json.loads(path.read_text())
        for path in tmp_path.glob("auth/*/checks.json")
    }
    assert results, run.stdout[-4000:] + run.stderr[-4000:]
    failed = {
        name: [c["id"] for c in checks if c["status"] not in ("SUCCESS", "INFO")]
        for name, checks in results.items()
    }
    summary = json.dumps({k: v for k, v in failed.items() if v}, indent=1)
    assert run.returncode == 0, summary + "\n" + run.stdout[-3000:]
