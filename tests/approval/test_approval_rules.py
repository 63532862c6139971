"""Which tools ask (config levels add up), the config's checks, and the question's text
(bounded, DLP-redacted) without a server."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from mcp_types import Tool

from engine import Config, ConfigError
from engine.approval import MAX_SUMMARY_CHARS, summary
from engine.curation import curate_portal

TOOLS = [Tool(name=n, input_schema={"type": "object"}) for n in ("read", "delete", "send")]


def _asking(server: dict[str, Any], ref: dict[str, Any]) -> set[str]:
    config = Config.from_dict(
        {
            "servers": [{"id": "s", "url": "http://127.0.0.1:9/mcp", **server}],
            "portals": [{"id": "p", "servers": [{"server_id": "s", **ref}]}],
            "settings": {"request_log_path": ":memory:"},
        }
    )
    curation = curate_portal(config, config.portals[0], {"s": TOOLS})
    return {t.upstream_name for t in curation.tools if t.require_approval}


def test_nothing_asks_by_default() -> None:
    assert _asking({}, {}) == set()


def test_per_tool_at_either_level() -> None:
    server_level = {"updated_tools": [{"name": "delete", "require_approval": True}]}
    portal_level = {"updated_tools": [{"name": "send", "require_approval": True}]}
    assert _asking(server_level, {}) == {"delete"}
    assert _asking({}, portal_level) == {"send"}
    assert _asking(server_level, portal_level) == {"delete", "send"}


def test_per_server_and_per_portal_server_entry() -> None:
    assert _asking({"require_approval": True}, {}) == {"read", "delete", "send"}
    assert _asking({}, {"require_approval": True}) == {"read", "delete", "send"}


def test_a_portal_cannot_waive_what_the_server_demands() -> None:
    server_level = {"updated_tools": [{"name": "delete", "require_approval": True}]}
    waived = {"updated_tools": [{"name": "delete", "require_approval": False}]}
    assert _asking(server_level, waived) == {"delete"}


@pytest.mark.parametrize(
    "bad",
    [
        {"servers": [{"id": "s", "url": "http://x/mcp", "require_approval": "yes please"}]},
        {"settings": {"approval_timeout_s": 0}},
        {
            "servers": [
                {
                    "id": "s",
                    "url": "http://x/mcp",
                    "updated_tools": [{"name": "t", "require_aproval": True}],
                }
            ]
        },
    ],
)
def test_config_mistakes_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Config.from_dict({"settings": {"request_log_path": ":memory:"}, **bad})


def test_the_summary_is_bounded_and_readable() -> None:
    huge = {"body": "x" * 100_000, "to": "ana@example.com", "n": 3, "tags": ["a", "b"]}
    text = summary(huge)
    assert len(text) <= MAX_SUMMARY_CHARS + 40
    assert text.startswith("body: xxx") and "more characters" in text
    assert "to: ana@example.com" in text and "n: 3" in text and 'tags: ["a", "b"]' in text
    assert summary({}) == "(none)"


def test_the_readme_example_loads_and_asks_where_it_says() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    (block,) = [b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "approval" in b]
    config = Config.from_dict(tomllib.loads(block))
    assert config.settings.approval_timeout_s == 120
    (ref,) = config.portals[0].servers
    assert ref.require_approval and ref.updated_tools[0].require_approval
    assert config.server("github").updated_tools[0].require_approval
