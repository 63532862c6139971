"""Policy evaluation and portal access, table-driven: every selector for every kind of
caller, include/exclude/require, block over allow, and the portal/server rules with and
without `[identity]`."""

from __future__ import annotations

from typing import Any

import pytest

from engine.auth import (
    ANONYMOUS,
    NO_ALLOWED_SERVERS,
    Principal,
    decide,
    portal_access,
    selector_matches,
)
from engine.config import Config, PolicyConfig, Selector

ANA = Principal.person("Ana@Example.com", ["engineering", "contractors"])
BOB = Principal.person("bob@example.com", ["sales"])
MALLORY = Principal.person("mallory@example.com", ["engineering"])
EVE = Principal.person("eve@evil.test", ["contractors", "engineering"])
SUB = Principal.person("zed@eng.example.com", ["engineering"])
CI = Principal.for_service("ci")
UNNAMED = Principal.for_service("key:1a2b3c4d")


def sel(**kw: Any) -> Selector:
    return Selector.model_validate(kw)


def policy(pid: str, decision: str = "allow", **rules: list[dict[str, Any]]) -> PolicyConfig:
    return PolicyConfig.model_validate({"id": pid, "decision": decision, **rules})


SELECTOR_TABLE = [
    # selector,                          caller,     matches
    ({"email": "ana@example.com"}, ANA, True),  # case-insensitive
    ({"email": "ana@example.com"}, BOB, False),
    ({"email": "ana@example.com"}, CI, False),
    ({"email": "ana@example.com"}, ANONYMOUS, False),
    ({"email_domain": "EXAMPLE.com"}, ANA, True),
    ({"email_domain": "example.com"}, EVE, False),
    ({"email_domain": "example.com"}, SUB, False),  # subdomains are not included
    ({"email_domain": "example.com"}, CI, False),
    ({"group": "engineering"}, ANA, True),
    ({"group": "Engineering"}, ANA, False),  # groups are exact
    ({"group": "engineering"}, BOB, False),
    ({"group": "engineering"}, CI, False),
    ({"everyone": True}, ANA, True),
    ({"everyone": True}, CI, True),
    ({"everyone": True}, ANONYMOUS, False),  # anonymous matches nothing
    ({"service": "ci"}, CI, True),
    ({"service": "CI"}, CI, False),
    ({"service": "ci"}, ANA, False),
    ({"service": "key:1a2b3c4d"}, UNNAMED, True),
    ({"service": "ci"}, ANONYMOUS, False),
]


@pytest.mark.parametrize(("rule", "caller", "expected"), SELECTOR_TABLE)
def test_selector(rule: dict[str, Any], caller: Principal, expected: bool) -> None:
    assert selector_matches(sel(**rule), caller) is expected


STAFF = policy(
    "staff",
    include=[{"email_domain": "example.com"}, {"group": "contractors"}],
    exclude=[{"email": "mallory@example.com"}],
    require=[{"group": "engineering"}],
)
BLOCK_BOB = policy("no-bob", "block", include=[{"email": "bob@example.com"}])
BLOCK_ENG = policy("no-eng", "block", include=[{"group": "engineering"}])
EVERYONE = policy("everyone", include=[{"everyone": True}])
CI_ONLY = policy("ci", include=[{"service": "ci"}])
BLOCK_CI = policy("no-ci", "block", include=[{"service": "ci"}])

DECISION_TABLE = [
    # policies,                   caller,    allowed, deciding policy
    ([STAFF], ANA, True, "staff"),  # included by domain, required group present
    ([STAFF], EVE, True, "staff"),  # included by group (any of), not by domain
    ([STAFF], MALLORY, False, None),  # excluded
    ([STAFF], BOB, False, None),  # required group missing
    ([STAFF], SUB, False, None),  # neither include matches
    ([STAFF], CI, False, None),  # a service is no person
    ([STAFF, BLOCK_ENG], ANA, False, "no-eng"),  # block wins over allow
    ([BLOCK_ENG, STAFF], ANA, False, "no-eng"),  # whatever the order
    ([EVERYONE, BLOCK_BOB], BOB, False, "no-bob"),
    ([EVERYONE, BLOCK_BOB], ANA, True, "everyone"),
    ([BLOCK_BOB], ANA, False, None),  # a block alone allows nobody
    ([], ANA, False, None),  # no matching allow: no access
    ([CI_ONLY], CI, True, "ci"),
    ([CI_ONLY], UNNAMED, False, None),
    ([EVERYONE, BLOCK_CI], CI, False, "no-ci"),
    ([EVERYONE], ANONYMOUS, False, None),
]


@pytest.mark.parametrize(("policies", "caller", "allowed", "deciding"), DECISION_TABLE)
def test_decision(
    policies: list[PolicyConfig], caller: Principal, allowed: bool, deciding: str | None
) -> None:
    decision = decide(policies, caller)
    assert (decision.allowed, decision.policy) == (allowed, deciding)


def config(*, identity: bool, portal: list[str], servers: dict[str, list[str]]) -> Config:
    data: dict[str, Any] = {
        "policies": [
            {"id": "ci", "decision": "allow", "include": [{"service": "ci"}]},
            {"id": "bot", "decision": "allow", "include": [{"service": "bot"}]},
            {"id": "keys", "decision": "allow", "include": [{"everyone": True}]},
            {"id": "no-bot", "decision": "block", "include": [{"service": "bot"}]},
        ],
        "servers": [{"id": sid, "command": "x", "policies": ids} for sid, ids in servers.items()],
        "portals": [
            {"id": "p", "policies": portal, "servers": [{"server_id": s} for s in servers]}
        ],
    }
    if identity:
        data["identity"] = {"provider": "dev"}
    return Config.from_dict(data)


