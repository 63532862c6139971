"""Paths without an activated environment or a sensible working directory: stdio commands
installed beside codemode are found, and the request log never lands in the working
directory (issue 10, items 2 and 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import REPO, RUN_TIMEOUT_S

BARE_PATH = "/usr/bin:/bin"
"""A PATH without the virtual environment: what a client or a service manager passes."""


def run_cli(
    *args: str, cwd: Path | str = REPO, path: str = BARE_PATH
) -> subprocess.CompletedProcess[str]:
    """`python -m engine.cli` by the venv's interpreter, not activated: PATH lacks its bin."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PATH")}
    env["PATH"] = path
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=env,
    )


def time_config(tmp_path: Path, command: str = "mcp-server-time", settings: str = "") -> Path:
    path = tmp_path / "cfg.toml"
    path.write_text(
        f'[[servers]]\nid = "time"\ncommand = "{command}"\n'
        '[[portals]]\nid = "p"\n[[portals.servers]]\nserver_id = "time"\n' + settings,
        encoding="utf-8",
    )
    return path


def test_a_program_installed_beside_codemode_starts_without_activation(tmp_path: Path) -> None:
    assert not (Path("/usr/bin/mcp-server-time").exists() or Path("/bin/mcp-server-time").exists())
    cfg = time_config(tmp_path)
    done = run_cli("status", "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    assert "time: Ready" in done.stderr


def test_a_command_not_found_names_the_path_searched(tmp_path: Path) -> None:
    cfg = time_config(tmp_path, command="mcp-server-tiem")
    done = run_cli("status", "--config", str(cfg))
    assert done.returncode == 3, done.stderr
    scripts = str(Path(sys.executable).parent)
    assert (
        f"cannot start mcp-server-tiem: command not found on PATH={BARE_PATH} "
        f"or in codemode's scripts directory {scripts}"
    ) in done.stdout, done.stdout


def readme_embedding_snippet() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Embedding the engine", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def run_embedding_snippet(tmp_path: Path, command: str) -> subprocess.CompletedProcess[str]:
    """The README's snippet as `.venv/bin/python embed.py`, next to a portal.toml."""
    (tmp_path / "embed.py").write_text(readme_embedding_snippet(), encoding="utf-8")
    time_config(tmp_path, command, '[settings]\nrequest_log_path = ":memory:"\n').rename(
        tmp_path / "portal.toml"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PATH")}
    env.update(PATH=BARE_PATH, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "embed.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=env,
    )


def test_the_readme_embedding_snippet_runs_without_activation(tmp_path: Path) -> None:
    done = run_embedding_snippet(tmp_path, "mcp-server-time")
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"timezone": "UTC"' in done.stdout


def test_the_readme_embedding_snippet_exits_non_zero_when_its_run_fails(tmp_path: Path) -> None:
    done = run_embedding_snippet(tmp_path, "mcp-server-tiem")
    assert done.returncode != 0, done.stdout + done.stderr
    assert "command not found on PATH=/usr/bin:/bin" in done.stdout


def code_portal(folder: Path, settings: str = "") -> Path:
    """A portal without upstream servers (quick to start) and the default request log."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cfg.toml"
    path.write_text('[[portals]]\nid = "solo"\n' + settings, encoding="utf-8")
    return path


def test_the_request_log_lands_beside_the_config_not_in_the_working_dir(tmp_path: Path) -> None:
    cfg = code_portal(tmp_path / "conf")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_cli("run", "--config", str(cfg), "return 6 * 7", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42"
    assert (tmp_path / "conf" / "codemode-logs.sqlite3").is_file()
    assert list(elsewhere.iterdir()) == []


def test_read_only_commands_create_no_files(tmp_path: Path) -> None:
    cfg = code_portal(tmp_path / "conf", '[settings]\nrequest_log_jsonl_path = "r.jsonl"\n')
    for command in ("status", "tools", "check-config"):
        args = (command, str(cfg)) if command == "check-config" else (command, "--config", str(cfg))
        done = run_cli(*args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert sorted(p.name for p in tmp_path.rglob("*")) == ["cfg.toml", "conf"], command


def test_an_unusable_request_log_stops_serve_at_start_naming_path_and_setting(
    tmp_path: Path,
) -> None:
    (tmp_path / "plain").write_text("", encoding="utf-8")
    cfg = time_config(tmp_path, settings='[settings]\nrequest_log_path = "plain/log.sqlite3"\n')
    done = run_cli("serve", "--stdio", "--config", str(cfg), cwd="/")
    assert done.returncode == 2, done.stderr
    target = tmp_path / "plain" / "log.sqlite3"
    assert f"settings.request_log_path: cannot open the request log {target}: " in done.stderr
    assert "time:" not in done.stderr  # no upstream server was started
    assert "Traceback" not in done.stderr
