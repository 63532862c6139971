"""DLP profiles on their own: config checks, how portal and server settings combine, redaction,
and bad input (catastrophic patterns, deep nesting, huge arguments) staying bounded."""

from __future__ import annotations

import secrets
import sqlite3
import string
import tomllib
from pathlib import Path
from typing import Any

import pytest

from engine import Config, Gateway
from engine.config import ConfigError
from engine.dlp import MAX_DEPTH, MAX_SCAN_CHARS, DlpPolicy, Rules
from engine.reload import plan_reload
from engine.requestlog import DlpEntry, RequestRecord, SqliteRequestLog

_ALNUM = string.ascii_letters + string.digits
SLACK_TOKEN = "xoxb-" + "".join(secrets.choice(string.digits) for _ in range(12)) + "-abc123def"
STRIPE_KEY = "sk_live_" + "".join(secrets.choice(_ALNUM) for _ in range(24))
IBAN = "GB82 WEST 1234 5698 7654 32"
"""The IBAN registry's example (valid checksum; no such account)."""


def config(
    server: dict[str, Any] | None = None,
    portal: dict[str, Any] | None = None,
    custom: list[dict[str, Any]] | None = None,
) -> Config:
    return Config.from_dict(
        {
            "servers": [{"id": "s", "url": "http://127.0.0.1:9/mcp", **(server or {})}],
            "portals": [{"id": "p", "servers": [{"server_id": "s"}], **(portal or {})}],
            "dlp_custom_profiles": custom or [],
        }
    )


def rules(**kwargs: Any) -> Rules:
    return DlpPolicy(config(**kwargs)).rules("p", "s")


def check(r: Rules, value: Any) -> Any:
    return r.check(value, r.arguments, "", "the arguments")


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        Config.from_dict(data)
    return {p.path: p.message for p in info.value.problems}


def test_unknown_profile_id_names_the_key() -> None:
    found = problems(
        {
            "servers": [{"id": "s", "url": "http://x/mcp", "dlp_profiles": ["credentials"]}],
            "portals": [{"id": "p", "dlp_profiles": ["financial_information", "nope"]}],
        }
    )
    assert "no DLP profile 'credentials'" in found["servers[0].dlp_profiles[0]"]
    assert "no DLP profile 'nope'" in found["portals[0].dlp_profiles[1]"]


def test_custom_profile_mistakes_name_the_key() -> None:
    found = problems(
        {
            "dlp_custom_profiles": [
                {"id": "a", "patterns": ["(unclosed"]},
                {"id": "b", "patterns": ["x*"]},
                {"id": "credentials_and_secrets", "keywords": ["k"]},
                {"id": "d"},
                {"id": "a", "keywords": ["again"]},
            ],
            "servers": [{"id": "s", "url": "http://x/mcp", "dlp_action": "drop"}],
        }
    )
    assert "not a valid regular expression" in found["dlp_custom_profiles[0].patterns[0]"]
    assert "empty string" in found["dlp_custom_profiles[1].patterns[0]"]
    assert "predefined" in found["dlp_custom_profiles[2].id"]
    assert "patterns, keywords" in found["dlp_custom_profiles[3]"]
    assert "duplicate profile id 'a'" in found["dlp_custom_profiles[4].id"]
    assert "servers[0].dlp_action" in found


def test_portal_profiles_add_to_the_servers_and_the_stricter_action_wins() -> None:
    r = rules(
        server={"dlp_profiles": ["credentials_and_secrets"], "dlp_action": "log"},
        portal={
            "dlp_profiles": ["credentials_and_secrets", "financial_information"],
            "dlp_action": "redact",
            "dlp_scan_results": True,
        },
    )
    assert r.arguments == {"credentials_and_secrets": "redact", "financial_information": "redact"}
    assert r.results == r.arguments
    assert rules(server={"dlp_profiles": ["financial_information"]}).results == {}