BOT = Principal.for_service("bot")

ACCESS_TABLE = [
    # identity, portal policies, server policies, caller, enters, visible servers
    (False, [], {"a": [], "b": []}, ANONYMOUS, True, ("a", "b")),  # today's behaviour
    (False, [], {"a": [], "b": []}, CI, True, ("a", "b")),
    (False, ["ci"], {"a": [], "b": []}, CI, True, ("a", "b")),
    (False, ["ci"], {"a": [], "b": []}, BOT, False, ()),
    (False, ["ci"], {"a": [], "b": []}, ANONYMOUS, False, ()),
    (False, [], {"a": ["ci"], "b": []}, BOT, True, ("b",)),  # a server hidden from one key
    (False, [], {"a": ["ci"], "b": []}, CI, True, ("a", "b")),  # ... visible to another
    (False, [], {"a": ["ci"], "b": []}, ANONYMOUS, True, ("b",)),
    (False, ["keys"], {"a": ["ci"], "b": ["ci"]}, BOT, True, ()),  # in, but no server
    (False, ["keys", "no-bot"], {"a": []}, BOT, False, ()),  # block wins
    (True, [], {"a": [], "b": []}, CI, False, ()),  # [identity]: no policies, nobody
    (True, [], {"a": [], "b": []}, ANONYMOUS, False, ()),
    (True, ["keys"], {"a": [], "b": ["ci"]}, CI, True, ("b",)),  # server without: hidden
    (True, ["keys"], {"a": ["keys"], "b": ["ci"]}, BOT, True, ("a",)),
    (True, ["keys"], {"a": ["keys", "no-bot"], "b": ["ci"]}, BOT, True, ()),
    (True, ["ci", "bot"], {"a": ["ci"], "b": ["bot"]}, BOT, True, ("b",)),
    (True, ["keys"], {"a": ["keys"]}, ANONYMOUS, False, ()),
]


@pytest.mark.parametrize(
    ("identity", "portal", "servers", "caller", "enters", "visible"), ACCESS_TABLE
)
def test_portal_access(
    identity: bool,
    portal: list[str],
    servers: dict[str, list[str]],
    caller: Principal,
    enters: bool,
    visible: tuple[str, ...],
) -> None:
    cfg = config(identity=identity, portal=portal, servers=servers)
    access = portal_access(cfg, cfg.portals[0], caller)
    assert (access.allowed, access.servers) == (enters, visible)
    assert (access.refusal() is None) == bool(visible)


def test_no_allowed_servers_names_policy_ids_not_servers() -> None:
    cfg = config(identity=True, portal=["keys"], servers={"secret-a": ["ci"], "secret-b": []})
    refusal = portal_access(cfg, cfg.portals[0], BOT).refusal()
    assert refusal == (
        f"{NO_ALLOWED_SERVERS} (portal policies: keys; server policies: ci; 1 server has none)"
    )
    assert "secret" not in refusal


def test_refused_entry_says_who_and_why() -> None:
    cfg = config(identity=False, portal=["keys", "no-bot"], servers={"a": []})
    refusal = portal_access(cfg, cfg.portals[0], BOT).refusal()
    assert refusal == "API key 'bot' may not use portal 'p': blocked by policy 'no-bot'"
    refusal = portal_access(cfg, cfg.portals[0], ANONYMOUS).refusal()
    assert refusal is not None and refusal.startswith("an anonymous caller may not use")
    cfg = config(identity=True, portal=[], servers={"a": []})
    refusal = portal_access(cfg, cfg.portals[0], CI).refusal()
    assert refusal is not None and "no policies" in refusal and "[identity]" in refusal


def test_principal_user_is_what_the_request_log_shows() -> None:
    assert (ANA.user, CI.user, ANONYMOUS.user) == ("Ana@Example.com", "ci", None)
    with pytest.raises(ValueError):
        Principal.person("")
    with pytest.raises(ValueError):
        Principal.for_service("")


def test_check_config_warnings(tmp_path: Any) -> None:
    import io

    from engine.cli.commands import check_config

    path = tmp_path / "portal.toml"
    path.write_text(
        """
[identity]
provider = "dev"

[[policies]]
id = "staff"
decision = "allow"
include = [{ email_domain = "example.com" }]

[[policies]]
id = "unused"
decision = "block"
include = [{ everyone = true }]

[[servers]]
id = "open"
command = "mcp-server-time"

[[servers]]
id = "guarded"
command = "mcp-server-time"
policies = ["staff"]

[[portals]]
id = "team"
policies = ["staff"]
servers = [{ server_id = "open" }, { server_id = "guarded" }]

[[portals]]
id = "bare"
"""
    )
    out = io.StringIO()
    assert check_config(str(path), out) == 0
    text = out.getvalue()
    assert (
        "servers[0].policies: server 'open' has no policies: with [identity] set it is "
        "visible to nobody" in text
    )
    assert "portals[1].policies: portal 'bare' has no policies" in text
    assert "policies[1]: policy 'unused' is used by no portal or server" in text
    assert "portal 'team'" not in text and "server 'guarded'" not in text


def test_check_config_warns_of_policies_no_caller_can_match(tmp_path: Any) -> None:
    from engine.auth import policy_warnings

    cfg = config(identity=False, portal=["ci"], servers={"a": []})
    [warning] = [w for w in policy_warnings(cfg) if w.path.startswith("portals")]
    assert warning.path == "portals[0].policies" and "no api_keys" in warning.message
