"""The `[identity]`, `[[policies]]`, `policies = [...]` and named API key parts of the
config: the issue's TOML is valid as written, every mistake names its key path, and every
existing form of `api_keys` keeps working."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from engine.config import ApiKey, Config, ConfigError
from engine.credentials import CredentialError, api_key_hashes, api_key_names, hash_api_key

ISSUE_TOML = """
[identity]
issuer = "https://login.example.com"
client_id = "codemode"
client_secret_env = "CODEMODE_OIDC_SECRET"
scopes = ["openid", "email", "profile"]
groups_claim = "groups"

[[policies]]
id = "staff"
decision = "allow"
include = [{ email_domain = "example.com" }, { group = "contractors" }]
exclude = [{ email = "mallory@example.com" }]
require = [{ group = "engineering" }]

[[servers]]
id = "github"
command = "mcp-server-github"
policies = ["staff"]

[[portals]]
id = "team"
policies = ["staff"]
[[portals.servers]]
server_id = "github"
"""


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        Config.from_dict(data)
    return {p.path: p.message for p in caught.value.problems}


def test_the_issues_toml_is_valid() -> None:
    config = Config.from_dict(tomllib.loads(ISSUE_TOML))
    assert config.identity is not None
    assert config.identity.scopes == ["openid", "email", "profile"]
    assert config.policy("staff").require[0].group == "engineering"
    assert config.portals[0].policies == ["staff"] == config.servers[0].policies


def test_identity_defaults_and_absence() -> None:
    assert Config.from_dict({}).identity is None
    identity = Config.from_dict({"identity": {"provider": "dev"}}).identity
    assert identity is not None
    assert (identity.scopes, identity.groups_claim) == (["openid", "email", "profile"], "groups")


@pytest.mark.parametrize(
    ("identity", "path", "says"),
    [
        ({"client_id": "c", "client_secret_env": "S"}, "identity.issuer", "required"),
        ({"issuer": "https://i", "client_secret_env": "S"}, "identity.client_id", "required"),
        ({"issuer": "https://i", "client_id": "c"}, "identity", "neither is set"),
        (
            {
                "issuer": "https://i",
                "client_id": "c",
                "client_secret_env": "S",
                "client_secret_file": "f",
            },
            "identity",
            "both are set",
        ),
        (
            {"issuer": "https://i", "client_id": "c", "client_secret_env": "s3cr3t-value!"},
            "identity.client_secret_env",
            "NAME of an environment variable",
        ),
        (
            {"issuer": "http://login.example.com", "client_id": "c", "client_secret_env": "S"},
            "identity.issuer",
            "https",
        ),
        ({"provider": "dev", "issuer": "https://i"}, "identity.issuer", "remove it"),
        ({"provider": "okta"}, "identity.provider", "oidc"),
        ({"provider": "dev", "client_secret": "abcdefghijkl"}, "identity.client_secret", "secret"),
        (
            {
                "issuer": "https://i",
                "client_id": "c",
                "client_secret_env": "S",
                "scopes": ["email"],
            },
            "identity.scopes",
            "openid",
        ),
    ],
)
def test_identity_mistakes(identity: dict[str, Any], path: str, says: str) -> None:
    found = problems({"identity": identity})
    assert path in found and says in found[path], found


def test_http_issuer_on_loopback_and_secret_file_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(
        '[identity]\nissuer = "http://127.0.0.1:9000"\nclient_id = "c"\n'
        'client_secret_file = "oidc.secret"\n'
    )
    identity = Config.load(tmp_path / "c.toml").identity
    assert identity is not None and identity.client_secret_file == str(tmp_path / "oidc.secret")


@pytest.mark.parametrize(
    ("selector", "says"),
    [
        ({}, "this one has none"),
        ({"email": "a@b.c", "group": "g"}, "this one has email and group"),
        ({"everyone": False}, "can only be true"),
        ({"email": "ana"}, "email address"),
        ({"email_domain": "@example.com"}, "domain"),
        ({"user": "ana"}, "unknown key"),
    ],
)
def test_selector_mistakes(selector: dict[str, Any], says: str) -> None:
    data = {
        "policies": [{"id": "p", "decision": "allow", "include": [{"everyone": True}, selector]}]
    }
    found = problems(data)
    hits = [m for p, m in found.items() if p.startswith("policies[0].include[1]")]
    assert hits and says in hits[0], found


def test_policy_mistakes() -> None:
    found = problems(
        {
            "policies": [
                {"id": "a", "decision": "maybe", "include": [{"everyone": True}]},
                {"id": "b", "decision": "allow", "include": []},
                {"id": "a", "decision": "block", "include": [{"everyone": True}]},
            ],
            "servers": [{"id": "s", "command": "x", "policies": ["b", "nope"]}],
            "portals": [
                {"id": "p", "policies": ["a", "a", "typo"], "servers": [{"server_id": "s"}]}
            ],
        }
    )
    assert "allow" in found["policies[0].decision"]
    assert "at least one selector" in found["policies[1].include"]
    assert "duplicate policy id 'a'" in found["policies[2].id"]
    assert (
        found["servers[0].policies[1]"] == "no policy with id 'nope' in [[policies]] (known: a, b)"
    )
    assert "listed twice" in found["portals[0].policies[1]"]
    assert "no policy with id 'typo'" in found["portals[0].policies[2]"]


H1, H2, H3 = (hash_api_key(k) for k in ("k1", "k2", "k3"))


def test_api_keys_plain_and_named_mix() -> None:
    config = Config.from_dict(
        {"portals": [{"id": "p", "api_keys": [H1, {"name": "ci", "sha256": H2}]}]}
    )
    portal = config.portals[0]
    assert portal.api_keys == [H1, ApiKey(name="ci", sha256=H2)]
    assert api_key_names(portal) == {H1: "key:" + H1[:8], H2: "ci"}
    assert api_key_hashes(portal) == {H1, H2}


@pytest.mark.parametrize(
    ("keys", "path", "says"),
    [
        (["plain-key"], "portals[0].api_keys[0]", "SHA-256 hex digest"),
        ([{"name": "ci", "sha256": "plain-key"}], "portals[0].api_keys[0].sha256", "digest"),
        ([{"name": "c i", "sha256": H1}], "portals[0].api_keys[0].name", "letters"),
        ([{"name": "key:x", "sha256": H1}], "portals[0].api_keys[0].name", "`:`"),
        ([{"sha256": H1}], "portals[0].api_keys[0].name", "required"),
        ([{"name": "ci", "sha256": H1, "key": "k"}], "portals[0].api_keys[0].key", "unknown"),
        ([7], "portals[0].api_keys[0]", "table"),
        ([H1, {"name": "ci", "sha256": H1}], "portals[0].api_keys[1]", "same key as api_keys[0]"),
    ],
)
def test_api_key_mistakes(keys: list[Any], path: str, says: str) -> None:
    found = problems({"portals": [{"id": "p", "api_keys": keys}]})
    assert path in found and says in found[path], found


def test_api_keys_file_names(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"# comment\n{H1}\n{H2} deploy-bot  # the deploy job\n\n{H3.upper()}\n")
    config = Config.from_dict(
        {
            "portals": [
                {"id": "p", "api_keys": [{"name": "ci", "sha256": H1}], "api_keys_file": str(keys)}
            ]
        }
    )
    assert api_key_names(config.portals[0]) == {H1: "ci", H2: "deploy-bot", H3: "key:" + H3[:8]}
    keys.write_text(f"{H1} two words\n")
    with pytest.raises(CredentialError, match="line 1: after the digest"):
        api_key_names(config.portals[0])