def test_redact_replaces_only_the_match_in_values_keys_and_numbers() -> None:
    r = rules(
        portal={
            "dlp_profiles": ["credentials_and_secrets", "financial_information"],
            "dlp_action": "redact",
        }
    )
    verdict = check(
        r,
        {
            "text": f"slack {SLACK_TOKEN} and stripe {STRIPE_KEY}, pay to {IBAN}.",
            STRIPE_KEY: "a key as a key",
            "amount": 4111111111111111,
            "list": ["plain", "words"],
        },
    )
    assert verdict.blocked is None
    assert verdict.value == {
        "text": "slack [REDACTED:credentials_and_secrets] and stripe "
        "[REDACTED:credentials_and_secrets], pay to [REDACTED:financial_information].",
        "[REDACTED:credentials_and_secrets]": "a key as a key",
        "amount": "[REDACTED:financial_information]",
        "list": ["plain", "words"],
    }
    paths = {(f.profile, f.path) for f in verdict.findings}
    assert paths == {
        ("credentials_and_secrets", "text"),
        ("financial_information", "text"),
        ("credentials_and_secrets", "<key>"),
        ("financial_information", "amount"),
    }


def test_block_names_profile_and_path_never_the_text() -> None:
    r = rules(server={"dlp_profiles": ["credentials_and_secrets"]})
    verdict = check(r, {"issue": {"body": f"use {STRIPE_KEY}"}, "n": [1, {"x": SLACK_TOKEN}]})
    assert verdict.blocked is not None
    assert "credentials_and_secrets at issue.body" in verdict.blocked
    assert "credentials_and_secrets at n[1].x" in verdict.blocked
    assert STRIPE_KEY not in verdict.blocked and SLACK_TOKEN not in verdict.blocked


def test_catastrophic_custom_pattern_fails_closed() -> None:
    r = rules(
        custom=[{"id": "slow", "patterns": [r"(a|aa)+$"]}],
        portal={"dlp_profiles": ["slow"], "dlp_action": "redact"},
    )
    evil = "a" * 5000 + "!"
    verdict = check(r, {"x": evil, "y": "fine"})
    # Out of time: the string counts as matched in full (redacted whole), never as clean.
    assert verdict.value["x"] == "[REDACTED:slow]"
    assert ("slow", "x") in {(f.profile, f.path) for f in verdict.findings}


def nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": [value]}
    return value


