"""schemathesis (CLI) over the OpenAPI document of the Cloudflare-shaped admin API
(`/client/v4/openapi.json`), against a running portal whose portals and servers live in the
store: every answer matches the documented status codes, content type and schema; input the
document forbids is refused with 4xx; no 5xx. It writes for real (creates, replaces and
deletes what it generates), so it has a portal of its own.

`positive_data_acceptance` is left out: a body the schema allows can still be refused with
400 for its meaning (a server id no server has, a URL that is not one), as the issue asks."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import BlockingPortal

from tests.web.cf_write_helpers import Running, run_portal, seed_config

ST = Path(sys.executable).with_name("st")
MAX_EXAMPLES = 30
RUN_TIMEOUT_S = 480


@pytest.fixture
def cf(blocking_portal: BlockingPortal, tmp_path: Path) -> Iterator[Running]:
    with run_portal(blocking_portal, seed_config(tmp_path), tmp_path) as r:
        r.wait_status("time", "Ready")
        yield r


def test_schemathesis_finds_no_failure(cf: Running, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            str(ST),
            "run",
            f"{cf.base}/client/v4/openapi.json",
            "--header",
            f"Authorization: Bearer {cf.tokens['writer']}",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "7",
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
    assert done.returncode == 0, output[-8000:]
    assert re.search(r"Tested:\s+11\b", output), output[-3000:]
    generated = re.search(r"(\d+) generated", output)
    assert generated is not None and int(generated.group(1)) >= 100, output[-3000:]
