"""`engine.reload.plan_reload`: which changes of a reloaded config apply live and which keep
their running value until a restart, and when the config to run would not hold together."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.config import Config, ConfigError
from engine.credentials import StoredCredentials
from engine.reload import ServerChanges, plan_reload, server_changes


def base() -> dict[str, Any]:
    return {
        "identity": {"provider": "dev"},
        "policies": [
            {"id": "staff", "decision": "allow", "include": [{"email_domain": "example.com"}]},
            {"id": "ops", "decision": "allow", "include": [{"group": "ops"}]},
        ],
        "servers": [
            {"id": "a", "command": "server-a", "policies": ["staff"]},
            {"id": "b", "url": "http://127.0.0.1:9/mcp", "policies": ["ops"]},
        ],
        "portals": [
            {
                "id": "team",
                "name": "Team",
                "policies": ["staff"],
                "servers": [{"server_id": "a"}, {"server_id": "b"}],
            }
        ],
        "settings": {"request_log_path": ":memory:"},
    }


def plan(change: Any) -> tuple[Config, Any]:
    running = Config.from_dict(base())
    data = copy.deepcopy(base())
    change(data)
    return running, plan_reload(running, Config.from_dict(data))


def test_nothing_changed() -> None:
    running, report = plan(lambda data: None)
    assert not report.changed
    assert report.summary() == "no changes"
    assert report.config == running


def test_policies_keys_names_identity_texts_and_curation_apply_live() -> None:
    def change(data: dict[str, Any]) -> None:
        data["policies"][1]["include"] = [{"group": "ops"}, {"email": "ana@example.com"}]
        data["policies"].append({"id": "all", "decision": "allow", "include": [{"everyone": True}]})
        data["servers"][1]["policies"] = ["ops", "all"]
        data["servers"][0]["description"] = "Server A"
        data["portals"][0]["name"] = "The team"
        data["portals"][0]["api_keys"] = [{"name": "ci", "sha256": "0" * 64}]
        data["portals"][0]["servers"][0]["updated_tools"] = [{"name": "x", "enabled": False}]
        data["identity"]["no_access_message"] = "Ask #help for access."

    _, report = plan(change)
    assert set(report.applied) == {
        "policies[ops]",
        "policies[all] (added)",
        "servers[b].policies",
        "servers[a].description",
        "portals[team].name",
        "portals[team].api_keys",
        "portals[team].servers[a].updated_tools",
        "identity.no_access_message",
    }
    assert report.needs_restart == ()
    config = report.config
    assert config.server("b").policies == ["ops", "all"]
    assert config.portal("team").name == "The team"
    assert config.portal("team").servers[0].updated_tools[0].name == "x"
    assert config.identity is not None
    assert config.identity.no_access_message == "Ask #help for access."
    assert [p.id for p in config.policies] == ["staff", "ops", "all"]


def test_settings_admin_and_identity_provider_need_a_restart_and_keep_their_value() -> None:
    def change(data: dict[str, Any]) -> None:
        data["servers"][0]["name"] = "A"
        data["settings"]["sandbox"] = {"timeout_s": 5.0}
        data["admin"] = {"account_id": "acme"}
        data["identity"] = {
            "issuer": "https://login.example.com",
            "client_id": "c",
            "client_secret_env": "SECRET",
        }

    running, report = plan(change)
    assert set(report.needs_restart) >= {
        "settings.sandbox",
        "admin",
        "identity.provider",
        "identity.issuer",
    }
    assert report.applied == ("servers[a].name",)
    config = report.config
    assert config.server("a").name == "A"
    assert config.settings == running.settings
    assert config.admin == running.admin
    assert config.identity == running.identity
    assert "needs a restart" in report.summary() and "settings.sandbox" in report.summary()


def test_transport_hostnames_and_adding_or_removing_servers_and_portals_apply_live() -> None:
    def change(data: dict[str, Any]) -> None:
        data["servers"][0]["command"] = "server-a2"
        data["servers"].append({"id": "c", "command": "server-c", "policies": ["staff"]})
        del data["servers"][1]
        data["portals"][0]["hostname"] = "mcp.example.com"
        data["portals"][0]["servers"] = [{"server_id": "a"}, {"server_id": "c"}]
        data["portals"].append({"id": "more", "policies": ["staff"], "servers": []})

    running, report = plan(change)
    assert report.needs_restart == ()
    assert set(report.applied) == {
        "servers[a].command",
        "servers[c] (added)",
        "servers[b] (removed)",
        "portals[team].hostname",
        "portals[team].servers (which servers, their order)",
        "portals[more] (added)",
    }
    assert [s.id for s in report.config.servers] == ["a", "c"]
    assert report.config.server("a").command == "server-a2"
    assert [p.id for p in report.config.portals] == ["team", "more"]
    assert [r.server_id for r in report.config.portal("team").servers] == ["a", "c"]
    changes = server_changes(running, report.config)
    assert (changes.added, changes.removed, changes.reconnected) == (("c",), ("b",), ("a",))


def test_only_live_keys_of_a_server_keep_its_connection() -> None:
    def change(data: dict[str, Any]) -> None:
        data["servers"][0]["description"] = "A"
        data["servers"][1]["policies"] = ["staff"]

    running, report = plan(change)
    assert server_changes(running, report.config) == ServerChanges()


def test_a_new_secret_given_through_the_admin_api_alone_reconnects_the_server() -> None:
    running = Config.from_dict(base())
    rotated = StoredCredentials(client_secret="rotated")
    servers = [s.with_stored_credentials(rotated) if s.id == "b" else s for s in running.servers]
    new = running.model_copy(update={"servers": servers})
    assert server_changes(running, new).reconnected == ("b",)
    assert server_changes(new, new) == ServerChanges()


def test_turning_identity_off_needs_a_restart() -> None:
    def change(data: dict[str, Any]) -> None:
        del data["identity"]  # it stays on until a restart
        data["policies"][1] = {"id": "ops", "decision": "allow", "include": [{"service": "x"}]}

    running, report = plan(change)
    assert report.needs_restart == ("identity (removed)",)
    assert report.config.identity == running.identity


def test_a_config_whose_references_do_not_hold_is_refused() -> None:
    """A config built in code (not loaded, so not cross-checked) that drops a server a
    portal still lists."""
    running = Config.from_dict(base())
    broken = running.model_copy(update={"servers": running.servers[:1]})
    with pytest.raises(ConfigError) as caught:
        plan_reload(running, broken)
    assert "no server with id 'b'" in str(caught.value)
