"""`codemode check-config`: validation errors name their key and exit 2; a good file exits 0."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import REPO, codemode

DEMO_TOML = REPO / "engine" / "demo" / "portal.toml"


def test_demo_config_file_is_valid() -> None:
    done = codemode("check-config", str(DEMO_TOML))
    assert done.returncode == 0, done.stderr
    assert "OK: 3 servers (time, git, notes)" in done.stdout
    assert "portal demo: 3 servers, localhost only, code mode opt_in" in done.stdout


def test_every_problem_is_printed_with_its_key_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        """
[[servers]]
id = "time"
command = "mcp-server-time"

[[portals]]
id = "p"

[[portals.servers]]
server_id = "time"
[[portals.servers.updated_tools]]
name = "get_current_time"
portal_alias = "has spaces"

[[portals.servers]]
server_id = "nope"
""",
        encoding="utf-8",
    )
    done = codemode("check-config", str(bad))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert any(
        line.startswith(f"{bad}: portals[0].servers[0].updated_tools[0].portal_alias: ")
        for line in lines
    ), lines
    assert any(
        f"{bad}: portals[0].servers[1].server_id: no server with id 'nope'" in line
        for line in lines
    ), lines
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_unreadable_and_malformed_files_exit_2(tmp_path: Path) -> None:
    missing = codemode("check-config", str(tmp_path / "absent.toml"))
    assert missing.returncode == 2
    assert "absent.toml: cannot read: No such file or directory" in missing.stderr

    broken = tmp_path / "broken.toml"
    broken.write_text("[[servers]\nid = 1\n", encoding="utf-8")
    done = codemode("check-config", str(broken))
    assert done.returncode == 2
    assert "invalid TOML" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_config_stops_other_commands_before_connecting(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[servers]]\nid = "x"\n', encoding="utf-8")
    done = codemode("status", "--config", str(bad))
    assert done.returncode == 2
    assert f"{bad}: servers[0]: set exactly one of url (streamable HTTP) or command" in done.stderr
    assert "connecting" not in done.stderr


def test_help_documents_the_exit_codes() -> None:
    done = codemode("--help")
    assert done.returncode == 0
    for text in ("0 success", "1 the run or tool call failed", "2 bad usage", "3 upstream", "130"):
        assert text in done.stdout


def test_bad_usage_exits_2() -> None:
    done = codemode("tools", "--surface", "everything")
    assert done.returncode == 2
    assert "unknown surface 'everything'; choose from all, minimize_tools," in done.stderr


def test_what_is_missing_here_is_a_warning_with_its_key(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        """
[[servers]]
id = "time"
command = "mcp-server-tiem"

[[servers]]
id = "git"
command = "mcp-server-git"
cwd = "repo"

[[servers]]
id = "notes"
command = "mcp-server-time"
env = { NOTES_KEY = "${CODEMODE_TEST_UNSET_KEY}" }

[[servers]]
id = "github"
url = "https://example.com/mcp"
auth_type = "bearer"
bearer_token_env = "CODEMODE_TEST_UNSET_TOKEN"

[[servers]]
id = "docs"
url = "https://example.com/docs/mcp"
auth_type = "bearer"
bearer_token_file = "secrets/docs.token"

[[portals]]
id = "p"
api_keys_file = "keys.txt"

[[portals.servers]]
server_id = "time"

[settings]
request_log_path = "cfg.toml/log.sqlite3"
""",
        encoding="utf-8",
    )
    done = codemode("check-config", str(cfg), env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{cfg}: valid, with 7 warnings: 5 servers (time, git, notes, github, docs)"
    warnings = [line for line in lines if line.startswith("warning: ")]
    prefix = f"warning: {cfg}: "
    expected = {
        "servers[0].command": "cannot start mcp-server-tiem: command not found on "
        "PATH=/usr/bin:/bin",
        "servers[1].cwd": f"cannot start mcp-server-git: its cwd {tmp_path / 'repo'} is not a "
        "directory",
        "servers[2].env.NOTES_KEY": "environment variable CODEMODE_TEST_UNSET_KEY is not set",
        "servers[3].bearer_token_env": "environment variable CODEMODE_TEST_UNSET_TOKEN "
        "(bearer_token_env) is not set",
        "servers[4].bearer_token_file": f"bearer_token_file {tmp_path / 'secrets/docs.token'} "
        "does not exist",
        "portals[0].api_keys_file": f"api_keys_file {tmp_path / 'keys.txt'} cannot be read",
        "settings.request_log_path": f"{cfg}/log.sqlite3 cannot be created: {cfg} is not a "
        "directory",
    }
    assert len(warnings) == len(expected), warnings
    for key, text in expected.items():
        assert any(w.startswith(f"{prefix}{key}: {text}") for w in warnings), (key, warnings)
    assert "servers[2].command" not in done.stdout  # mcp-server-time is found beside codemode
    assert lines[-1].startswith(f"{cfg}: 7 warnings")


def test_a_credential_that_is_there_but_unusable_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "docs.token").write_text("  \n", encoding="utf-8")
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        '[[servers]]\nid = "docs"\nurl = "https://example.com/mcp"\nauth_type = "bearer"\n'
        'bearer_token_file = "docs.token"\n',
        encoding="utf-8",
    )
    done = codemode("check-config", str(cfg))
    assert done.returncode == 2
    token = tmp_path / "docs.token"
    assert f"{cfg}: servers[0].bearer_token_file: bearer_token_file {token} is empty" in (
        done.stderr
    )


def test_help_says_warnings_keep_exit_0() -> None:
    done = codemode("check-config", "--help")
    assert done.returncode == 0
    assert "warnings alone exit 0" in " ".join(done.stdout.split())
