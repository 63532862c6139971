"""Running a playwright-core script (`node SCRIPT ARGS...`) against Debian's headless chromium
for the homepage's browser tests: skipped where the browser is missing, a failure in CI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.upstreams.harness import REPO

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
BROWSER_TIMEOUT_S = 120


def browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (apt-get install -y chromium)"
    if not (REPO / "node_modules" / "playwright-core").is_dir():
        return "node_modules/playwright-core not installed (npm install)"
    if shutil.which("node") is None:
        return "node not found"
    return None


def run_browser_script(script: Path, *args: str) -> dict[str, Any]:
    """The JSON object the script prints last; skips (fails in CI) without a browser."""
    missing = browser_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run in CI: {missing}")
        pytest.skip(missing)
    done = subprocess.run(
        ["node", str(script), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
