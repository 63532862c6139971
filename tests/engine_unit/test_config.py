from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engine.config import (
    Config,
    ConfigError,
    PortalConfig,
    PortalServerRef,
    ServerConfig,
    ToolOverride,
    schema_text,
)
from engine.credentials import (
    CredentialError,
    api_key_hashes,
    hash_api_key,
    read_secret,
    resolve_env,
)
from engine.environment import state_dir
from sandbox.limits import Limits

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "engine" / "config.schema.json"

GOOD = """
[settings]
request_log_path = "logs/requests.sqlite3"
request_log_jsonl_path = "logs/requests.jsonl"

[settings.sandbox]
timeout_s = 12.5
output_cap_chars = 1000

[[servers]]
id = "time"
name = "Time"
command = "mcp-server-time"
args = ["--local-timezone", "UTC"]
env = { GITHUB_TOKEN = "${GH_TOKEN}", TOKENIZERS_PARALLELISM = "false" }
default_disabled = false
call_timeout_s = 90

[[servers.updated_tools]]
name = "convert_time"
enabled = false

[[servers]]
id = "docs"
url = "https://docs.example.com/mcp"
auth_type = "bearer"
bearer_token_file = "secrets/docs.token"

[[portals]]
id = "main"
name = "Main portal"
hostname = "mcp.example.com"
description = "Everything"
api_keys_file = "keys.txt"

[[portals.servers]]
server_id = "time"

[[portals.servers.updated_tools]]
name = "get_current_time"
portal_alias = "now"
portal_description = "What time is it?"

[[portals.servers]]
server_id = "docs"
default_disabled = true

[[portals]]
id = "lite"
allow_code_mode = false
"""


