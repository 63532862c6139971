"""`codemode status --url`: the state of the servers as a running `codemode serve` sees them,
through its admin API, without starting upstreams of its own; and which of the two kinds of
status a run reports."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import codemode
from tests.cli.test_serve import EXIT_TIMEOUT_S, Served
from tests.cli.tiny_upstream import portal_config
from tests.upstreams.harness import free_port

TOKEN = "status-test-token-0123456789"


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A running `serve` with an admin token; its base URL and its config."""
    config = portal_config(tmp_path, sys.executable)
    port = free_port()
    env = {**os.environ, "CODEMODE_ADMIN_TOKEN": TOKEN}
    server = Served(["serve", "--config", str(config), "--port", str(port)], env=env)
    try:
        server.wait_for_line("codemode is serving")
        yield f"http://127.0.0.1:{port}", config
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=EXIT_TIMEOUT_S) == 0
    finally:
        server.stop()


def test_status_asks_the_running_portal(portal: tuple[str, Path], tmp_path: Path) -> None:
    url, config = portal
    upstream_pid = (tmp_path / "upstream.pid").read_text()

    done = codemode("status", "--url", url + "/", env={"CODEMODE_ADMIN_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [f"status of the running portal at {url}"]
    header, row = done.stdout.splitlines()
    assert header.split() == ["server", "state", "tools", "prompts", "cause"]
    assert row.split() == ["tiny", "Ready", "1", "0"]

    asked = codemode("status", "--url", url, "--json", env={"CODEMODE_ADMIN_TOKEN": TOKEN})
    assert asked.returncode == 0, asked.stderr
    # No upstream of its own: the portal's upstream is the only one that ever started.
    assert (tmp_path / "upstream.pid").read_text() == upstream_pid

    fresh = codemode("status", "--config", str(config), "--json")
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stderr.splitlines()[0] == (
        f"status from a fresh connection to the upstreams of {config}"
    )
    assert (tmp_path / "upstream.pid").read_text() != upstream_pid
    # The same JSON either way; only the sync times differ.
    ours, theirs = json.loads(asked.stdout)["servers"], json.loads(fresh.stdout)["servers"]
    assert ours.keys() == theirs.keys() == {"tiny"}
    assert ours["tiny"].keys() == theirs["tiny"].keys()
    times = {"last_synced", "last_successful_sync"}
    assert {k: v for k, v in ours["tiny"].items() if k not in times} == {
        k: v for k, v in theirs["tiny"].items() if k not in times
    }


def test_status_url_needs_the_right_token(portal: tuple[str, Path]) -> None:
    url, _ = portal
    wrong = codemode("status", "--url", url, env={"CODEMODE_ADMIN_TOKEN": "not-it"})
    assert wrong.returncode == 2
    assert wrong.stderr.splitlines() == [
        f"status of the running portal at {url}",
        f"codemode: the portal at {url} refused: HTTP 401: wrong or revoked admin token",
    ]
    assert wrong.stdout == ""

    missing = codemode("status", "--url", url, env={"CODEMODE_ADMIN_TOKEN": ""})
    assert missing.returncode == 2
    assert missing.stderr.splitlines()[-1] == (
        "codemode: status --url needs the portal's admin token: set CODEMODE_ADMIN_TOKEN to "
        "the value the portal was started with"
    )


def test_status_url_says_when_nothing_answers(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = codemode("status", "--url", url, env={"CODEMODE_ADMIN_TOKEN": TOKEN})
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(f"codemode: cannot reach the portal at {url}: ")
    assert "Traceback" not in done.stderr

    both = codemode("status", "--url", url, "--config", str(tmp_path / "x.toml"))
    assert both.returncode == 2
    assert both.stderr.strip() == "codemode: status takes --config (or --demo) or --url, not both"
