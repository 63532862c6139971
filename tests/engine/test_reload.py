"""`Gateway.reload` in-process, over two stdlib-only stdio upstreams: a policy change lets a
caller in and shows them a server at once; curation changes rename tools and announce it
(list_changed); the config every portal reads changes together; a reload an `on_reload` hook
refuses changes nothing; a changed server command reconnects it, and what needs a restart
keeps its running value."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from engine import Config, Gateway, Surface
from engine.auth import Principal
from engine.config import ConfigError, ConfigProblem

pytestmark = pytest.mark.anyio

TINY = Path(__file__).parents[1] / "cli" / "tiny_upstream.py"
CI = Principal.for_service("ci")
BOT = Principal.for_service("bot")


def data(directory: Path, *, bot_in: bool = False) -> dict[str, Any]:
    def server(sid: str, policies: list[str]) -> dict[str, Any]:
        args = ["-S", str(TINY), str(directory / f"{sid}.pid")]
        return {"id": sid, "command": sys.executable, "args": args, "policies": policies}

    return {
        "policies": [
            {
                "id": "keys",
                "decision": "allow",
                "include": [{"everyone": True}],
                "exclude": [] if bot_in else [{"service": "bot"}],
            },
            {"id": "ci-only", "decision": "allow", "include": [{"service": "ci"}]},
        ],
        "servers": [server("one", ["keys"]), server("two", ["ci-only"])],
        "portals": [
            {
                "id": "main",
                "name": "Main",
                "policies": ["keys"],
                "servers": [{"server_id": "one"}, {"server_id": "two"}],
            },
            {"id": "other", "policies": ["keys"], "servers": [{"server_id": "two"}]},
        ],
        "settings": {"request_log_path": ":memory:"},
    }


def names(gateway: Gateway, who: Principal | None, portal: str = "main") -> set[str]:
    return {t.name for t in gateway.portal(portal).list_tools(Surface.ALL, who)}


async def test_reload_applies_policies_curation_and_names_to_every_portal(
    tmp_path: Path,
) -> None:
    async with Gateway(Config.from_dict(data(tmp_path))) as gateway:
        main = gateway.portal("main")
        changed: list[str] = []
        main.on_tools_changed(lambda: changed.append("main"))
        assert names(gateway, CI) == {"one_echo", "two_echo"}
        access = main.access(BOT)
        assert access is not None and not access.allowed

        new = data(tmp_path, bot_in=True)
        new["servers"][1]["policies"] = ["ci-only", "keys"]
        new["portals"][0]["name"] = "Main portal"
        new["portals"][0]["servers"][0]["updated_tools"] = [{"name": "echo", "portal_alias": "say"}]
        report = gateway.reload(Config.from_dict(new))

        assert report.needs_restart == ()
        assert "policies[keys]" in report.applied and "servers[two].policies" in report.applied
        assert names(gateway, BOT) == {"one_say", "two_echo"}
        assert names(gateway, BOT, "other") == {"two_echo"}
        assert changed == ["main"]  # renamed: list_changed goes out; `other` did not change
        assert main.config.name == "Main portal"
        assert gateway.config is report.config
        assert all(p.services.config is report.config for p in gateway.portals.values())


async def test_a_refused_reload_changes_nothing_and_restart_keys_keep_their_value(
    tmp_path: Path,
) -> None:
    async with Gateway(Config.from_dict(data(tmp_path))) as gateway:
        before = gateway.config
        committed: list[Config] = []

        def hook(config: Config) -> Any:
            if config.policy("keys").exclude == []:
                raise ConfigError([ConfigProblem("", "refused by a hook")], "test")
            return lambda: committed.append(config)

        gateway.on_reload(hook)
        with pytest.raises(ConfigError, match="refused by a hook"):
            gateway.reload(Config.from_dict(data(tmp_path, bot_in=True)))
        assert gateway.config is before
        assert gateway.portal("main").services.config is before
        assert names(gateway, BOT) == set()  # still blocked: the bot sees no tool at all

        moved = data(tmp_path)
        moved["servers"][0]["args"][-1] = str(tmp_path / "elsewhere.pid")
        moved["servers"][0]["description"] = "The first one"
        moved["settings"]["access_token_ttl_s"] = 7
        report = await gateway.apply(Config.from_dict(moved))
        assert report.needs_restart == ("settings.access_token_ttl_s",)
        assert set(report.applied) == {"servers[one].args", "servers[one].description"}
        assert gateway.config.server("one").args == moved["servers"][0]["args"]
        assert gateway.config.settings == before.settings
        assert committed == [report.config]
        assert (await gateway.catalog.wait_settled("one")).state.value == "Ready"
        assert (tmp_path / "elsewhere.pid").exists()  # reconnected: a new process
        assert names(gateway, CI) == {"one_echo", "two_echo"}