def write(tmp_path: Path, text: str, name: str = "portal.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {p.path: p.message for p in exc.value.problems}


def load_errors(tmp_path: Path, text: str) -> tuple[dict[str, str], str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        Config.load(path)
    return problems(exc), str(exc.value)


def test_good_config_loads_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = Config.load(write(tmp_path, GOOD))
    assert [s.id for s in config.servers] == ["time", "docs"]
    time = config.server("time")
    assert time.call_timeout_s == 90
    assert time.updated_tools == [ToolOverride(name="convert_time", enabled=False)]
    assert config.server("docs").bearer_token_file == str(tmp_path / "secrets/docs.token")
    main = config.portal("main")
    assert main.allow_code_mode is True and config.portal("lite").allow_code_mode is False
    assert main.requires_api_key and not config.portal("lite").requires_api_key
    assert main.api_keys_file == str(tmp_path / "keys.txt")
    refs = config.portal_servers(main)
    assert [(r.server_id, s.id) for r, s in refs] == [("time", "time"), ("docs", "docs")]
    assert refs[0][0].updated_tools[0].portal_alias == "now"
    assert refs[1][0].default_disabled is True
    assert config.settings.request_log_path == str(tmp_path / "logs/requests.sqlite3")
    assert config.settings.sandbox.output_cap_chars == 1000
    limits = config.settings.sandbox.to_limits()
    assert isinstance(limits, Limits) and limits.timeout_s == 12.5


def test_defaults() -> None:
    config = Config()
    assert config.settings.request_log_path == str(state_dir() / "codemode-logs.sqlite3")
    assert config.settings.sandbox.output_cap_chars == 24_000
    server = ServerConfig(id="s", url="http://127.0.0.1:1/mcp")
    assert server.call_timeout_s == 60 and server.sync_interval_s == 24 * 3600
    assert server.auth_type == "unauthenticated" and not server.default_disabled


def test_models_build_from_python_and_validate() -> None:
    config = Config(
        servers=[ServerConfig(id="time", command="mcp-server-time")],
        portals=[PortalConfig(id="p", servers=[PortalServerRef(server_id="time")])],
    )
    assert config.portal("p").servers[0].server_id == "time"
    with pytest.raises(ValidationError, match="exactly one of url"):
        ServerConfig(id="x")
    with pytest.raises(ValidationError, match="no server with id 'nope'"):
        Config(portals=[PortalConfig(id="p", servers=[PortalServerRef(server_id="nope")])])


def test_from_dict_round_trips_a_dump() -> None:
    config = Config.from_dict(
        {"servers": [{"id": "a", "url": "https://a.example/mcp"}], "portals": [{"id": "p"}]}
    )
    assert Config.from_dict(config.model_dump()) == config


def test_unknown_keys_name_their_full_path_and_the_file(tmp_path: Path) -> None:
    text = """
[[servers]]
id = "s"
command = "x"
[[portals]]
id = "p"
[[portals.servers]]
server_id = "s"
[[portals.servers]]
server_id = "s2"
[[portals.servers.updated_tools]]
name = "t"
alias = "nope"
[settings.sandbox]
time_limit = 3
"""
    text = text.replace('server_id = "s2"', 'server_id = "s"\nextra = 1')
    found, rendered = load_errors(tmp_path, text)
    assert found["portals[0].servers[1].updated_tools[0].alias"] == "unknown key"
    assert found["portals[0].servers[1].extra"] == "unknown key"
    assert found["settings.sandbox.time_limit"] == "unknown key"
    path = tmp_path / "portal.toml"
    assert f"{path}: portals[0].servers[1].updated_tools[0].alias: unknown key" in rendered


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = """
[[servers]]
id = "a"
url = "https://a.example/mcp"
call_timeout_s = -1
[[servers]]
id = "a"
command = "x"
[[servers]]
id = "both"
url = "https://b.example/mcp"
command = "x"
[[servers]]
id = "neither"
[[servers]]
id = "this id is far too long and has spaces in it"
command = "x"
[[portals]]
id = "p1"
hostname = "mcp.example.com"
[[portals.servers]]
server_id = "missing"
[[portals.servers]]
server_id = "a"
[[portals.servers]]
server_id = "a"
[[portals]]
id = "p1"
hostname = "MCP.example.com"
[[portals]]
id = "p3"
hostname = "https://mcp.example.com/mcp"
"""
    found, _ = load_errors(tmp_path, text)
    assert "greater than 0" in found["servers[0].call_timeout_s"]
    assert found["servers[1].id"] == "duplicate server id 'a' (first at servers[0])"
    assert "exactly one of url" in found["servers[2]"] and "both are set" in found["servers[2]"]
    assert "neither is set" in found["servers[3]"]
    assert "servers[4].id" in found
    assert found["portals[0].servers[0].server_id"].startswith("no server with id 'missing'")
    assert "already in this portal" in found["portals[0].servers[2].server_id"]
    assert found["portals[1].id"] == "duplicate portal id 'p1' (first at portals[0])"
    assert "duplicate hostname" in found["portals[1].hostname"]
    assert "no scheme" in found["portals[2].hostname"]


@pytest.mark.parametrize(
    ("server", "path", "fragment"),
    [
        ({"url": "https://x/mcp", "auth_type": "bearer"}, "auth_type", "exactly one of"),
        (
            {
                "url": "https://x/mcp",
                "auth_type": "bearer",
                "bearer_token_env": "A",
                "bearer_token_file": "f",
            },
            "auth_type",
            "exactly one of",
        ),
        ({"url": "https://x/mcp", "bearer_token_env": "A"}, "bearer_token_env", "needs auth_type"),
        ({"command": "x", "auth_type": "bearer", "bearer_token_env": "A"}, "auth_type", "stdio"),
        (
            {"url": "https://x/mcp", "auth_type": "bearer", "bearer_token_env": "sk-abc.def"},
            "bearer_token_env",
            "not the token itself",
        ),
        ({"url": "ftp://x/mcp"}, "url", "http:// or https://"),
        ({"url": "https://x/mcp", "args": ["-v"]}, "args", "stdio servers"),
        ({"url": "https://x/mcp", "auth_type": "magic"}, "auth_type", "'oauth'"),
    ],
)
def test_transport_and_auth_rules(server: dict[str, Any], path: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as exc:
        Config.from_dict({"servers": [{"id": "s", **server}]}, source="inline")
    found = problems(exc)
    assert fragment in found[f"servers[0].{path}" if path else "servers[0]"] or any(
        fragment in m for p, m in found.items() if p == "servers[0]"
    ), found
    assert str(exc.value).startswith("inline: servers[0]")


def test_oauth_is_accepted_for_url_servers() -> None:
    config = Config.from_dict(
        {"servers": [{"id": "s", "url": "https://x.example/mcp", "auth_type": "oauth"}]}
    )
    assert config.servers[0].auth_type == "oauth"


@pytest.mark.parametrize(
    ("server", "path"),
    [
        ({"command": "x", "token": "ghp_0123456789abcdef"}, "servers[0].token"),
        ({"command": "x", "api_key": "0123456789abcdef"}, "servers[0].api_key"),
        (
            {"command": "x", "env": {"GITHUB_TOKEN": "ghp_0123456789abcdef"}},
            "servers[0].env.GITHUB_TOKEN",
        ),
        ({"command": "x", "env": {"DB_PASSWORD": "hunter2hunter2"}}, "servers[0].env.DB_PASSWORD"),
        ({"command": "x", "args": ["--api-key=0123456789abcdef"]}, "servers[0].args[0]"),
        (
            {"command": "x", "env": {"openaiApiKey": "0123456789abcdef"}},
            "servers[0].env.openaiApiKey",
        ),
        ({"url": "https://u:p4ssw0rd@x.example/mcp"}, "servers[0].url"),
        ({"url": "https://x.example/mcp?access_token=0123456789ab"}, "servers[0].url"),
    ],
)
def test_embedded_secrets_are_rejected_with_a_pointer_to_references(
    server: dict[str, Any], path: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        Config.from_dict({"servers": [{"id": "s", **server}]})
    message = problems(exc)[path]
    assert "bearer_token_env" in message and "bearer_token_file" in message
    # The secret itself is never echoed back.
    for value in ("ghp_0123456789abcdef", "0123456789abcdef", "hunter2hunter2", "p4ssw0rd"):
        assert value not in str(exc.value)


def test_references_and_harmless_values_are_not_secrets() -> None:
    config = Config.from_dict(
        {
            "servers": [
                {
                    "id": "s",
                    "command": "x",
                    "env": {"GITHUB_TOKEN": "${GH}", "TOKENIZERS_PARALLELISM": "false"},
                    "args": ["--token-file=/run/secrets/t"],
                }
            ]
        }
    )
    assert config.servers[0].env["GITHUB_TOKEN"] == "${GH}"


def test_api_keys_must_be_hashes() -> None:
    with pytest.raises(ConfigError) as exc:
        Config.from_dict({"portals": [{"id": "p", "api_keys": [hash_api_key("k"), "plain"]}]})
    found = problems(exc)
    assert list(found) == ["portals[0].api_keys[1]"]
    assert "SHA-256" in found["portals[0].api_keys[1]"]


def test_api_key_hashes_from_config_and_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# team keys\n{hash_api_key('one')}\n\n{hash_api_key('two')}  # ci\n")
    portal = PortalConfig(id="p", api_keys=[hash_api_key("zero")], api_keys_file=str(keys))
    assert api_key_hashes(portal) == {hash_api_key(k) for k in ("zero", "one", "two")}
    keys.write_text("not-a-hash\n")
    with pytest.raises(CredentialError, match="line 1: not a SHA-256"):
        api_key_hashes(portal)


def test_toml_syntax_errors_name_the_file(tmp_path: Path) -> None:
    _, rendered = load_errors(tmp_path, "[[servers]\nid = 1\n")
    assert rendered.startswith(f"{tmp_path / 'portal.toml'}: invalid TOML")
    assert "line 1" in rendered
    with pytest.raises(ConfigError, match="cannot read"):
        Config.load(tmp_path / "absent.toml")


def test_wrong_types_point_at_the_key(tmp_path: Path) -> None:
    found, _ = load_errors(
        tmp_path,
        '[[servers]]\nid = "s"\ncommand = "x"\nargs = "not a list"\n'
        '[[servers.updated_tools]]\nname = "t"\nenabled = "maybe"\nportal_alias = "bad alias!"\n',
    )
    assert found["servers[0].args"].startswith("must be a list")
    assert "valid boolean" in found["servers[0].updated_tools[0].enabled"]
    assert "servers[0].updated_tools[0].portal_alias" in found


def test_duplicate_override_entries(tmp_path: Path) -> None:
    found, _ = load_errors(
        tmp_path,
        '[[servers]]\nid = "s"\ncommand = "x"\n'
        '[[servers.updated_tools]]\nname = "t"\n[[servers.updated_tools]]\nname = "t"\n',
    )
    assert found["servers[0].updated_tools[1].name"] == (
        "duplicate entry for 't' (first at updated_tools[0])"
    )


def test_missing_required_key(tmp_path: Path) -> None:
    found, _ = load_errors(tmp_path, '[[servers]]\ncommand = "x"\n')
    assert found["servers[0].id"] == "required key is missing"


# --------------------------------------------------------------------------- credentials


def bearer(**kw: str) -> ServerConfig:
    return ServerConfig.model_validate(
        {"id": "api", "url": "https://api.example/mcp", "auth_type": "bearer", **kw}
    )


def test_read_secret_from_env_and_file(tmp_path: Path) -> None:
    assert read_secret(bearer(bearer_token_env="TOK"), {"TOK": " s3cr3t-value\n"}) == (
        "s3cr3t-value"
    )
    token_file = tmp_path / "token"
    token_file.write_text("file-secret\n")
    assert read_secret(bearer(bearer_token_file=str(token_file))) == "file-secret"


@pytest.mark.parametrize(
    ("server_kw", "environ", "file_text", "fragment"),
    [
        (
            {"bearer_token_env": "TOK"},
            {},
            None,
            "environment variable TOK (bearer_token_env) is not set",
        ),
        ({"bearer_token_env": "TOK"}, {"TOK": "  "}, None, "is empty"),
        ({"bearer_token_env": "TOK"}, {"TOK": "two words-zq9"}, None, "whitespace"),
        ({"bearer_token_file": "FILE"}, {}, "", "is empty"),
        ({"bearer_token_file": "FILE"}, {}, "line1-zq9\nline2-zq9", "whitespace"),
        ({"bearer_token_file": "MISSING"}, {}, None, "does not exist"),
        ({"bearer_token_file": "DIR"}, {}, None, "cannot be read"),
    ],
)
def test_read_secret_errors_are_clear_and_never_contain_the_secret(
    tmp_path: Path,
    server_kw: dict[str, str],
    environ: dict[str, str],
    file_text: str | None,
    fragment: str,
) -> None:
    paths = {"FILE": tmp_path / "tok", "MISSING": tmp_path / "absent", "DIR": tmp_path}
    kw = {k: str(paths.get(v, v)) if k == "bearer_token_file" else v for k, v in server_kw.items()}
    if file_text is not None:
        paths["FILE"].write_text(file_text)
    with pytest.raises(CredentialError) as exc:
        read_secret(bearer(**kw), environ)
    message = str(exc.value)
    assert fragment in message
    assert "server 'api'" in message
    assert "zq9" not in message


def test_read_secret_on_a_server_without_bearer() -> None:
    with pytest.raises(CredentialError, match="has no bearer token"):
        read_secret(ServerConfig(id="s", command="x"))


def test_resolve_env_reads_references() -> None:
    server = ServerConfig(id="s", command="x", env={"A": "${HOST_A}", "B": "plain"})
    assert resolve_env(server, {"HOST_A": "value-a"}) == {"A": "value-a", "B": "plain"}
    with pytest.raises(CredentialError, match=r"env\.A refers to environment variable HOST_A"):
        resolve_env(server, {})


# --------------------------------------------------------------------------- schema


def test_committed_schema_is_in_sync() -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    assert committed == schema_text(), (
        "engine/config.schema.json is stale: run "
        "`python -m engine.config --schema > engine/config.schema.json`"
    )


def test_schema_command_prints_the_schema() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "engine.config", "--schema"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == schema_text()


def test_schema_accepts_a_good_config_and_rejects_unknown_keys(tmp_path: Path) -> None:
    import tomllib

    schema = json.loads(SCHEMA_FILE.read_text())
    data = tomllib.loads(GOOD)
    jsonschema.validate(data, schema)
    data["servers"][0]["colour"] = "blue"
    with pytest.raises(jsonschema.ValidationError, match="colour"):
        jsonschema.validate(data, schema)


def test_exported_admin_api_fields_get_specific_hints() -> None:
    # Shaped like a portal read back from the admin API.
    data = {
        "servers": [
            {
                "id": "docs",
                "hostname": "https://docs.example.com/mcp",
                "status": "Ready",
                "on_behalf": True,
            }
        ],
        "portals": [
            {"id": "p", "servers": [{"id": "docs", "updated_tools": [{"name": "t"}]}]},
        ],
    }
    with pytest.raises(ConfigError) as exc:
        Config.from_dict(data)
    found = problems(exc)
    assert '"url"' in found["servers[0].hostname"]
    assert "reported by the gateway" in found["servers[0].status"]
    assert "not supported" in found["servers[0].on_behalf"]
    assert "portal's server entry" in found["servers[0].on_behalf"]
    assert '"server_id"' in found["portals[0].servers[0].id"]
    assert found["portals[0].servers[0].server_id"] == "required key is missing"


_keys = st.sampled_from(
    [
        "servers",
        "portals",
        "settings",
        "id",
        "url",
        "command",
        "server_id",
        "updated_tools",
        "name",
        "enabled",
        "env",
        "args",
        "auth_type",
        "hostname",
        "token",
        "sandbox",
        "x",
    ]
)
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=4))
def test_any_data_gives_a_config_or_a_config_error(data: dict[str, Any]) -> None:
    try:
        Config.from_dict(data)
    except ConfigError as exc:
        assert exc.problems
        assert all(isinstance(p.path, str) and p.message for p in exc.problems)
