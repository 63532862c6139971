"""The admin API against its own OpenAPI document, fuzzed by schemathesis (CLI) against the
running app on 127.0.0.1: every response must match the documented status codes, content
types and schemas, schema-violating input must be rejected with 4xx, and requests without
the token must get 401."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.web.conftest import ADMIN_TOKEN, Served

ST = Path(sys.executable).with_name("st")
MAX_EXAMPLES = 50
RUN_TIMEOUT_S = 420


def test_schemathesis_finds_no_failure(served: Served, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            str(ST),
            "run",
            f"{served.base}/api/openapi.json",
            "--header",
            f"Authorization: Bearer {ADMIN_TOKEN}",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "5",
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--phases",
            "examples,coverage,fuzzing",
            "--request-timeout",
            "60",
            "--no-color",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    # The run really exercised every operation and generated cases.
    assert re.search(r"Tested:\s+5\b", output), output[-3000:]
    generated = re.search(r"(\d+) generated", output)
    assert generated is not None and int(generated.group(1)) >= 100, output[-3000:]
