"""`codemode check-config`: validation errors name their key and exit 2; a good file exits 0."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import REPO, codemode

DEMO_TOML = REPO / "engine" / "demo" / "portal.toml"


def test_demo_config_file_is_valid() -> None:
    done = codemode("check-config", str(DEMO_TOML))
    assert done.returncode == 0, done.stderr
    assert "OK: 3 servers (time, git, notes)" in done.stdout
    assert "portal demo: 3 servers, localhost only, code mode on" in done.stdout


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
