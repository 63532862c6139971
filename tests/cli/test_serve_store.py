"""`codemode serve` with `[admin]` (portals and servers in the store), as real processes: the
first start seeds the store from the file and says so; a server and a portal created through
the admin API (a token from `codemode admin-token create`) are served at once and again after
a restart, which says the store won; the file's own portal is still the seed's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx2

from tests.cli.test_serve import EXIT_TIMEOUT_S, Served
from tests.upstreams.harness import free_port

ACCOUNT = "local"
PREFIX = f"/client/v4/accounts/{ACCOUNT}/access/ai-controls/mcp"
CLI_TIMEOUT_S = 120
CLI = [sys.executable, "-m", "engine.cli"]


def _config(tmp: Path) -> Path:
    time_server = Path(sys.executable).with_name("mcp-server-time")
    path = tmp / "portal.toml"
    path.write_text(
        f'[[servers]]\nid = "time"\ncommand = {json.dumps(str(time_server))}\n'
        '[[portals]]\nid = "main"\n[[portals.servers]]\nserver_id = "time"\n'
        "[admin]\n"
        f'[settings]\nrequest_log_path = ":memory:"\ndatabase_url = "sqlite+aiosqlite:///{tmp}/c.db"\n',
        encoding="utf-8",
    )
    return path


def _serve(path: Path, port: int) -> Served:
    env = {**os.environ, "CODEMODE_SECRET_KEY": "k" * 40}
    served = Served(["serve", "--config", str(path), "--port", str(port)], env=env)
    served.wait_for_line("portal main")
    return served


def _stop(served: Served) -> str:
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=EXIT_TIMEOUT_S) == 0
    return served.rest(stderr=True)


def test_serve_seeds_the_store_then_keeps_what_the_api_wrote(tmp_path: Path) -> None:
    path = _config(tmp_path)
    env = {**os.environ, "CODEMODE_SECRET_KEY": "k" * 40}
    made = subprocess.run(
        [*CLI, "admin-token", "create", "ops", "--write", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=CLI_TIMEOUT_S,
        check=True,
    )
    headers = {"Authorization": f"Bearer {made.stdout.strip()}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}{PREFIX}"
    served = _serve(path, port)
    try:
        body = {
            "id": "clock2",
            "name": "Clock 2",
            "hostname": "stdio:time",
            "auth_type": "unauthenticated",
        }
        body["command"] = str(Path(sys.executable).with_name("mcp-server-time"))
        created = httpx2.post(f"{base}/servers", json=body, headers=headers, timeout=60)
        assert created.status_code == 200, created.text
        portal = {"id": "ops", "hostname": "ops.example.test", "name": "Ops"}
        portal["servers"] = [{"server_id": "clock2"}]
        assert httpx2.post(f"{base}/portals", json=portal, headers=headers, timeout=60).is_success
    finally:
        first = _stop(served)
    assert "seeded the empty store with 1 servers and 1 portals" in first

    served = _serve(path, port)
    try:
        listed = httpx2.get(f"{base}/portals", headers=headers, timeout=60).json()["result"]
        servers = httpx2.get(f"{base}/servers", headers=headers, timeout=60).json()["result"]
    finally:
        second = _stop(served)
    assert [p["id"] for p in listed] == ["main", "ops"]
    assert listed[1]["created_by"] == "ops"
    assert [s["id"] for s in servers] == ["time", "clock2"]
    assert "from the store" in second and "Traceback" not in first + second
