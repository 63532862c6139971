"""Portals and servers written through the admin API live in the store: they survive a
restart (the config file only seeded the empty store), and `codemode export` writes TOML
that `check-config` and `codemode import` accept, round trip equal, secrets left out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from anyio.from_thread import BlockingPortal

from engine import Config
from engine.config_store import export_toml
from tests.web.cf_write_helpers import (
    ACCOUNT,
    UPSTREAM_SECRET,
    log_file,
    run_portal,
    seed_config,
    stdio_demo,
)

CLI_TIMEOUT_S = 120


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def test_writes_survive_a_restart_and_export_import_round_trips(
    blocking_portal: BlockingPortal, tmp_path: Path
) -> None:
    path = tmp_path / "portal.toml"
    path.write_text(export_toml(seed_config(tmp_path)), encoding="utf-8")
    config = Config.load(path)
    with log_file(tmp_path / "first.log"), run_portal(blocking_portal, config, tmp_path) as r:
        tokens = r.tokens
        mcp = r.sdk()
        mcp.servers.create(
            account_id=ACCOUNT,
            id="local",
            name="Local",
            hostname="stdio:demo",
            auth_type="unauthenticated",
            updated_tools=[{"name": "crash", "enabled": False}],
            extra_body=stdio_demo(),
        )
        mcp.servers.create(
            account_id=ACCOUNT,
            id="far",
            name="Far",
            hostname="http://127.0.0.1:9/mcp",
            auth_type="bearer",
            auth_credentials=UPSTREAM_SECRET,
            is_shared_oauth_callback_enabled=True,
        )
        mcp.portals.update(
            "main",
            account_id=ACCOUNT,
            hostname="main.example.test",
            name="Main",
            code_mode="default_on",
            servers=[{"server_id": "time"}, {"server_id": "local", "default_disabled": True}],
        )
        before = [p.to_dict() for p in mcp.portals.list(account_id=ACCOUNT)]
        servers_before = {s.id: s for s in mcp.servers.list(account_id=ACCOUNT)}
    assert "seeded the empty store" in (tmp_path / "first.log").read_text()

    # A restart: the file still says what it said; the store wins.
    with (
        log_file(tmp_path / "second.log"),
        run_portal(blocking_portal, config, tmp_path, tokens) as r,
    ):
        mcp = r.sdk("reader")
        after = [p.to_dict() for p in mcp.portals.list(account_id=ACCOUNT)]
        servers = {s.id: s for s in mcp.servers.list(account_id=ACCOUNT)}
        assert r.gateway.portal("main").config.code_mode == "default_on"
    assert "from the store" in (tmp_path / "second.log").read_text()
    assert [p["id"] for p in after] == ["main"]
    keys = ("hostname", "code_mode", "created_at", "modified_at", "modified_by")
    assert [{k: p[k] for k in keys} for p in after] == [{k: p[k] for k in keys} for p in before]
    assert list(servers) == ["time", "local", "far"]
    assert servers["far"].created_by == "writer" and servers["far"].is_shared_oauth_callback_enabled
    assert servers["far"].to_dict()["has_auth_credentials"] is True
    assert servers["local"].updated_tools == servers_before["local"].updated_tools

    first, second = tmp_path / "export1.toml", tmp_path / "export2.toml"
    done = _cli("export", "--config", str(path), "-o", str(first))
    assert done.returncode == 0, done.stderr
    text = first.read_text()
    assert 'credentials = "store"' in text and UPSTREAM_SECRET not in text
    assert 'code_mode = "default_on"' in text
    checked = _cli("check-config", str(first))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    imported = _cli("import", str(first), "--config", str(path))
    assert imported.returncode == 0, imported.stderr
    assert _cli("export", "--config", str(path), "-o", str(second)).returncode == 0
    assert second.read_text() == text
    # The import kept the store's secret of the server it kept.
    with run_portal(blocking_portal, config, tmp_path, tokens) as r:
        far = r.sdk("reader").servers.read("far", account_id=ACCOUNT)
        assert far is not None and far.to_dict()["has_auth_credentials"] is True
