"""What a config refers to outside itself: stdio commands, the request log's location, and
the environment checks of `check-config` (issue 10, items 2, 4 and 5)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from engine.config import Config, ServerConfig, Settings
from engine.environment import CommandError, resolve_command, scripts_dirs, state_dir

VENV_BIN = str(Path(sys.executable).parent)


def executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_scripts_dirs_include_the_running_interpreters_directory() -> None:
    assert VENV_BIN in scripts_dirs()


def test_a_bare_name_is_found_in_the_scripts_directory_after_path(tmp_path: Path) -> None:
    server = ServerConfig(id="time", command="mcp-server-time")
    found = resolve_command(server, {"PATH": "/usr/bin:/bin"})
    assert found == os.path.join(VENV_BIN, "mcp-server-time")


def test_path_comes_before_the_scripts_directory(tmp_path: Path) -> None:
    mine = executable(tmp_path / "mcp-server-time")
    server = ServerConfig(id="time", command="mcp-server-time")
    assert resolve_command(server, {"PATH": f"{tmp_path}:/usr/bin"}) == str(mine)


def test_the_servers_own_env_path_is_searched(tmp_path: Path) -> None:
    mine = executable(tmp_path / "tool-x")
    server = ServerConfig(id="x", command="tool-x", env={"PATH": str(tmp_path)})
    assert resolve_command(server, {"PATH": "/usr/bin"}) == str(mine)
    via_ref = ServerConfig(id="x", command="tool-x", env={"PATH": "${MY_PATH}"})
    assert resolve_command(via_ref, {"PATH": "/usr/bin", "MY_PATH": str(tmp_path)}) == str(mine)


def test_not_found_says_which_path_was_searched() -> None:
    server = ServerConfig(id="time", command="mcp-server-tiem")
    with pytest.raises(CommandError) as raised:
        resolve_command(server, {"PATH": "/usr/bin:/bin"})
    assert str(raised.value) == (
        "cannot start mcp-server-tiem: command not found on PATH=/usr/bin:/bin "
        f"or in codemode's scripts directory {os.pathsep.join(scripts_dirs())}"
    )
    assert raised.value.key == "command"


def test_paths_are_checked_relative_to_cwd(tmp_path: Path) -> None:
    executable(tmp_path / "run.sh")
    (tmp_path / "plain.txt").write_text("", encoding="utf-8")
    ok = ServerConfig(id="s", command="./run.sh", cwd=str(tmp_path))
    assert resolve_command(ok, {}) == "./run.sh"
    with pytest.raises(CommandError, match=r"command not found \(no file .*/nope\.sh\)"):
        resolve_command(ServerConfig(id="s", command="./nope.sh", cwd=str(tmp_path)), {})
    with pytest.raises(CommandError, match=r"plain\.txt is not an executable file"):
        resolve_command(ServerConfig(id="s", command=str(tmp_path / "plain.txt")), {})
    missing_cwd = ServerConfig(id="s", command="./run.sh", cwd=str(tmp_path / "gone"))
    with pytest.raises(CommandError, match=r"its cwd .*/gone is not a directory") as raised:
        resolve_command(missing_cwd, {})
    assert raised.value.key == "cwd"


def test_the_default_request_log_is_beside_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "portal.toml"
    path.parent.mkdir()
    path.write_text('[[portals]]\nid = "p"\n', encoding="utf-8")
    settings = Config.load(path).settings
    assert settings.request_log_path == str(path.parent / "codemode-logs.sqlite3")
    path.write_text('[settings]\nrequest_log_jsonl_path = "logs/r.jsonl"\n', encoding="utf-8")
    settings = Config.load(path).settings
    assert settings.request_log_path == str(path.parent / "codemode-logs.sqlite3")
    assert settings.request_log_jsonl_path == str(path.parent / "logs" / "r.jsonl")


def test_a_config_without_a_file_keeps_its_request_log_in_the_state_dir() -> None:
    expected = str(state_dir() / "codemode-logs.sqlite3")
    assert Config().settings.request_log_path == expected
    assert Settings().request_log_path == expected
    from_dict = Config.from_dict({"settings": {"request_log_jsonl_path": "r.jsonl"}})
    assert from_dict.settings.request_log_jsonl_path == str(state_dir() / "r.jsonl")
    with_base = Config.from_dict({}, base_dir="/srv/codemode")
    assert with_base.settings.request_log_path == "/srv/codemode/codemode-logs.sqlite3"
    memory = Config.from_dict({"settings": {"request_log_path": ":memory:"}})
    assert memory.settings.request_log_path == ":memory:"


def test_state_dir_follows_xdg() -> None:
    assert state_dir({"XDG_STATE_HOME": "/var/state"}) == Path("/var/state/codemode")
    assert state_dir({"XDG_STATE_HOME": "relative"}) == Path.home() / ".local/state/codemode"
    assert state_dir({}) == Path.home() / ".local/state/codemode"