@pytest.mark.parametrize("action", ["block", "redact"])
def test_too_deep_or_too_big_is_refused_when_blocking_or_redacting(action: str) -> None:
    r = rules(portal={"dlp_profiles": ["credentials_and_secrets"], "dlp_action": action})
    deep = check(r, nested(20_000, "x"))
    huge = check(r, {"blob": "x" * (MAX_SCAN_CHARS + 1)})
    many = check(r, {"items": ["y" * 1000] * (MAX_SCAN_CHARS // 1000 + 1)})
    for verdict in (deep, huge, many):
        assert verdict.blocked is not None and "could not be checked" in verdict.blocked
        assert f"{MAX_DEPTH} levels" in verdict.blocked


def test_too_big_is_sent_and_recorded_when_logging() -> None:
    r = rules(portal={"dlp_profiles": ["financial_information"], "dlp_action": "log"})
    value = nested(MAX_DEPTH + 5, "x")
    verdict = check(r, value)
    assert verdict.blocked is None and verdict.value is not None
    assert [f.action for f in verdict.findings] == ["log"]
    assert "unscanned" in verdict.findings[0].path


def test_secret_in_a_deep_but_allowed_level_is_found() -> None:
    r = rules(portal={"dlp_profiles": ["credentials_and_secrets"]})
    verdict = check(r, nested(MAX_DEPTH // 2 - 1, STRIPE_KEY))
    assert verdict.blocked is not None and "credentials_and_secrets at a[0]" in verdict.blocked


def test_dlp_settings_apply_on_reload() -> None:
    running = config()
    new = config(
        server={"dlp_profiles": ["x"], "dlp_action": "redact"},
        custom=[{"id": "x", "keywords": ["bluebird"]}],
    )
    report = plan_reload(running, new)
    assert "servers[s].dlp_profiles" in report.applied
    assert "dlp_custom_profiles[x] (added)" in report.applied
    assert not report.needs_restart
    assert DlpPolicy(report.config).rules("p", "s").arguments == {"x": "redact"}


@pytest.mark.anyio
async def test_gateway_reload_swaps_the_policy() -> None:
    running = config(server={"connect_timeout_s": 2})
    async with Gateway(running) as gateway:
        assert gateway.calls.dlp.rules("p", "s").arguments == {}
        gateway.reload(
            config(
                server={"connect_timeout_s": 2, "dlp_profiles": ["x"]},
                custom=[{"id": "x", "keywords": ["bluebird"]}],
            )
        )
        assert gateway.calls.dlp.rules("p", "s").arguments == {"x": "block"}


def test_a_request_log_from_before_dlp_gets_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE requests (id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL,"
        " portal TEXT NOT NULL, user TEXT, kind TEXT NOT NULL, status TEXT NOT NULL,"
        " server TEXT, capability TEXT NOT NULL, duration_ms REAL NOT NULL,"
        " request_bytes INTEGER NOT NULL, response_bytes INTEGER NOT NULL, error TEXT)"
    )
    old.execute(
        "INSERT INTO requests (time, portal, kind, status, capability, duration_ms,"
        " request_bytes, response_bytes) VALUES (1, 'p', 'tool_call', 'ok', 't', 1, 0, 0)"
    )
    old.commit()
    old.close()
    with SqliteRequestLog(path) as log:
        entry = DlpEntry("credentials_and_secrets", "issue.body", "block")
        log.record(RequestRecord("p", "tool_call", "error", "t", 1.0, dlp=(entry,)))
        newest, oldest = log.query()
    assert newest.dlp == (entry,) and oldest.dlp == ()


def test_assignment_detectors_match_whatever_the_case() -> None:
    # Their patterns run without IGNORECASE on lower-cased text: the same matches.
    r = rules(portal={"dlp_profiles": ["credentials_and_secrets"], "dlp_action": "redact"})
    iam = "".join(secrets.choice(_ALNUM) for _ in range(44))
    hexkey = "".join(secrets.choice("0123456789abcdef") for _ in range(64))
    value = {
        "a": f'IBM_CLOUD_IAM_KEY = "{iam}"',
        "b": f"Cloudant_Password: {hexkey}",
        "c": f"unicode café then ibm_cloud_iam_key = '{iam}'",
    }
    verdict = check(r, value)
    assert {f.path for f in verdict.findings} == {"a", "b", "c"}
    assert iam not in str(verdict.value) and hexkey not in str(verdict.value)


def test_the_readme_example_loads_and_applies() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    section = readme[readme.index("### Data-loss prevention (DLP)") :]
    start = section.index("```toml\n") + len("```toml\n")
    example = tomllib.loads(section[start : section.index("```", start)])
    policy = DlpPolicy(Config.from_dict(example))
    r = policy.rules("team", "github")
    assert r.arguments == {
        "credentials_and_secrets": "block",
        "financial_information": "redact",
        "project_names": "redact",
    }
    assert r.results == {"financial_information": "redact", "project_names": "redact"}
    verdict = check(r, {"title": "PROJ-1234: the bluebird launch"})
    assert verdict.value == {
        "title": "[REDACTED:project_names]: the [REDACTED:project_names] launch"
    }


def test_the_admin_api_log_entry_carries_the_findings() -> None:
    from engine.server.admin_models import log_entry_out

    entry = DlpEntry("credentials_and_secrets", "issue.body", "block")
    record = RequestRecord("p", "tool_call", "error", "t", 1.0, dlp=(entry,))
    shown = log_entry_out(record).model_dump(mode="json")
    assert shown["dlp"] == [
        {"profile": "credentials_and_secrets", "path": "issue.body", "action": "block"}
    ]
